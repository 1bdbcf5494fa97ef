package ripe

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func importFixtures(t *testing.T, dir string, opt Options) *Table {
	t.Helper()
	if opt.Now == nil {
		opt.Now = func() time.Time { return time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC) }
	}
	tb, err := Import(ctx, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// copyDumps copies the fixtures, gzipping inetnum as the real dumps are.
func copyDumps(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("testdata/dumps/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		name := filepath.Base(f)
		if name == "ripe.db.inetnum" {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			name, b = name+".gz", buf.Bytes()
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	return dir
}

func TestImportAndLookup(t *testing.T) {
	tb := importFixtures(t, copyDumps(t), Options{})
	tests := []struct {
		ip, mailbox, rng string
	}{
		{"192.0.2.1", "abuse@isp-one.example", "192.0.2.0 - 192.0.2.255"},
		// No abuse-c of its own: inherits from the covering range.
		{"192.0.2.130", "abuse@isp-one.example", "192.0.2.0 - 192.0.2.255"},
		// Through its organisation; a multi-line abuse-mailbox.
		{"192.0.2.70", `"Abuse Desk" <ABUSE@kaapeli.example>, noc@kaapeli.example`, "192.0.2.64 - 192.0.2.127"},
		{"192.0.2.255", "abuse@isp-one.example", "192.0.2.0 - 192.0.2.255"},
		{"198.51.100.1", "", ""}, // organisation without abuse-c
		{"203.0.113.1", "", ""},  // role without abuse-mailbox
		{"100.64.200.1", "abuse@sahko.example", "100.64.0.0 - 100.64.255.255"},
		{"2001:db8:5::1", `"Abuse Desk" <ABUSE@kaapeli.example>, noc@kaapeli.example`, "2001:db8:5::/48"},
		{"2001:db8:6::1", "abuse@isp-one.example", "2001:db8::/32"},
		{"2001:db9::1", "", ""},
		{"::ffff:192.0.2.1", "abuse@isp-one.example", "192.0.2.0 - 192.0.2.255"},
	}
	for _, tt := range tests {
		m, ok := tb.Lookup(netip.MustParseAddr(tt.ip))
		if ok != (tt.mailbox != "") || m.Contact.Mailbox != tt.mailbox || (ok && m.Range.String() != tt.rng) {
			t.Errorf("Lookup(%s) = %q %q %v; want %q %q", tt.ip, m.Contact.Mailbox, m.Range, ok, tt.mailbox, tt.rng)
		}
	}
	if m, ok := tb.LookupASN(64501); !ok || m.Contact.Role != "AR2-RIPE" {
		t.Errorf("AS64501: %+v %v", m, ok)
	}
	if _, ok := tb.LookupASN(64502); ok {
		t.Error("AS64502 has no abuse contact")
	}
	s := tb.Stats
	if s.Ranges != 8 || s.WithAbuse != 5 || s.Roles != 3 || s.ASNs != 2 || s.Skipped != 1 || s.Objects["role"] != 4 {
		t.Errorf("stats: %+v", s)
	}
}

func TestParseLatin1AndContinuations(t *testing.T) {
	f, _ := os.Open("testdata/dumps/ripe.db.role")
	defer f.Close()
	var names, boxes []string
	err := Parse(ctx, f, func(o *Object) error {
		names = append(names, o.Key())
		boxes = append(boxes, o.Get("abuse-mailbox"))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 4 || names[3] != "Sähkö Oy abuse" {
		t.Errorf("names: %q", names)
	}
	if boxes[1] != `"Abuse Desk" <ABUSE@kaapeli.example>, noc@kaapeli.example` {
		t.Errorf("continued value: %q", boxes[1])
	}
	var bad []string
	Parse(ctx, strings.NewReader("  leading continuation\nrole: x\n\nnot an attribute\nrole: y\n\nrole: z\n"), func(o *Object) error {
		names = append(names[:0], o.Key())
		return nil
	}, func(line int, reason string) { bad = append(bad, reason) })
	if len(bad) != 2 || names[0] != "z" {
		t.Errorf("broken objects: %q, last %q", bad, names)
	}
}

func TestSaveLoadDiff(t *testing.T) {
	dir := copyDumps(t)
	old := importFixtures(t, dir, Options{})
	snap := filepath.Join(t.TempDir(), "ripe.bin")
	if err := old.Save(snap); err != nil {
		t.Fatal(err)
	}
	back, err := Load(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"192.0.2.130", "192.0.2.70", "2001:db8:5::1", "198.51.100.1"} {
		a, aok := old.Lookup(netip.MustParseAddr(ip))
		b, bok := back.Lookup(netip.MustParseAddr(ip))
		if a != b || aok != bok {
			t.Errorf("%s: before save %+v, after load %+v", ip, a, b)
		}
	}
	if !back.Imported.Equal(old.Imported) || len(back.ASNs) != 2 {
		t.Errorf("loaded: %s", back.Summary())
	}
	// A changed dump: one range removed, one added, one mailbox changed.
	inet := `inetnum:        192.0.2.0 - 192.0.2.255
abuse-c:        AR3-RIPE

inetnum:        192.0.2.64 - 192.0.2.127
org:            ORG-KO1-RIPE

inetnum:        198.51.100.0 - 198.51.100.255
org:            ORG-NA1-RIPE

inetnum:        203.0.113.0 - 203.0.113.255
abuse-c:        NM1-RIPE

inetnum:        100.64.0.0 - 100.64.255.255
abuse-c:        AR3-RIPE

inetnum:        100.65.0.0 - 100.65.0.255
abuse-c:        AR1-RIPE
`
	os.Remove(filepath.Join(dir, "ripe.db.inetnum.gz"))
	os.WriteFile(filepath.Join(dir, "ripe.db.inetnum"), []byte(inet), 0o644)
	d := importFixtures(t, dir, Options{}).DiffFrom(back)
	if d != (Diff{Added: 1, Removed: 1, Changed: 1, Same: 6}) {
		t.Errorf("diff: %+v", d)
	}
	// A truncated snapshot is an error naming the file.
	b, _ := os.ReadFile(snap)
	os.WriteFile(snap, b[:len(b)/2], 0o644)
	if _, err := Load(snap); err == nil || !strings.Contains(err.Error(), snap) {
		t.Errorf("truncated: %v", err)
	}
}

func TestKeepFilter(t *testing.T) {
	cons := netip.MustParsePrefix("192.0.2.0/25")
	tb := importFixtures(t, copyDumps(t), Options{Keep: func(lo, hi netip.Addr) bool {
		return cons.Contains(lo) || cons.Contains(hi) || (lo.Less(cons.Addr()) && cons.Addr().Less(hi))
	}})
	if tb.Stats.Ranges != 2 || tb.Stats.Outside != 6 {
		t.Errorf("kept %d, outside %d", tb.Stats.Ranges, tb.Stats.Outside)
	}
	if m, ok := tb.Lookup(netip.MustParseAddr("192.0.2.70")); !ok || m.Contact.Role != "AR2-RIPE" {
		t.Errorf("kept range: %+v", m)
	}
}

// The flattened table answers like a brute-force search for the most
// specific range with a contact, on random nested ranges.
func TestFlattenModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 300; round++ {
		var ranges []Range
		var build func(lo, hi uint64, depth int)
		build = func(lo, hi uint64, depth int) {
			c := int32(r.IntN(4)) - 1 // -1: no contact
			ranges = append(ranges, Range{Lo: u128{0, lo}, Hi: u128{0, hi}, Contact: c})
			if depth == 3 || hi-lo < 4 {
				return
			}
			pos := lo
			for k := r.IntN(4); k > 0 && pos < hi; k-- {
				a := pos + uint64(r.IntN(int(hi-pos)+1))
				b := a + uint64(r.IntN(int(hi-a)+1))
				build(a, b, depth+1)
				pos = b + 1
			}
		}
		build(0, 200, 0)
		tb := &Table{Contacts: []Contact{{Mailbox: "a"}, {Mailbox: "b"}, {Mailbox: "c"}}, Ranges: ranges}
		sortRanges(tb.Ranges)
		tb.flatten()
		for x := uint64(0); x <= 201; x++ {
			want := -1
			for i, rg := range tb.Ranges {
				if rg.Contact >= 0 && rg.Lo.Lo <= x && x <= rg.Hi.Lo {
					if want < 0 || rg.Hi.Lo-rg.Lo.Lo <= tb.Ranges[want].Hi.Lo-tb.Ranges[want].Lo.Lo {
						want = i
					}
				}
			}
			m, ok := tb.Lookup(u128{0, x}.addr())
			if ok != (want >= 0) || (ok && m.Range != tb.Ranges[want]) {
				t.Fatalf("round %d, address %d: got %+v %v, want %v", round, x, m.Range, ok, want)
			}
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	tb := &Table{Contacts: []Contact{{Mailbox: "a"}}}
	for i := 0; i < 1_000_000; i++ {
		lo := uint64(0xffff_0000_0000) | uint64(i)<<8
		tb.Ranges = append(tb.Ranges, Range{Lo: u128{0, lo}, Hi: u128{0, lo + 255}, Contact: 0})
	}
	sortRanges(tb.Ranges)
	tb.flatten()
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = u128{0, uint64(0xffff_0000_0000) | uint64(r.IntN(1_000_000<<8))}.addr()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := tb.Lookup(addrs[i&4095]); !ok {
			b.Fatal("miss")
		}
	}
}

// Progress counts the bytes of the dump files as stored (one of them
// gzipped), never goes back, and ends at their total size.
func TestImportProgress(t *testing.T) {
	dir := copyDumps(t)
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "ripe.db.*"))
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += info.Size()
	}
	var calls int
	var last, lastTotal int64
	importFixtures(t, dir, Options{Progress: func(done, of int64) {
		calls++
		if done < last || of != total || done > of {
			t.Errorf("progress %d of %d after %d; the files hold %d bytes", done, of, last, total)
		}
		last, lastTotal = done, of
	}})
	if calls == 0 || last != total || lastTotal != total {
		t.Errorf("%d calls, last %d of %d; want the end at %d", calls, last, lastTotal, total)
	}
}
