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

func TestDecide(t *testing.T) {
	isp := Contact{To: []string{"abuse@isp.example"}, Rule: "asn 64500"}
	day := Policy{Repeat: 24 * time.Hour, MaxAge: 72 * time.Hour}
	fresh := Event{Time: t0.Add(-time.Hour)}
	tests := []struct {
		name string
		e    Event
		c    Contact
		last time.Time
		p    Policy
		want Reason
	}{
		{"new to the contact", fresh, isp, time.Time{}, day, Send},
		{"told an hour ago", fresh, isp, t0.Add(-time.Hour), day, RepeatWindow},
		{"told 30 hours ago", fresh, isp, t0.Add(-30 * time.Hour), day, Send},
		{"unknown report type waits", Event{Time: t0, Unclassified: true}, isp, time.Time{}, day, Unclassified},
		{"unknown type waits even when stale", Event{Time: t0.Add(-1000 * time.Hour), Unclassified: true}, isp, time.Time{}, day, Unclassified},
		{"older than max_age", Event{Time: t0.Add(-73 * time.Hour)}, isp, time.Time{}, day, TooOld},
		{"max_age off keeps years-old rows", Event{Time: t0.Add(-3 * 365 * 24 * time.Hour)}, isp, time.Time{}, Policy{Repeat: time.Hour}, Send},
		{"stale events do not wait for RDAP", Event{Time: t0.Add(-100 * time.Hour)}, Contact{Pending: true}, time.Time{}, day, TooOld},
		{"contact pending", fresh, Contact{Pending: true, Source: "rdap pending"}, time.Time{}, day, WaitingContact},
		{"inhibited owner", fresh, Contact{To: isp.To, Inhibit: "inhibited by override asn 64500"}, time.Time{}, day, Inhibited},
		{"inhibit without addresses", fresh, Contact{Inhibit: "opt-out"}, time.Time{}, day, Inhibited},
		{"no address", fresh, Contact{Source: "nowhere"}, time.Time{}, day, Unroutable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(&tt.e, tt.c, tt.last, tt.p, t0); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLastTold(t *testing.T) {
	told := []Told{
		{Rule: "asn 64500", Contact: "abuse@isp.example", At: t0.Add(-5 * time.Hour)},
		{Rule: "cidr 192.0.2.0/24", Contact: "noc@other.example", At: t0.Add(-2 * time.Hour)},
		{Rule: "", Contact: "old@isp.example", At: t0.Add(-1 * time.Hour)}, // a report from before rules were kept
	}
	tests := []struct {
		name string
		c    Contact
		want time.Time
	}{
		{"same rule, same addresses", Contact{To: []string{"abuse@isp.example"}, Rule: "asn 64500"}, t0.Add(-5 * time.Hour)},
		{"same rule, address corrected since", Contact{To: []string{"abuse@isp.example.fixed"}, Rule: "asn 64500"}, t0.Add(-5 * time.Hour)},
		{"another rule, same addresses", Contact{To: []string{"noc@other.example"}, Rule: "ripe inetnum x"}, t0.Add(-2 * time.Hour)},
		{"old report matched by addresses", Contact{To: []string{"old@isp.example"}, Rule: "asn 1"}, t0.Add(-1 * time.Hour)},
		{"never told", Contact{To: []string{"new@isp.example"}, Rule: "asn 64999"}, time.Time{}},
		{"no rule, no addresses", Contact{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LastTold(told, tt.c); !got.Equal(tt.want) {
				t.Errorf("LastTold = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOlder(t *testing.T) {
	for newest, want := range map[Reason]Reason{
		Send: DuplicateInRun, RepeatWindow: DuplicateInRun, TooOld: TooOld,
		WaitingContact: WaitingContact, Inhibited: Inhibited, Unroutable: Unroutable, Unclassified: Unclassified,
	} {
		if got := Older(newest); got != want {
			t.Errorf("Older(%v) = %v, want %v", newest, got, want)
		}
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range []Reason{Send, RepeatWindow, DuplicateInRun, Unroutable, Inhibited, TooOld, WaitingContact, Unclassified} {
		s := r.String()
		if s == "unknown" || seen[s] {
			t.Errorf("reason %d has string %q", r, s)
		}
		seen[s] = true
		if back, ok := ParseReason(s); !ok || back != r {
			t.Errorf("ParseReason(%q) = %v, %v", s, back, ok)
		}
	}
	if !WaitingContact.Held() || !Unclassified.Held() || Send.Held() || TooOld.Held() {
		t.Error("Held is wrong")
	}
}
