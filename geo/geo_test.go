package geo_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

// testNets is the fixture world: located and registered differ on purpose.
var testNets = []mmdbgen.Network{
	{Prefix: netip.MustParsePrefix("192.0.2.0/24"), ASN: 64500, Org: "ISP One", Country: "FI", Registered: "FI"},
	{Prefix: netip.MustParsePrefix("198.51.100.0/24"), ASN: 64501, Org: "Hosting", Country: "SE", Registered: "SE"},
	{Prefix: netip.MustParsePrefix("203.0.113.0/25"), ASN: 64502, Org: "ISP Three", Country: "FI", Registered: "DE"},
	{Prefix: netip.MustParsePrefix("203.0.113.128/25"), ASN: 64503, Org: "Carrier", Country: "DE", Registered: "FI"},
	{Prefix: netip.MustParsePrefix("100.64.0.0/16"), ASN: 64510, Org: "Elsewhere", Country: "US", Registered: "US"},
	{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), ASN: 64500, Org: "ISP One", Country: "FI", Registered: "FI"},
	{Prefix: netip.MustParsePrefix("2001:db8:9::/48"), ASN: 64510, Org: "Elsewhere", Country: "US", Registered: "US"},
}

func openTestDB(t testing.TB) *geo.DB {
	t.Helper()
	dir := t.TempDir()
	asn, country := filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "country.mmdb")
	if err := mmdbgen.WriteASN(asn, testNets); err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteCountry(country, testNets); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(asn, country, geo.LayoutAuto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		ip   string
		want geo.Info
	}{
		{"192.0.2.77", geo.Info{ASN: 64500, ASOrg: "ISP One", Country: "FI", RegisteredCountry: "FI"}},
		{"203.0.113.5", geo.Info{ASN: 64502, ASOrg: "ISP Three", Country: "FI", RegisteredCountry: "DE"}},
		{"::ffff:203.0.113.200", geo.Info{ASN: 64503, ASOrg: "Carrier", Country: "DE", RegisteredCountry: "FI"}},
		{"2001:db8:1::42", geo.Info{ASN: 64500, ASOrg: "ISP One", Country: "FI", RegisteredCountry: "FI"}},
		{"8.8.8.8", geo.Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got, err := db.Lookup(netip.MustParseAddr(tt.ip))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Lookup(%s) = %+v, want %+v", tt.ip, got, tt.want)
			}
		})
	}
}

// A delegated-stats file in the RIRs' published format.
const delegatedStats = `2|ripencc|20261122|6|19830705|20261122|+0100
# comment
ripencc|*|ipv4|*|4|summary
ripencc|*|asn|*|1|summary
ripencc|FI|ipv4|198.51.100.0|128|20100101|allocated|abc
ripencc|SE|ipv4|198.51.100.128|128|20100101|allocated
ripencc|FI|asn|64510|1|20100101|assigned
ripencc|FI|ipv6|2001:db8:9::|48|20100101|allocated
ripencc||ipv4|100.65.0.0|256||available
ripencc|FI|ipv4|203.0.113.128|128|20100101|reserved
`

func TestParseDelegated(t *testing.T) {
	d, err := geo.ParseDelegated(strings.NewReader(delegatedStats), []string{"FI"})
	if err != nil || d.Ranges != 2 || len(d.ASNs) != 1 || d.ASNs[64510] != "FI" {
		t.Fatalf("%v %+v", err, d)
	}
	for _, bad := range []string{
		"ripencc|FI|ipv4|198.51.100.0|lots|20100101|allocated\n",
		"ripencc|FI|ipv4|255.255.255.0|512|20100101|allocated\n",
		"ripencc|FI|asn|x|1|20100101|allocated\n",
	} {
		if _, err := geo.ParseDelegated(strings.NewReader(bad), []string{"FI"}); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestConstituency(t *testing.T) {
	db := openTestDB(t)
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range s {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	del, err := geo.ParseDelegated(strings.NewReader(delegatedStats), []string{"fi"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec geo.ConstituencySpec
		in   []string
		out  []string
	}{
		{
			name: "delegated stats add what is registered, whatever its location",
			spec: geo.ConstituencySpec{Countries: []string{"FI"}, Delegated: del},
			in:   []string{"192.0.2.1", "198.51.100.1", "198.51.100.127", "100.64.1.1", "2001:db8:9::1"},
			out:  []string{"198.51.100.128", "203.0.113.200", "100.65.0.1"},
		},
		{
			name: "located",
			spec: geo.ConstituencySpec{Countries: []string{"FI"}, CountrySource: geo.Located},
			in:   []string{"192.0.2.1", "203.0.113.1", "2001:db8:1::1"},
			out:  []string{"203.0.113.200", "198.51.100.1", "100.64.1.1", "2001:db8:9::1", "8.8.8.8"},
		},
		{
			name: "registered",
			spec: geo.ConstituencySpec{Countries: []string{"FI"}, CountrySource: geo.Registered},
			in:   []string{"192.0.2.1", "203.0.113.200"},
			out:  []string{"203.0.113.1", "198.51.100.1"},
		},
		{
			name: "either",
			spec: geo.ConstituencySpec{Countries: []string{"FI"}, CountrySource: geo.Either},
			in:   []string{"192.0.2.1", "203.0.113.1", "203.0.113.200"},
			out:  []string{"198.51.100.1", "100.64.0.1"},
		},
		{
			name: "asn, cidr and exclusions",
			spec: geo.ConstituencySpec{ASNs: []uint32{64510}, CIDRs: pfx("198.51.100.0/24"), Exclude: pfx("198.51.100.7/32", "100.64.128.0/17")},
			in:   []string{"100.64.0.1", "100.64.127.255", "198.51.100.6", "198.51.100.8", "2001:db8:9::1"},
			out:  []string{"100.64.128.0", "100.64.255.255", "198.51.100.7", "192.0.2.1"},
		},
		{
			name: "exclusion splits a country",
			spec: geo.ConstituencySpec{Countries: []string{"fi"}, Exclude: pfx("192.0.2.64/26", "2001:db8:1:8000::/49")},
			in:   []string{"192.0.2.63", "192.0.2.128", "2001:db8:1::1"},
			out:  []string{"192.0.2.64", "192.0.2.127", "2001:db8:1:8000::1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := geo.Compile(db, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			check := func(ip string, want bool) {
				a := netip.MustParseAddr(ip)
				if got := c.Contains(a); got != want {
					t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
				}
				info, err := db.Lookup(a)
				if err != nil {
					t.Fatal(err)
				}
				if d := c.Explain(a, info); d.In != want {
					t.Errorf("Explain(%s).In = %v (%v), want %v", ip, d.In, d.Reasons, want)
				}
			}
			for _, ip := range tt.in {
				check(ip, true)
			}
			for _, ip := range tt.out {
				check(ip, false)
			}
		})
	}
}

func TestOpenBroken(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "truncated.mmdb")
	if err := mmdbgen.WriteASN(bad, testNets); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	for _, p := range []string{bad, filepath.Join(dir, "missing.mmdb")} {
		_, err := geo.Open(p, "", geo.LayoutAuto)
		if err == nil {
			t.Fatalf("Open(%s) succeeded", p)
		}
		if !containsStr(err.Error(), p) {
			t.Errorf("error %q does not name the file", err)
		}
	}
}

// The public MaxMind test databases, where the shared samples are present.
func TestMaxMindSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "samples", "mmdb")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" && os.Getenv("AUTOREPORTER_NO_SAMPLES") == "" {
			t.Fatalf("MaxMind test databases not found at %s", dir)
		}
		t.Skipf("no samples: MaxMind test databases not found at %s; put ../shared/samples beside the project to run this", dir)
	}
	db, err := geo.Open(filepath.Join(dir, "GeoLite2-ASN-Test.mmdb"), filepath.Join(dir, "GeoLite2-Country-Test.mmdb"), geo.LayoutAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Every network of the databases' JSON sources: its first address must
	// answer what the most specific source network holding it says.
	type asnRec struct {
		ASN uint32 `json:"autonomous_system_number"`
		Org string `json:"autonomous_system_organization"`
	}
	type ccRec struct {
		Country struct {
			ISOCode string `json:"iso_code"`
		} `json:"country"`
		Registered struct {
			ISOCode string `json:"iso_code"`
		} `json:"registered_country"`
	}
	asns := readSource[asnRec](t, filepath.Join(dir, "GeoLite2-ASN-Test.json"))
	ccs := readSource[ccRec](t, filepath.Join(dir, "GeoLite2-Country-Test.json"))
	checked := 0
	for p := range asns {
		ip := p.Addr()
		got, err := db.Lookup(ip)
		if err != nil {
			t.Fatal(err)
		}
		want := asns[mostSpecific(asns, ip)]
		if got.ASN != want.ASN || got.ASOrg != want.Org {
			t.Errorf("%s (from %s): ASN %d %q, want %d %q", ip, p, got.ASN, got.ASOrg, want.ASN, want.Org)
		}
		checked++
	}
	for p := range ccs {
		ip := p.Addr()
		got, err := db.Lookup(ip)
		if err != nil {
			t.Fatal(err)
		}
		want := ccs[mostSpecific(ccs, ip)]
		if got.Country != want.Country.ISOCode || got.RegisteredCountry != want.Registered.ISOCode {
			t.Errorf("%s (from %s): country %q registered %q, want %q %q", ip, p, got.Country, got.RegisteredCountry,
				want.Country.ISOCode, want.Registered.ISOCode)
		}
		checked++
	}
	if len(asns) < 100 || len(ccs) < 100 {
		t.Fatalf("only %d ASN and %d country networks in the JSON sources", len(asns), len(ccs))
	}
	t.Logf("%d networks checked against their JSON sources", checked)
	// Located and registered differ here: both must come through.
	if got, _ := db.Lookup(netip.MustParseAddr("89.160.20.120")); got.Country != "SE" || got.RegisteredCountry != "DE" || got.ASN != 29518 {
		t.Errorf("89.160.20.120: %+v", got)
	}
	// Each real type, given for its role and for the other one.
	for _, c := range []struct {
		file string
		role geo.Role
		ok   bool
	}{
		{"GeoLite2-ASN-Test.mmdb", geo.ASN, true},
		{"GeoLite2-ASN-Test.mmdb", geo.Country, false},
		{"GeoLite2-Country-Test.mmdb", geo.ASN, false},
		{"GeoIP2-Country-Test.mmdb", geo.Country, true},
		{"GeoLite2-City-Test.mmdb", geo.Country, true},
		{"GeoLite2-City-Test.mmdb", geo.ASN, false},
	} {
		p := filepath.Join(dir, c.file)
		asn, country := p, ""
		if c.role == geo.Country {
			asn, country = "", p
		}
		db, err := geo.Open(asn, country, geo.LayoutAuto)
		var ke *geo.KindError
		switch {
		case c.ok && err != nil:
			t.Errorf("%s as %v database: %v", c.file, c.role, err)
		case !c.ok && !errors.As(err, &ke):
			t.Errorf("%s as %v database: %v, want a *KindError", c.file, c.role, err)
		case !c.ok && !strings.Contains(err.Error(), p+" is a \"Geo"):
			t.Errorf("%s as %v database: %v", c.file, c.role, err)
		}
		if db != nil {
			db.Close()
		}
		if cerr := geo.CheckFile(p, c.role, geo.LayoutAuto); (cerr == nil) != c.ok {
			t.Errorf("CheckFile(%s, %v) = %v", c.file, c.role, cerr)
		}
	}
	for _, broken := range []string{"MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb", "GeoIP2-City-Test-Invalid-Node-Count.mmdb"} {
		p := filepath.Join(dir, broken)
		if _, err := geo.Open(p, "", geo.LayoutAuto); err == nil {
			t.Errorf("Open(%s) accepted a broken database", broken)
		} else if !containsStr(err.Error(), broken) {
			t.Errorf("error %q does not name %s", err, broken)
		}
	}
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

// readSource reads a MaxMind test database's JSON source: a list of
// one-key objects, network -> record.
func readSource[T any](t *testing.T, path string) map[netip.Prefix]T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]T
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[netip.Prefix]T{}
	for _, m := range list {
		for k, v := range m {
			p, err := netip.ParsePrefix(k)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out[p.Masked()] = v
		}
	}
	return out
}

func mostSpecific[T any](m map[netip.Prefix]T, ip netip.Addr) netip.Prefix {
	var best netip.Prefix
	for p := range m {
		if p.Contains(ip) && (!best.IsValid() || p.Bits() > best.Bits()) {
			best = p
		}
	}
	return best
}

func BenchmarkLookup(b *testing.B) {
	db := openTestDB(b)
	a := netip.MustParseAddr("192.0.2.77")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := db.Lookup(a); err != nil {
			b.Fatal(err)
		}
	}
}
