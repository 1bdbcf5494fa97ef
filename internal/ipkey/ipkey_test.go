package ipkey

import (
	"net/netip"
	"testing"
)

func TestSpanAndOrder(t *testing.T) {
	for _, tt := range []struct{ prefix, first, last string }{
		{"192.0.2.0/24", "192.0.2.0", "192.0.2.255"},
		{"192.0.2.7/24", "192.0.2.0", "192.0.2.255"},
		{"10.0.0.1/32", "10.0.0.1", "10.0.0.1"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		lo, hi := Span(netip.MustParsePrefix(tt.prefix))
		if lo != Of(netip.MustParseAddr(tt.first)) || hi != Of(netip.MustParseAddr(tt.last)) {
			t.Errorf("%s: %v-%v, want %s-%s", tt.prefix, lo, hi, tt.first, tt.last)
		}
	}
	a, b := Of(netip.MustParseAddr("10.0.0.255")), Of(netip.MustParseAddr("10.0.1.0"))
	if n, ok := a.Next(); !ok || n != b || !a.Less(b) || b.Less(a) {
		t.Errorf("next of %v: %v", a, n)
	}
	if p, ok := b.Prev(); !ok || p != a {
		t.Errorf("prev of %v: %v", b, p)
	}
	if _, ok := (Key{}).Prev(); ok {
		t.Error("a key below the bottom")
	}
	if _, ok := (Key{^uint64(0), ^uint64(0)}).Next(); ok {
		t.Error("a key above the top")
	}
	// IPv4 sorts below IPv6 outside ::ffff:0:0/96 and above ::.
	if !Of(netip.MustParseAddr("::1")).Less(Of(netip.MustParseAddr("0.0.0.0"))) ||
		!Of(netip.MustParseAddr("255.255.255.255")).Less(Of(netip.MustParseAddr("2001:db8::"))) {
		t.Error("the families do not sort apart")
	}
}
