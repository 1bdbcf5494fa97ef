package geo

import (
	"net/netip"
	"slices"

	"github.com/autoreporter/autoreporter/internal/ipkey"
)

// u128 orders addresses of both families in one space (ipkey.Key).
type u128 = ipkey.Key

func fromAddr(a netip.Addr) u128 { return ipkey.Of(a) }

// span is an inclusive address range.
type span struct{ lo, hi u128 }

func prefixSpan(p netip.Prefix) span {
	lo, hi := ipkey.Span(p)
	return span{lo, hi}
}

// RangeSet is an immutable set of addresses kept as sorted, disjoint,
// non-adjacent ranges, so that Contains is a binary search with no allocation.
type RangeSet struct{ spans []span }

// Len is the number of disjoint ranges in the set.
func (s *RangeSet) Len() int { return len(s.spans) }

// Contains reports whether a is in the set.
func (s *RangeSet) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	x := fromAddr(a.Unmap())
	i := s.firstEndingFrom(x)
	return i < len(s.spans) && !x.Less(s.spans[i].lo)
}

// Overlaps reports whether any address from lo to hi (inclusive) is in the
// set.
func (s *RangeSet) Overlaps(lo, hi netip.Addr) bool {
	if !lo.IsValid() || !hi.IsValid() {
		return false
	}
	l, h := fromAddr(lo.Unmap()), fromAddr(hi.Unmap())
	// The first span ending at or after lo must start at or before hi.
	i := s.firstEndingFrom(l)
	return i < len(s.spans) && !h.Less(s.spans[i].lo)
}

// firstEndingFrom is the index of the first span whose hi >= x, or Len().
func (s *RangeSet) firstEndingFrom(x u128) int {
	sp := s.spans
	lo, hi := 0, len(sp)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sp[m].hi.Less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// rangeBuilder collects prefixes to add and remove, then compiles them once.
type rangeBuilder struct {
	add, remove []span
}

func (b *rangeBuilder) Add(p netip.Prefix)    { b.add = append(b.add, prefixSpan(p)) }
func (b *rangeBuilder) Remove(p netip.Prefix) { b.remove = append(b.remove, prefixSpan(p)) }

func merge(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	slices.SortFunc(in, func(a, b span) int {
		if a.lo == b.lo {
			return 0
		}
		if a.lo.Less(b.lo) {
			return -1
		}
		return 1
	})
	out := []span{in[0]}
	for _, s := range in[1:] {
		last := &out[len(out)-1]
		n, ok := last.hi.Next()
		if !ok || !n.Less(s.lo) { // overlapping or adjacent
			if last.hi.Less(s.hi) {
				last.hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// Build compiles the added ranges minus the removed ones.
func (b *rangeBuilder) Build() *RangeSet {
	add := merge(b.add)
	rem := merge(b.remove)
	var out []span
	j := 0
	for _, s := range add {
		cur := s
		keep := true
		for j < len(rem) && rem[j].hi.Less(cur.lo) {
			j++
		}
		for k := j; k < len(rem) && !cur.hi.Less(rem[k].lo); k++ {
			r := rem[k]
			if cur.lo.Less(r.lo) {
				p, _ := r.lo.Prev()
				out = append(out, span{cur.lo, p})
			}
			if r.hi.Less(cur.hi) {
				n, _ := r.hi.Next()
				cur.lo = n
			} else {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, cur)
		}
	}
	return &RangeSet{spans: out}
}
