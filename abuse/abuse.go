// Package abuse decides where the reports about a network go. Resolution
// runs in order and the first hit wins: operator overrides by CIDR (the most
// specific prefix first), then by ASN, then the imported sources (the RIPE
// database), then the CERT's fallback mailbox. The
// answer records which step gave it, so that staff can see why a mail went
// where it went.
package abuse

import (
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Contact is where an owner's reports go.
type Contact struct {
	To       []string // bare addresses, lower case, sorted, unique
	Language string
	Source   string // "override cidr 198.51.100.0/24", "override asn 64500", "fallback"
}

// Key identifies the recipient: the same set of addresses is one recipient
// whatever rule found it.
func (c Contact) Key() string { return strings.Join(c.To, ",") }

// Override is an operator's rule: a CIDR or an ASN and where its reports go.
type Override struct {
	CIDR     netip.Prefix // valid when the rule is by CIDR
	ASN      uint32       // non-zero when the rule is by ASN
	To       []string
	Language string
}

// Resolver answers contact questions. It is immutable once built and safe
// for concurrent use.
type Resolver struct {
	cidrs    []Override // most specific first
	asns     map[uint32]Override
	sources  []Source // imported databases, in order
	fallback Contact
}

// NormalizeAddresses parses a list of addresses (display names and all),
// keeps the bare address in lower case, and sorts and de-duplicates them.
func NormalizeAddresses(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		list, err := mail.ParseAddressList(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		for _, a := range list {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// NewResolver builds a resolver from overrides and the fallback addresses.
func NewResolver(overrides []Override, fallback []string, fallbackLanguage string) (*Resolver, error) {
	r := &Resolver{asns: map[uint32]Override{}}
	fb, err := NormalizeAddresses(fallback)
	if err != nil {
		return nil, fmt.Errorf("fallback contact: %w", err)
	}
	r.fallback = Contact{To: fb, Language: fallbackLanguage, Source: "fallback"}
	for i, o := range overrides {
		to, err := NormalizeAddresses(o.To)
		if err != nil {
			return nil, fmt.Errorf("override %d: %w", i, err)
		}
		o.To = to
		switch {
		case o.CIDR.IsValid():
			o.CIDR = o.CIDR.Masked()
			r.cidrs = append(r.cidrs, o)
		case o.ASN != 0:
			if _, dup := r.asns[o.ASN]; dup {
				return nil, fmt.Errorf("override %d: AS%d has two overrides", i, o.ASN)
			}
			r.asns[o.ASN] = o
		default:
			return nil, fmt.Errorf("override %d: needs a cidr or an asn", i)
		}
	}
	sort.SliceStable(r.cidrs, func(i, j int) bool { return r.cidrs[i].CIDR.Bits() > r.cidrs[j].CIDR.Bits() })
	return r, nil
}

// WithSources returns a resolver that asks the sources, in order, after
// the overrides and before the fallback.
func (r *Resolver) WithSources(s ...Source) *Resolver {
	c := *r
	c.sources = append(slices.Clip(r.sources), s...)
	return &c
}

// Resolve returns the contact for an address routed by asn.
func (r *Resolver) Resolve(ip netip.Addr, asn uint32) Contact {
	ip = ip.Unmap()
	for _, o := range r.cidrs {
		if o.CIDR.Contains(ip) {
			return Contact{To: o.To, Language: o.Language, Source: "override cidr " + o.CIDR.String()}
		}
	}
	if o, ok := r.asns[asn]; ok && asn != 0 {
		return Contact{To: o.To, Language: o.Language, Source: fmt.Sprintf("override asn %d", asn)}
	}
	for _, s := range r.sources {
		if c, ok := s.Lookup(ip, asn); ok {
			return c
		}
	}
	return r.fallback
}
