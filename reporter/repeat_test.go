package reporter

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func TestDedupKey(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	base := DedupKey("infected-system", "mirai", ip, 23)
	same := []struct {
		name string
		key  string
	}{
		{"identical", DedupKey("infected-system", "mirai", ip, 23)},
		{"identifier case", DedupKey("infected-system", "Mirai", ip, 23)},
		{"v4-mapped address", DedupKey("infected-system", "mirai", netip.MustParseAddr("::ffff:192.0.2.1"), 23)},
	}
	for _, tt := range same {
		if tt.key != base {
			t.Errorf("%s: key differs", tt.name)
		}
	}
	differ := []struct {
		name string
		key  string
	}{
		{"classification", DedupKey("vulnerable-system", "mirai", ip, 23)},
		{"identifier", DedupKey("infected-system", "andromeda", ip, 23)},
		{"ip", DedupKey("infected-system", "mirai", netip.MustParseAddr("192.0.2.2"), 23)},
		{"port", DedupKey("infected-system", "mirai", ip, 2323)},
		// Without length prefixes these two would concatenate alike.
		{"field boundary", DedupKey("infected-systemm", "irai", ip, 23)},
	}
	for _, tt := range differ {
		if tt.key == base {
			t.Errorf("%s: key does not change", tt.name)
		}
	}
	if len(base) != 32 {
		t.Errorf("key length %d", len(base))
	}
}

func TestRepeat(t *testing.T) {
	tests := []struct {
		name   string
		last   time.Time
		window time.Duration
		want   Reason
	}{
		{"never reported", time.Time{}, 24 * time.Hour, Send},
		{"reported an hour ago", t0.Add(-time.Hour), 24 * time.Hour, RepeatWindow},
		{"reported just inside", t0.Add(-24*time.Hour + time.Second), 24 * time.Hour, RepeatWindow},
		{"reported exactly a window ago", t0.Add(-24 * time.Hour), 24 * time.Hour, Send},
		{"reported long ago", t0.Add(-72 * time.Hour), 24 * time.Hour, Send},
		{"no window", t0.Add(-time.Minute), 0, Send},
		{"week window", t0.Add(-6 * 24 * time.Hour), 7 * 24 * time.Hour, RepeatWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Repeat(tt.last, tt.window, t0); got != tt.want {
				t.Errorf("Repeat = %v, want %v", got, tt.want)
			}
		})
	}
}

func ev(id int64, ip string, port int, contact string, age time.Duration) Event {
	e := Event{ID: id, Time: t0.Add(-age), Feed: "ss", Classification: VulnerableSystem, Identifier: "rdp",
		IP: netip.MustParseAddr(ip), Port: port}
	if contact != "" {
		e.Contact = Contact{To: []string{contact}}
	}
	return e
}

func TestPlan(t *testing.T) {
	events := []Event{
		ev(1, "192.0.2.1", 3389, "a@isp.example", 2*time.Hour),
		ev(2, "192.0.2.1", 3389, "a@isp.example", time.Hour), // same key, newer: this one is sent
		ev(3, "192.0.2.2", 3389, "a@isp.example", time.Hour), // told 1 h ago: held back
		ev(4, "192.0.2.3", 3389, "a@isp.example", time.Hour), // told 30 h ago: sent again
		ev(5, "198.51.100.1", 3389, "b@isp.example", time.Hour),
		ev(6, "198.51.100.1", 3389, "", time.Hour), // no contact
		ev(7, "203.0.113.1", 3389, "c@isp.example", time.Hour),
	}
	// The owner opted out: kept, not sent, even with an address.
	events[6].Contact.Inhibit = "inhibited by override asn 64500"
	told := map[string]time.Time{
		"a@isp.example|" + events[2].Key(): t0.Add(-time.Hour),
		"a@isp.example|" + events[3].Key(): t0.Add(-30 * time.Hour),
		// Told to another contact: does not hold back b's report.
		"c@isp.example|" + events[4].Key(): t0.Add(-time.Hour),
	}
	last := func(ck, k string) time.Time { return told[ck+"|"+k] }
	window := func(string) time.Duration { return 24 * time.Hour }
	batches, skipped := Plan(events, last, window, t0)

	if len(batches) != 2 {
		t.Fatalf("want 2 batches, got %d", len(batches))
	}
	ids := func(ev []Event) []int64 {
		var out []int64
		for _, e := range ev {
			out = append(out, e.ID)
		}
		return out
	}
	if got := batches[0].Contact.Key(); got != "a@isp.example" {
		t.Errorf("batch 0 is for %s", got)
	}
	if got := ids(batches[0].Events); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("batch a events = %v, want [2 4]", got)
	}
	if got := ids(batches[1].Events); len(got) != 1 || got[0] != 5 {
		t.Errorf("batch b events = %v, want [5]", got)
	}
	reasons := map[int64]Reason{}
	for _, d := range skipped {
		reasons[d.Event.ID] = d.Reason
	}
	want := map[int64]Reason{1: DuplicateInRun, 3: RepeatWindow, 6: Unroutable, 7: Inhibited}
	if len(reasons) != len(want) {
		t.Errorf("skipped = %v, want %v", reasons, want)
	}
	for id, r := range want {
		if reasons[id] != r {
			t.Errorf("event %d: reason %v, want %v", id, reasons[id], r)
		}
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range []Reason{Send, RepeatWindow, DuplicateInRun, Unroutable, Inhibited} {
		s := r.String()
		if s == "unknown" || seen[s] {
			t.Errorf("reason %d has string %q", r, s)
		}
		seen[s] = true
	}
}
