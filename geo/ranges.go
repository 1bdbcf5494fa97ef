package geo

import (
	"net/netip"
	"slices"
)

// u128 is an address in the 16-byte space; IPv4 lives at ::ffff:0:0/96 so one
// table holds both families and a lookup is one comparison chain.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func (a u128) prev() (u128, bool) {
	if a.lo == 0 {
		if a.hi == 0 {
			return a, false
		}
		return u128{a.hi - 1, ^uint64(0)}, true
	}
	return u128{a.hi, a.lo - 1}, true
}

func fromAddr(a netip.Addr) u128 {
	b := a.As16() // maps IPv4 to ::ffff:a.b.c.d
	return u128{
		hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// span is an inclusive address range.
type span struct{ lo, hi u128 }

func prefixSpan(p netip.Prefix) span {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	lo := fromAddr(p.Addr())
	hi := lo
	host := 128 - bits
	switch {
	case host >= 64:
		hi.lo = ^uint64(0)
		if host > 64 {
			hi.hi |= (uint64(1) << (host - 64)) - 1
		}
		if host == 128 {
			hi.hi = ^uint64(0)
		}
	case host > 0:
		hi.lo |= (uint64(1) << host) - 1
	}
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
	return i < len(s.spans) && !x.less(s.spans[i].lo)
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
	return i < len(s.spans) && !h.less(s.spans[i].lo)
}

// firstEndingFrom is the index of the first span whose hi >= x, or Len().
func (s *RangeSet) firstEndingFrom(x u128) int {
	sp := s.spans
	lo, hi := 0, len(sp)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sp[m].hi.less(x) {
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
		if a.lo.less(b.lo) {
			return -1
		}
		return 1
	})
	out := []span{in[0]}
	for _, s := range in[1:] {
		last := &out[len(out)-1]
		n, ok := last.hi.next()
		if !ok || !n.less(s.lo) { // overlapping or adjacent
			if last.hi.less(s.hi) {
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
		for j < len(rem) && rem[j].hi.less(cur.lo) {
			j++
		}
		for k := j; k < len(rem) && !cur.hi.less(rem[k].lo); k++ {
			r := rem[k]
			if cur.lo.less(r.lo) {
				p, _ := r.lo.prev()
				out = append(out, span{cur.lo, p})
			}
			if r.hi.less(cur.hi) {
				n, _ := r.hi.next()
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
