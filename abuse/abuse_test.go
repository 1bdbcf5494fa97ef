package abuse

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestOverridePreferencesAndExpiry(t *testing.T) {
	now := t0
	cfg := []Override{
		{CIDR: netip.MustParsePrefix("192.0.2.0/24"), To: []string{"Desk <NOC@isp.example>"}, Language: "fi", Origin: "config"},
		{ASN: 64500, To: []string{"asn@isp.example"}, Origin: "config"},
	}
	store := []Override{
		// The store's rule for the same /24 replaces the config's.
		{CIDR: netip.MustParsePrefix("192.0.2.0/24"), To: []string{"fixed@isp.example"}, Format: FormatInline, Origin: "store", By: "alice", Set: t0},
		// An opt-out that ends.
		{CIDR: netip.MustParsePrefix("192.0.2.128/25"), Inhibit: true, Until: t0.Add(48 * time.Hour), Origin: "store"},
	}
	merged := MergeOverrides(cfg, store)
	r, err := NewResolver(merged, []string{"soc@cert.example"}, "en")
	if err != nil {
		t.Fatal(err)
	}
	r = r.WithClock(func() time.Time { return now })

	c := r.Resolve(netip.MustParseAddr("192.0.2.1"), 64500)
	if c.Key() != "fixed@isp.example" || c.Format != FormatInline || c.Source != "override cidr 192.0.2.0/24 (set by alice 2026-11-23)" {
		t.Errorf("store override: %+v", c)
	}
	c = r.Resolve(netip.MustParseAddr("192.0.2.200"), 64500)
	if c.Inhibit == "" || !strings.Contains(c.Inhibit, "until 2026-11-25T06:00:00Z") || c.Key() != "" {
		t.Errorf("inhibit: %+v", c)
	}
	now = t0.Add(48 * time.Hour) // the opt-out has ended: the /24 answers again
	if c := r.Resolve(netip.MustParseAddr("192.0.2.200"), 64500); c.Key() != "fixed@isp.example" || c.Inhibit != "" {
		t.Errorf("after expiry: %+v", c)
	}
	if c := r.Resolve(netip.MustParseAddr("198.51.100.1"), 64500); c.Source != "override asn 64500" {
		t.Errorf("asn: %+v", c)
	}
	// A store rule that ends gives the same rule of the config back.
	r2, err := NewResolver(MergeOverrides(cfg, []Override{{ASN: 64500, Inhibit: true, Until: t0.Add(time.Hour), Origin: "store"}}), nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	now = t0
	r2 = r2.WithClock(func() time.Time { return now })
	if c := r2.Resolve(netip.MustParseAddr("198.51.100.1"), 64500); c.Inhibit == "" {
		t.Errorf("store rule not first: %+v", c)
	}
	now = t0.Add(time.Hour)
	if c := r2.Resolve(netip.MustParseAddr("198.51.100.1"), 64500); c.Key() != "asn@isp.example" {
		t.Errorf("config rule after the store's ended: %+v", c)
	}
	if got := len(r.Overrides()); got != 4 {
		t.Errorf("Overrides lists %d", got)
	}

	for name, bad := range map[string]Override{
		"no addresses": {ASN: 1},
		"format":       {ASN: 1, To: []string{"a@b.example"}, Format: "pdf"},
		"no rule":      {To: []string{"a@b.example"}},
		"address":      {ASN: 1, To: []string{"not an address"}},
	} {
		if _, err := NewResolver([]Override{bad}, nil, "en"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
