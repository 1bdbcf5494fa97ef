package abuse

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/abuse/ripe"
)

func TestRIPESourceOrder(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "ripe.bin")
	src, err := OpenRIPE(snap, "fi")
	if err != nil {
		t.Fatalf("a missing snapshot is not an error: %v", err)
	}
	if _, ok := src.Lookup(netip.MustParseAddr("192.0.2.1"), 0); ok {
		t.Fatal("answers before any import")
	}
	tb, err := ripe.Import(context.Background(), "ripe/testdata/dumps", ripe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Save(snap); err != nil {
		t.Fatal(err)
	}
	if changed, err := src.Reload(); !changed || err != nil {
		t.Fatalf("reload after an import: %v %v", changed, err)
	}
	if changed, _ := src.Reload(); changed {
		t.Error("reload of the same snapshot")
	}
	r, err := NewResolver([]Override{{CIDR: netip.MustParsePrefix("192.0.2.0/26"), To: []string{"noc@override.example"}}},
		[]string{"soc@cert.example"}, "en")
	if err != nil {
		t.Fatal(err)
	}
	r = r.WithSources(src)
	tests := []struct {
		ip     string
		asn    uint32
		to     string
		source string
	}{
		{"192.0.2.1", 64500, "noc@override.example", "override cidr 192.0.2.0/26"},
		{"192.0.2.70", 64501, "abuse@kaapeli.example,noc@kaapeli.example", "ripe inetnum 192.0.2.64 - 192.0.2.127 (abuse-c AR2-RIPE)"},
		{"192.0.2.150", 0, "abuse@isp-one.example", "ripe inetnum 192.0.2.0 - 192.0.2.255 (abuse-c AR1-RIPE)"},
		{"2001:db8:5::9", 0, "abuse@kaapeli.example,noc@kaapeli.example", "ripe inet6num 2001:db8:5::/48 (abuse-c AR2-RIPE)"},
		{"198.51.100.1", 64501, "abuse@kaapeli.example,noc@kaapeli.example", "ripe aut-num AS64501 (abuse-c AR2-RIPE)"},
		{"198.51.100.1", 64502, "soc@cert.example", "fallback"},
	}
	for _, tt := range tests {
		c := r.Resolve(netip.MustParseAddr(tt.ip), tt.asn)
		if c.Key() != tt.to || c.Source != tt.source {
			t.Errorf("Resolve(%s, AS%d) = %s from %q; want %s from %q", tt.ip, tt.asn, c.Key(), c.Source, tt.to, tt.source)
		}
	}
	os.WriteFile(snap, []byte("garbage"), 0o644)
	if _, err := src.Reload(); err == nil || !strings.Contains(err.Error(), snap) {
		t.Errorf("corrupt snapshot: %v", err)
	}
	if c := r.Resolve(netip.MustParseAddr("192.0.2.150"), 0); c.Key() != "abuse@isp-one.example" {
		t.Errorf("a corrupt new snapshot must leave the old one serving: %+v", c)
	}
}

func TestMailboxAddresses(t *testing.T) {
	for in, want := range map[string]string{
		`abuse@x.example`:                          "abuse@x.example",
		`"Abuse" <ABUSE@x.example>, noc@x.example`: "abuse@x.example,noc@x.example",
		`abuse@x.example; noc@x.example`:           "abuse@x.example,noc@x.example",
		`abuse@x.example noc@x.example`:            "abuse@x.example,noc@x.example",
		`not an address`:                           "",
	} {
		if got := strings.Join(mailboxAddresses(in), ","); got != want {
			t.Errorf("mailboxAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRIPELazy(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "ripe.bin")
	tb, err := ripe.Import(context.Background(), "ripe/testdata/dumps", ripe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Save(snap); err != nil {
		t.Fatal(err)
	}
	src := OpenRIPELazy(snap, "fi")
	if src.cur.Load() != nil {
		t.Fatal("the lazy source read the snapshot at open")
	}
	c, ok := src.Lookup(netip.MustParseAddr("100.64.200.1"), 0)
	if !ok || c.Key() != "abuse@sahko.example" {
		t.Errorf("first question: %+v %v", c, ok)
	}
	if src.Table() == nil || src.Table().Stats.Ranges != tb.Stats.Ranges {
		t.Error("the table after the first question")
	}
}
