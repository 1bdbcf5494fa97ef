package flow

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/autoreporter/autoreporter/internal/ipkey"
	"github.com/autoreporter/autoreporter/reporter"
)

// Entry is one watched indicator, as a matched flow's aggregate names it.
type Entry struct {
	Feed       string // the watched feed that lists it
	Indicator  string // "203.0.113.5", "203.0.113.5:443", "198.18.0.0/15"
	Identifier string // the malware family
}

// u128 orders addresses of both families in one space (ipkey.Key).
type u128 = ipkey.Key

func key(a netip.Addr) u128 { return ipkey.Of(a) }

func span(p netip.Prefix) (lo, hi u128) { return ipkey.Span(p) }

type portEntry struct {
	port  uint16
	entry int32
}

// wrange is a run of addresses that the same entries cover: any is the
// most specific entry for every port (-1: none), ports the entries for one
// port, sorted.
type wrange struct {
	lo, hi u128
	any    int32
	ports  []portEntry
}

// Table is the compiled watchlist: sorted, disjoint address ranges, so
// that the question asked of every flow, twice, is a binary search with no
// allocation. It never changes; a new list makes a new table, swapped in
// atomically as the .mmdb snapshot is.
type Table struct {
	ranges  []wrange
	entries []Entry
	// v16 has a bit for each IPv4 /16 that some entry touches: nearly
	// every flow misses the watchlist, and one bit in 8 KiB (it stays in
	// the L1 cache) tells most of them so without the binary search.
	v16 [1 << 16 / 64]uint64
}

// node is one watched prefix and its entries, while compiling.
type node struct {
	lo, hi u128
	bits   int
	any    int32
	ports  map[uint16]int32
}

// Compile builds the table of the lists. An indicator listed twice (by
// two feeds, or twice by one) keeps its first listing: the lists' order is
// the config's watch order.
func Compile(lists []reporter.Watchlist) *Table {
	t := &Table{}
	byNet := map[netip.Prefix]*node{}
	var nodes []*node
	for _, l := range lists {
		for _, e := range l.Entries {
			if !e.Net.IsValid() || e.Port < 0 || e.Port > 65535 {
				continue
			}
			p := e.Net.Masked()
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0)).Masked()
			}
			n := byNet[p]
			if n == nil && p.Addr().Is4() {
				a := p.Addr().As4()
				first := int(a[0])<<8 | int(a[1])
				last := first
				if p.Bits() < 16 {
					last = first | (1<<(16-p.Bits()) - 1)
				}
				for i := first; i <= last; i++ {
					t.v16[i>>6] |= 1 << (i & 63)
				}
			}
			if n == nil {
				lo, hi := span(p)
				bits := p.Bits()
				if p.Addr().Is4() {
					bits += 96
				}
				n = &node{lo: lo, hi: hi, bits: bits, any: -1}
				byNet[p] = n
				nodes = append(nodes, n)
			}
			ind := p.String()
			if p.IsSingleIP() {
				ind = p.Addr().String()
			}
			if e.Port == 0 {
				if n.any >= 0 {
					continue
				}
				n.any = int32(len(t.entries))
			} else {
				if _, dup := n.ports[uint16(e.Port)]; dup {
					continue
				}
				if n.ports == nil {
					n.ports = map[uint16]int32{}
				}
				if p.IsSingleIP() {
					ind = netip.AddrPortFrom(p.Addr(), uint16(e.Port)).String()
				} else {
					ind += " port " + strconv.Itoa(e.Port)
				}
				n.ports[uint16(e.Port)] = int32(len(t.entries))
			}
			t.entries = append(t.entries, Entry{Feed: l.Feed, Indicator: ind, Identifier: e.Identifier})
		}
	}
	// Prefixes nest or are disjoint. Outer before inner at one start, then
	// a sweep with the open prefixes on a stack cuts the space into runs,
	// each answered by the stack as it stands.
	slices.SortFunc(nodes, func(a, b *node) int {
		switch {
		case a.lo.Less(b.lo):
			return -1
		case b.lo.Less(a.lo):
			return 1
		}
		return a.bits - b.bits
	})
	var stack []*node
	var cur u128
	emit := func(hi u128) {
		if hi.Less(cur) {
			return
		}
		r := wrange{lo: cur, hi: hi, any: -1}
		for _, n := range stack { // outer to inner: inner entries win
			if n.any >= 0 {
				r.any = n.any
			}
			for port, e := range n.ports {
				i, found := slices.BinarySearchFunc(r.ports, port, func(p portEntry, port uint16) int { return int(p.port) - int(port) })
				if found {
					r.ports[i].entry = e
				} else {
					r.ports = slices.Insert(r.ports, i, portEntry{port, e})
				}
			}
		}
		t.ranges = append(t.ranges, r)
	}
	// pop closes the innermost open prefix; false when it ended the space.
	pop := func() bool {
		top := stack[len(stack)-1]
		emit(top.hi)
		stack = stack[:len(stack)-1]
		n, ok := top.hi.Next()
		cur = n
		return ok
	}
	for _, n := range nodes {
		for len(stack) > 0 && stack[len(stack)-1].hi.Less(n.lo) {
			if !pop() {
				break
			}
		}
		if len(stack) > 0 && cur.Less(n.lo) {
			prev, _ := n.lo.Prev() // n.lo is above cur, so not the bottom
			emit(prev)
		}
		cur = n.lo
		stack = append(stack, n)
	}
	for len(stack) > 0 {
		if !pop() {
			break
		}
	}
	return t
}

// Len is the number of watched indicators.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Lookup returns the entry that watches the address and port, if any.
func (t *Table) Lookup(a netip.Addr, port uint16) (*Entry, bool) {
	if t == nil || len(t.ranges) == 0 {
		return nil, false
	}
	if a.Is4() {
		b := a.As4()
		i := int(b[0])<<8 | int(b[1])
		if t.v16[i>>6]&(1<<(i&63)) == 0 {
			return nil, false
		}
	}
	x := key(a)
	r := t.ranges
	lo, hi := 0, len(r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r[m].hi.Less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(r) || x.Less(r[lo].lo) {
		return nil, false
	}
	w := &r[lo]
	for _, p := range w.ports { // few: the ports one address is listed with
		if p.port == port {
			return &t.entries[p.entry], true
		}
	}
	if w.any >= 0 {
		return &t.entries[w.any], true
	}
	return nil, false
}
