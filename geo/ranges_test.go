package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func randPrefix(r *rand.Rand) netip.Prefix {
	// A small IPv4 corner so that prefixes overlap often.
	a := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(256))})
	return netip.PrefixFrom(a, 20+r.IntN(13)).Masked()
}

// TestRangeSetModel compares the compiled table with the obvious slow
// answer on random adds and removes.
func TestRangeSetModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var b rangeBuilder
		var add, rem []netip.Prefix
		for i := 0; i < 1+r.IntN(8); i++ {
			p := randPrefix(r)
			add = append(add, p)
			b.Add(p)
		}
		for i := 0; i < r.IntN(5); i++ {
			p := randPrefix(r)
			rem = append(rem, p)
			b.Remove(p)
		}
		set := b.Build()
		for i := 0; i < 300; i++ {
			a := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(5)), byte(r.IntN(256))})
			want := false
			for _, p := range add {
				want = want || p.Contains(a)
			}
			for _, p := range rem {
				if p.Contains(a) {
					want = false
				}
			}
			if got := set.Contains(a); got != want {
				t.Fatalf("round %d: Contains(%s) = %v, want %v (add %v, remove %v)", round, a, got, want, add, rem)
			}
		}
		// Overlaps agrees with testing every address of a small range.
		for i := 0; i < 50; i++ {
			lo := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(5)), byte(r.IntN(256))})
			hi := lo
			for k := r.IntN(40); k > 0 && hi.Next().As4()[2] < 5; k-- {
				hi = hi.Next()
			}
			want := false
			for a := lo; ; a = a.Next() {
				want = want || set.Contains(a)
				if a == hi {
					break
				}
			}
			if got := set.Overlaps(lo, hi); got != want {
				t.Fatalf("round %d: Overlaps(%s, %s) = %v, want %v", round, lo, hi, got, want)
			}
		}
		// Disjoint, sorted, not adjacent.
		for i := 1; i < len(set.spans); i++ {
			n, _ := set.spans[i-1].hi.Next()
			if !n.Less(set.spans[i].lo) {
				t.Fatalf("spans %d and %d touch or overlap", i-1, i)
			}
		}
	}
}

func TestRangeSetEdges(t *testing.T) {
	var b rangeBuilder
	b.Add(netip.MustParsePrefix("::/0"))
	b.Remove(netip.MustParsePrefix("0.0.0.0/0"))
	s := b.Build()
	for ip, want := range map[string]bool{"::": true, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": true, "1.2.3.4": false, "::fffe:ffff:ffff": true, "::1:0:0:0": true} {
		if got := s.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
		}
	}
	if (&RangeSet{}).Contains(netip.Addr{}) {
		t.Error("the zero address is in an empty set")
	}
}

// BenchmarkContains measures the per-row constituency test on a table the
// size of a national CERT's (a few thousand ranges).
func BenchmarkContains(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var rb rangeBuilder
	for i := 0; i < 5000; i++ {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
		rb.Add(netip.PrefixFrom(a, 16+r.IntN(9)).Masked())
	}
	set := rb.Build()
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if set.Contains(addrs[i&4095]) {
			n++
		}
	}
	_ = n
}
