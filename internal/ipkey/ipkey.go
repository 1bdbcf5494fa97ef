// Package ipkey orders IP addresses of both families in one space, for the
// sorted range tables that answer "which range holds this address" with a
// binary search and no allocation (the constituency, the watchlists).
package ipkey

import "net/netip"

// Key is an address in the 16-byte space: IPv4 lives at ::ffff:0:0/96, so
// one table holds both families and a lookup is one comparison chain.
type Key struct{ Hi, Lo uint64 }

// Of is a's key.
func Of(a netip.Addr) Key {
	b := a.As16() // maps IPv4 to ::ffff:a.b.c.d
	return Key{
		Hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		Lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// Less orders keys.
func (a Key) Less(b Key) bool { return a.Hi < b.Hi || (a.Hi == b.Hi && a.Lo < b.Lo) }

// Next is the key after a; false at the top of the space.
func (a Key) Next() (Key, bool) {
	if a.Lo == ^uint64(0) {
		if a.Hi == ^uint64(0) {
			return a, false
		}
		return Key{a.Hi + 1, 0}, true
	}
	return Key{a.Hi, a.Lo + 1}, true
}

// Prev is the key before a; false at the bottom of the space.
func (a Key) Prev() (Key, bool) {
	if a.Lo == 0 {
		if a.Hi == 0 {
			return a, false
		}
		return Key{a.Hi - 1, ^uint64(0)}, true
	}
	return Key{a.Hi, a.Lo - 1}, true
}

// Span is the first and last key of p (its host bits ignored).
func Span(p netip.Prefix) (lo, hi Key) {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	lo = Of(p.Addr())
	hi = lo
	switch host := 128 - bits; {
	case host == 128:
		hi = Key{^uint64(0), ^uint64(0)}
	case host >= 64:
		hi.Lo = ^uint64(0)
		hi.Hi |= (uint64(1) << (host - 64)) - 1
	case host > 0:
		hi.Lo |= (uint64(1) << host) - 1
	}
	return lo, hi
}
