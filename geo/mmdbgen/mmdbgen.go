// Package mmdbgen writes small MaxMind-format databases from a readable
// network list. The demo data and the tests use it so that every .mmdb the
// project relies on is built from a source a person can read and edit.
package mmdbgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one line of the source: a prefix, who routes it, where it is
// located and where it is registered.
type Network struct {
	Prefix     netip.Prefix
	ASN        uint32
	Org        string
	Country    string
	Registered string
}

// Parse reads the source format: one network a line,
//
//	prefix  asn  country  registered  organisation...
//
// where asn may be written AS64500 or 64500, "-" leaves a field empty, the
// organisation is the rest of the line, and # starts a comment.
func Parse(r io.Reader, name string) ([]Network, error) {
	var out []Network
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 4 {
			return nil, fmt.Errorf("%s line %d: want prefix, asn, country, registered country and organisation; got %d fields", name, line, len(f))
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		n := Network{Prefix: p.Masked()}
		if f[1] != "-" {
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(f[1]), "AS"), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: asn %q: %w", name, line, f[1], err)
			}
			n.ASN = uint32(v)
		}
		n.Country, n.Registered = dash(f[2]), dash(f[3])
		if len(f) > 4 {
			n.Org = strings.Join(f[4:], " ")
		}
		out = append(out, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return strings.ToUpper(s)
}

func newTree(dbType string) (*mmdbwriter.Tree, error) {
	return mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		RecordSize:              24,
		IncludeReservedNetworks: true, // the demo uses documentation ranges
		Description:             map[string]string{"en": "autoreporter generated " + dbType},
		Languages:               []string{"en"},
	})
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// WriteASN writes a GeoLite2-ASN-shaped database.
func WriteASN(path string, nets []Network) error { return WriteASNAs(path, "GeoLite2-ASN", nets) }

// WriteASNAs writes an ASN database in MaxMind's layout under another
// database type, as DB-IP's ("DBIP-ASN-Lite (compat=GeoLite2-ASN)") or a
// home-made one.
func WriteASNAs(path, databaseType string, nets []Network) error {
	t, err := newTree(databaseType)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if n.ASN == 0 {
			continue
		}
		rec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.ASN)}
		if n.Org != "" {
			rec["autonomous_system_organization"] = mmdbtype.String(n.Org)
		}
		if err := t.Insert(ipnet(n.Prefix), rec); err != nil {
			return fmt.Errorf("insert %s: %w", n.Prefix, err)
		}
	}
	return write(path, t)
}

// WriteCountry writes a GeoLite2-Country-shaped database.
func WriteCountry(path string, nets []Network) error {
	return WriteCountryAs(path, "GeoLite2-Country", nets)
}

// WriteCountryAs writes a country database in MaxMind's layout under
// another database type ("GeoIP2-City", "DBIP-Country-Lite"...).
func WriteCountryAs(path, databaseType string, nets []Network) error {
	t, err := newTree(databaseType)
	if err != nil {
		return err
	}
	for _, n := range nets {
		rec := mmdbtype.Map{}
		if n.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
		}
		if n.Registered != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.Registered)}
		}
		if len(rec) == 0 {
			continue
		}
		if err := t.Insert(ipnet(n.Prefix), rec); err != nil {
			return fmt.Errorf("insert %s: %w", n.Prefix, err)
		}
	}
	return write(path, t)
}

// WriteIPinfo writes one database in IPinfo's flat layout (asn "AS64500",
// as_name, country_code, country as a name), which serves as both the ASN
// and the country database.
func WriteIPinfo(path string, nets []Network) error {
	t, err := newTree("ipinfo lite.mmdb")
	if err != nil {
		return err
	}
	for _, n := range nets {
		rec := mmdbtype.Map{}
		if n.ASN != 0 {
			rec["asn"] = mmdbtype.String(fmt.Sprintf("AS%d", n.ASN))
			rec["as_name"] = mmdbtype.String(n.Org)
		}
		if n.Country != "" {
			rec["country_code"] = mmdbtype.String(n.Country)
			rec["country"] = mmdbtype.String("Country " + n.Country)
		}
		if err := t.Insert(ipnet(n.Prefix), rec); err != nil {
			return fmt.Errorf("insert %s: %w", n.Prefix, err)
		}
	}
	return write(path, t)
}

func write(path string, t *mmdbwriter.Tree) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := t.WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// BuildFromFile reads a source file and writes both databases beside the
// given paths.
func BuildFromFile(src, asnPath, countryPath string) (int, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	nets, err := Parse(f, src)
	if err != nil {
		return 0, err
	}
	if err := WriteASN(asnPath, nets); err != nil {
		return 0, fmt.Errorf("%s: %w", asnPath, err)
	}
	if err := WriteCountry(countryPath, nets); err != nil {
		return 0, fmt.Errorf("%s: %w", countryPath, err)
	}
	return len(nets), nil
}
