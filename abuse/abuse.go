// Package abuse decides where the reports about a network go. Resolution
// runs in order and the first hit wins: operator overrides by CIDR (the most
// specific prefix first), then by ASN, then the sources (the imported RIPE
// database, then RDAP's cache), then the CERT's fallback mailbox. The
// answer records which step gave it, so that staff can see why a mail went
// where it went.
package abuse

import (
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report formats an override may ask for.
const (
	FormatCSV    = "csv"    // the events as a CSV attachment (the default)
	FormatInline = "inline" // the same CSV lines in the body, no attachment
	// FormatZip puts the attachments in one zip file: a day's CSV for a
	// large network shrinks eight to ten times and fits in one mail.
	FormatZip = "zip"
)

// ValidFormat says whether f is a format a contact may ask for ("" is the
// default, csv).
func ValidFormat(f string) bool {
	switch f {
	case "", FormatCSV, FormatInline, FormatZip:
		return true
	}
	return false
}

// FormatHelp lists the formats, for error messages.
const FormatHelp = "csv, inline or zip"

// Contact is where an owner's reports go.
type Contact struct {
	To       []string // bare addresses, lower case, sorted, unique
	Language string
	Format   string // FormatCSV when empty
	Source   string // "override cidr 198.51.100.0/24", "override asn 64500", "fallback"
	// Inhibit, when set, says why this owner's events are kept but never
	// reported ("opt-out until 2027-01-01").
	Inhibit string
	// Pending is true while RDAP has not answered yet: the event waits and
	// is resolved again on the next pass.
	Pending bool
	// Rule names what gave the answer, stable across changes to the
	// addresses: "cidr 192.0.2.0/24", "asn 64500", "ripe inetnum 192.0.2.0 -
	// 192.0.2.255", "rdap 192.0.2.0/24", "fallback". The repeat window is
	// kept per rule, so that correcting a typo in an address does not tell
	// an owner again what it was told last week.
	Rule string
	// Fallback is true for the CERT's own mailbox: no owner contact was
	// found, and the mail says so instead of "your network".
	Fallback bool
}

// Key identifies the recipient: the same set of addresses is one recipient
// whatever rule found it.
func (c Contact) Key() string { return strings.Join(c.To, ",") }

// Override is an operator's rule: a CIDR or an ASN and where its reports go.
type Override struct {
	CIDR     netip.Prefix // valid when the rule is by CIDR
	ASN      uint32       // non-zero when the rule is by ASN
	To       []string     // may be empty when Inhibit is set
	Language string
	Format   string
	// Inhibit keeps the owner's events but sends nothing (an opt-out, or a
	// pause while the ISP cleans up).
	Inhibit bool
	// Until ends the override; zero never does. An expired override is
	// skipped as if it were not there.
	Until  time.Time
	Note   string
	Origin string    // "config" or "store"
	By     string    // who set it (store overrides)
	Set    time.Time // when it was set (store overrides)
	// What the owner asked of its mails beyond the addresses: display
	// names kept in the To header (bare address -> name; NewResolver
	// takes them from To), a cap on the events of one mail (0: only
	// mail.max_size), and a signing method ("": mail.sign).
	Names     map[string]string
	MaxEvents int
	Sign      string

	answer Contact // made once by NewResolver: Resolve runs per event
}

// Key names the rule: "cidr 198.51.100.0/24" or "asn 64500".
func (o Override) Key() string {
	if o.CIDR.IsValid() {
		return "cidr " + o.CIDR.Masked().String()
	}
	return fmt.Sprintf("asn %d", o.ASN)
}

func (o Override) active(now time.Time) bool { return o.Until.IsZero() || now.Before(o.Until) }

func (o Override) contact() Contact {
	c := Contact{To: o.To, Language: o.Language, Format: o.Format, Source: "override " + o.Key(), Rule: o.Key()}
	if o.Origin == "store" {
		c.Source += " (set"
		if o.By != "" {
			c.Source += " by " + o.By
		}
		if !o.Set.IsZero() {
			c.Source += " " + o.Set.UTC().Format("2006-01-02")
		}
		c.Source += ")"
	}
	if o.Inhibit {
		c.Inhibit = "inhibited by override " + o.Key()
		if !o.Until.IsZero() {
			c.Inhibit += " until " + o.Until.UTC().Format(time.RFC3339)
		}
	}
	return c
}

// MergeOverrides puts the store's overrides before the config's: for the
// same CIDR or ASN the store's rule is tried first, because a correction
// made at run time is newer than the file; when it expires, the config's
// rule answers again.
func MergeOverrides(fromConfig, fromStore []Override) []Override {
	return append(slices.Clone(fromStore), fromConfig...)
}

// Resolver answers contact questions. It is immutable once built and safe
// for concurrent use.
type Resolver struct {
	cidrs    []Override // most specific first
	byPrefix prefixMap[[]Override]
	asns     map[uint32][]Override // store's rule first
	sources  []Source              // imported databases, in order
	fallback Contact
	now      func() time.Time
}

// displayNames adds the display names written in to ("Abuse Desk
// <abuse@isp.example>") to names, keyed by the bare address in lower case.
// A name is header text from an operator, but it is kept to one line.
func displayNames(to []string, names map[string]string) (map[string]string, error) {
	out := maps.Clone(names)
	for _, s := range to {
		list, err := mail.ParseAddressList(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		for _, a := range list {
			if a.Name == "" {
				continue
			}
			if out == nil {
				out = map[string]string{}
			}
			out[strings.ToLower(a.Address)] = strings.Join(strings.Fields(a.Name), " ")
		}
	}
	return out, nil
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
	r := &Resolver{asns: map[uint32][]Override{}, now: time.Now}
	fb, err := NormalizeAddresses(fallback)
	if err != nil {
		return nil, fmt.Errorf("fallback contact: %w", err)
	}
	r.fallback = Contact{To: fb, Language: fallbackLanguage, Source: "fallback", Rule: "fallback", Fallback: true}
	for i, o := range overrides {
		to, err := NormalizeAddresses(o.To)
		if err != nil {
			return nil, fmt.Errorf("override %d: %w", i, err)
		}
		if o.Names, err = displayNames(o.To, o.Names); err != nil {
			return nil, fmt.Errorf("override %d: %w", i, err)
		}
		o.To = to
		if o.MaxEvents < 0 {
			return nil, fmt.Errorf("override %s: max_events %d is negative", o.Key(), o.MaxEvents)
		}
		if o.CIDR.IsValid() {
			o.CIDR = o.CIDR.Masked()
		}
		o.answer = o.contact()
		switch {
		case o.CIDR.IsValid():
			r.cidrs = append(r.cidrs, o)
		case o.ASN != 0:
			for _, x := range r.asns[o.ASN] {
				if x.Origin == o.Origin {
					return nil, fmt.Errorf("override %d: AS%d has two overrides", i, o.ASN)
				}
			}
			r.asns[o.ASN] = append(r.asns[o.ASN], o)
		default:
			return nil, fmt.Errorf("override %d: needs a cidr or an asn", i)
		}
		if len(o.To) == 0 && !o.Inhibit {
			return nil, fmt.Errorf("override %s: needs addresses, or inhibit", o.Key())
		}
		if !ValidFormat(o.Format) {
			return nil, fmt.Errorf("override %s: format %q is not %s", o.Key(), o.Format, FormatHelp)
		}
	}
	sort.SliceStable(r.cidrs, func(i, j int) bool { return r.cidrs[i].CIDR.Bits() > r.cidrs[j].CIDR.Bits() })
	for _, o := range r.cidrs {
		os, _ := r.byPrefix.get(o.CIDR)
		r.byPrefix.set(o.CIDR, append(os, o))
	}
	return r, nil
}

// WithClock returns a resolver that reads the time (for override expiry)
// from now.
func (r *Resolver) WithClock(now func() time.Time) *Resolver {
	c := *r
	c.now = now
	return &c
}

// Overrides lists the rules in the order they are tried.
func (r *Resolver) Overrides() []Override {
	out := slices.Clone(r.cidrs)
	asns := make([]uint32, 0, len(r.asns))
	for a := range r.asns {
		asns = append(asns, a)
	}
	slices.Sort(asns)
	for _, a := range asns {
		out = append(out, r.asns[a]...)
	}
	return out
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
	now := r.now()
	var hit *Override
	r.byPrefix.each(ip, func(os []Override) bool {
		for i := range os {
			if os[i].active(now) {
				hit = &os[i]
				return true
			}
		}
		return false
	})
	if hit != nil {
		return hit.answer
	}
	if asn != 0 {
		for _, o := range r.asns[asn] {
			if o.active(now) {
				return o.answer
			}
		}
	}
	for _, s := range r.sources {
		if c, ok := s.Lookup(ip, asn); ok {
			return c
		}
	}
	return r.fallback
}

// Fallback is the CERT's own contact, the last step.
func (r *Resolver) Fallback() Contact { return r.fallback }
