package geo

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// CountrySource says which country of an address counts for the
// constituency: where it is located, where its network is registered, or
// either of the two. They differ more often than one would think: foreign
// providers' networks are routinely geolocated into a country.
type CountrySource string

const (
	Located    CountrySource = "located"
	Registered CountrySource = "registered"
	Either     CountrySource = "either"
)

// ConstituencySpec is what a CERT is responsible for.
type ConstituencySpec struct {
	Countries     []string // ISO 3166-1 alpha-2, upper case
	CountrySource CountrySource
	ASNs          []uint32
	CIDRs         []netip.Prefix
	Exclude       []netip.Prefix
	// Delegated adds what the RIR's delegated stats register to the
	// countries: their address ranges and their ASNs' networks.
	Delegated *Delegated
	// DelegatedFile is read into Delegated each time the databases are
	// (re)loaded by Live.
	DelegatedFile string
}

// Constituency is a compiled ConstituencySpec: a range table for the hot path
// plus the spec itself to explain single decisions.
type Constituency struct {
	spec   ConstituencySpec
	ranges *RangeSet
}

// Compile turns the spec into a range table: every network of the listed
// countries and ASNs found in the databases, plus the CIDRs, minus the
// exclusions. It walks the databases once; lookups afterwards never touch
// them.
func Compile(db *DB, spec ConstituencySpec) (*Constituency, error) {
	var b rangeBuilder
	if len(spec.Countries) > 0 {
		if db == nil || db.country == nil {
			return nil, fmt.Errorf("constituency lists countries but no country database is configured")
		}
		want := map[string]bool{}
		for _, c := range spec.Countries {
			want[strings.ToUpper(c)] = true
		}
		for res := range db.country.r.Networks() {
			located, registered, err := db.country.countryOf(res)
			if err != nil {
				return nil, fmt.Errorf("walk %s at %s: %w", db.country.path, res.Prefix(), err)
			}
			if countryMatches(spec.CountrySource, located, registered, want) {
				b.Add(normPrefix(res.Prefix()))
			}
		}
	}
	wantASN := func(asn uint32) bool {
		if spec.Delegated != nil {
			if _, ok := spec.Delegated.ASNs[asn]; ok {
				return true
			}
		}
		return slices.Contains(spec.ASNs, asn)
	}
	if spec.Delegated != nil {
		b.add = append(b.add, spec.Delegated.spans...)
	}
	if len(spec.ASNs) > 0 || (spec.Delegated != nil && len(spec.Delegated.ASNs) > 0) {
		if db == nil || db.asn == nil {
			return nil, fmt.Errorf("constituency lists ASNs but no ASN database is configured")
		}
		for res := range db.asn.r.Networks() {
			asn, err := db.asn.asnNumberOf(res)
			if err != nil {
				return nil, fmt.Errorf("walk %s at %s: %w", db.asn.path, res.Prefix(), err)
			}
			if wantASN(asn) {
				b.Add(normPrefix(res.Prefix()))
			}
		}
	}
	for _, p := range spec.CIDRs {
		b.Add(normPrefix(p))
	}
	for _, p := range spec.Exclude {
		b.Remove(normPrefix(p))
	}
	return &Constituency{spec: spec, ranges: b.Build()}, nil
}

func normPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func countryMatches(src CountrySource, located, registered string, want map[string]bool) bool {
	switch src {
	case Registered:
		return want[registered]
	case Either:
		return want[located] || want[registered]
	default:
		return want[located]
	}
}

// Contains is the hot-path test: one binary search.
func (c *Constituency) Contains(a netip.Addr) bool { return c.ranges.Contains(a) }

// Overlaps reports whether any address from lo to hi is in the
// constituency.
func (c *Constituency) Overlaps(lo, hi netip.Addr) bool { return c.ranges.Overlaps(lo, hi) }

// Ranges is the number of disjoint ranges in the compiled table.
func (c *Constituency) Ranges() int { return c.ranges.Len() }

// Decision explains why an address is or is not in the constituency.
type Decision struct {
	In      bool
	Reasons []string // every rule that matched, in the order they are applied
}

// Explain decides for one address from the spec and the lookup, rule by
// rule, for people. It must agree with Contains; the tests hold it to that.
func (c *Constituency) Explain(a netip.Addr, info Info) Decision {
	a = a.Unmap()
	var d Decision
	want := map[string]bool{}
	for _, cc := range c.spec.Countries {
		want[strings.ToUpper(cc)] = true
	}
	if len(want) > 0 && countryMatches(c.spec.CountrySource, info.Country, info.RegisteredCountry, want) {
		d.In = true
		src := c.spec.CountrySource
		if src == "" {
			src = Located
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("country matches (country_source %s; located in %s, registered in %s)", src, orDash(info.Country), orDash(info.RegisteredCountry)))
	}
	if info.ASN != 0 && slices.Contains(c.spec.ASNs, info.ASN) {
		d.In = true
		d.Reasons = append(d.Reasons, fmt.Sprintf("AS%d is listed", info.ASN))
	}
	if del := c.spec.Delegated; del != nil {
		if del.Contains(a) {
			d.In = true
			d.Reasons = append(d.Reasons, fmt.Sprintf("registered to the constituency in the RIR's delegated stats (%s)", del.File))
		}
		if cc, ok := del.ASNs[info.ASN]; ok && info.ASN != 0 {
			d.In = true
			d.Reasons = append(d.Reasons, fmt.Sprintf("AS%d is registered to %s in the RIR's delegated stats", info.ASN, cc))
		}
	}
	for _, p := range c.spec.CIDRs {
		if normPrefix(p).Contains(a) {
			d.In = true
			d.Reasons = append(d.Reasons, fmt.Sprintf("inside listed CIDR %s", p))
		}
	}
	for _, p := range c.spec.Exclude {
		if normPrefix(p).Contains(a) {
			d.In = false
			d.Reasons = append(d.Reasons, fmt.Sprintf("excluded by %s", p))
		}
	}
	if len(d.Reasons) == 0 {
		asn := "-"
		if info.ASN != 0 {
			asn = fmt.Sprintf("AS%d", info.ASN)
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("no rule matches (located in %s, registered in %s, ASN %s)", orDash(info.Country), orDash(info.RegisteredCountry), asn))
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
