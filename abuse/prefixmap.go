package abuse

import (
	"net/netip"
	"slices"
)

// prefixMap finds the prefixes holding an address, most specific first,
// with one map probe per prefix length in use, whatever the number of
// prefixes.
type prefixMap[V any] struct {
	m            map[netip.Prefix]V
	lens4, lens6 []int // longest first
}

func (pm *prefixMap[V]) get(p netip.Prefix) (V, bool) {
	v, ok := pm.m[p]
	return v, ok
}

func (pm *prefixMap[V]) set(p netip.Prefix, v V) {
	if pm.m == nil {
		pm.m = map[netip.Prefix]V{}
	}
	pm.m[p] = v
	lens := &pm.lens4
	if p.Addr().Is6() {
		lens = &pm.lens6
	}
	if !slices.Contains(*lens, p.Bits()) {
		*lens = append(*lens, p.Bits())
		slices.SortFunc(*lens, func(a, b int) int { return b - a })
	}
}

// each calls fn with the value of every prefix holding ip, most specific
// first, until fn returns true.
func (pm *prefixMap[V]) each(ip netip.Addr, fn func(V) bool) {
	ip = ip.Unmap()
	lens := pm.lens4
	if ip.Is6() {
		lens = pm.lens6
	}
	for _, bits := range lens {
		p, err := ip.Prefix(bits)
		if err != nil {
			continue
		}
		if v, ok := pm.m[p]; ok && fn(v) {
			return
		}
	}
}
