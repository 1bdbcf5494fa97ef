package geo_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

// The database types MaxMind, DB-IP and IPinfo write into their files'
// metadata, and what each can answer in the layout this package reads.
func TestRolesOf(t *testing.T) {
	tests := []struct {
		dbType string
		want   geo.Role
	}{
		{"GeoLite2-ASN", geo.ASN},
		{"GeoIP2-ISP", geo.ASN},
		{"GeoIP2-Precision-ISP", geo.ASN},
		{"GeoLite2-Country", geo.Country},
		{"GeoIP2-Country", geo.Country},
		{"GeoLite2-City", geo.Country},
		{"GeoIP2-City", geo.Country},
		{"GeoIP2-City-Asia-Pacific", geo.Country},
		{"GeoIP2-Precision-City", geo.Country},
		{"GeoIP2-Enterprise", geo.Country}, // its ASN is under traits
		{"DBIP-ASN-Lite (compat=GeoLite2-ASN)", geo.ASN},
		{"DBIP-Country-Lite", geo.Country},
		{"DBIP-City-Lite", geo.Country},
		{"DBIP-Location (compat=City)", geo.Country},
		{"DBIP-ISP (compat=Enterprise)", geo.Country},
		{"ipinfo lite.mmdb", geo.ASN | geo.Country},
		{"ipinfo country_asn.mmdb", geo.ASN | geo.Country},
		{"ipinfo generic_asn_free.mmdb", geo.ASN},
		{"ipinfo country.mmdb", geo.Country},
		{"GeoIP2-Anonymous-IP", 0},
		{"GeoIP2-Connection-Type", 0},
		{"Test", 0},
		{"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.dbType, func(t *testing.T) {
			if got := geo.RolesOf(tt.dbType); got != tt.want {
				t.Errorf("RolesOf(%q) = %v, want %v", tt.dbType, got, tt.want)
			}
		})
	}
}

// A database of the wrong kind is refused with its type: a country file
// as the ASN database would make every ASN unknown and send every ASN
// rule's events to the fallback contact, without an error anywhere.
func TestOpenWrongKind(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, write func(string) error) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := write(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asn := file("asn.mmdb", func(p string) error { return mmdbgen.WriteASN(p, testNets) })
	country := file("country.mmdb", func(p string) error { return mmdbgen.WriteCountry(p, testNets) })
	city := file("city.mmdb", func(p string) error { return mmdbgen.WriteCountryAs(p, "GeoIP2-City", testNets) })
	dbip := file("dbip-asn.mmdb", func(p string) error {
		return mmdbgen.WriteASNAs(p, "DBIP-ASN-Lite (compat=GeoLite2-ASN)", testNets)
	})
	homeASN := file("home-asn.mmdb", func(p string) error { return mmdbgen.WriteASNAs(p, "CERT-XX-Routing", testNets) })
	homeCC := file("home-cc.mmdb", func(p string) error { return mmdbgen.WriteCountryAs(p, "CERT-XX-Places", testNets) })
	ipinfo := file("ipinfo.mmdb", func(p string) error { return mmdbgen.WriteIPinfo(p, testNets) })

	tests := []struct {
		name          string
		asn, country  string
		want          []string // in the error; none for success
		wantKindError int      // how many *KindError
	}{
		{"right way round", asn, country, nil, 0},
		{"city as country", asn, city, nil, 0},
		{"db-ip asn", dbip, city, nil, 0},
		{"ipinfo as both", ipinfo, ipinfo, nil, 0},
		{"home-made types, read from their records", homeASN, homeCC, nil, 0},
		{"country as asn", country, country, []string{country + ` is a "GeoLite2-Country" database, not an ASN database`}, 1},
		{"asn as country", asn, asn, []string{asn + ` is a "GeoLite2-ASN" database, not a country database`}, 1},
		{"swapped: both named", country, asn, []string{
			country + ` is a "GeoLite2-Country" database, not an ASN database`,
			asn + ` is a "GeoLite2-ASN" database, not a country database`}, 2},
		{"home-made country as asn", homeCC, country, []string{homeCC + ` is a "CERT-XX-Places" database, not an ASN database`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := geo.Open(tt.asn, tt.country, geo.LayoutAuto)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				db.Close()
				return
			}
			if err == nil {
				t.Fatal("opened")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if n := countKindErrors(err); n != tt.wantKindError {
				t.Errorf("%d *KindError in %v, want %d", n, err, tt.wantKindError)
			}
			// CheckFile says the same without reading the whole file.
			for _, c := range []struct {
				path string
				role geo.Role
				not  string
			}{{tt.asn, geo.ASN, "not an ASN database"}, {tt.country, geo.Country, "not a country database"}} {
				want := ""
				for _, w := range tt.want {
					if strings.HasPrefix(w, c.path+" is a") && strings.HasSuffix(w, c.not) {
						want = w
					}
				}
				cerr := geo.CheckFile(c.path, c.role, geo.LayoutAuto)
				if (want == "") != (cerr == nil) || (cerr != nil && cerr.Error() != want) {
					t.Errorf("CheckFile(%s, %v) = %v, want %q", c.path, c.role, cerr, want)
				}
			}
		})
	}
}

func countKindErrors(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		n := 0
		for _, e := range j.Unwrap() {
			n += countKindErrors(e)
		}
		return n
	}
	var ke *geo.KindError
	if errors.As(err, &ke) {
		return 1
	}
	return 0
}

// Both files broken: both are named, each with what it is for.
func TestOpenBothBroken(t *testing.T) {
	dir := t.TempDir()
	asn, country := filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "country.mmdb")
	os.WriteFile(asn, []byte("not a database"), 0o644)
	_, err := geo.Open(asn, country, geo.LayoutAuto)
	if err == nil {
		t.Fatal("opened")
	}
	var fe *geo.FileError
	if !errors.As(err, &fe) || fe.Role != geo.ASN {
		t.Errorf("not a *FileError for the ASN database: %#v", err)
	}
	for _, p := range []string{asn, country} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s not named in:\n%v", p, err)
		}
	}
}
