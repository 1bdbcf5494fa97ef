package geo

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Delegated is what an RIR's delegated-stats file (delegated-ripencc-latest
// and its siblings) says is registered to the constituency's countries: the
// registration, which geolocation may contradict.
type Delegated struct {
	File   string
	spans  []span
	ASNs   map[uint32]string // ASN -> country
	Ranges int               // address records read for the countries
}

// LoadDelegated reads a delegated-stats file and keeps the allocated and
// assigned records of the given countries.
func LoadDelegated(path string, countries []string) (*Delegated, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("delegated stats %s: %w", path, err)
	}
	defer f.Close()
	d, err := ParseDelegated(f, countries)
	if err != nil {
		return nil, fmt.Errorf("delegated stats %s: %w", path, err)
	}
	d.File = path
	return d, nil
}

// ParseDelegated reads the format
//
//	registry|cc|type|start|value|date|status[|opaque-id[|extensions...]]
//
// where value is an address count for ipv4, a prefix length for ipv6 and an
// ASN count for asn. The version line, summary lines and comments are
// skipped; so are available and reserved records.
func ParseDelegated(r io.Reader, countries []string) (*Delegated, error) {
	want := map[string]bool{}
	for _, c := range countries {
		want[strings.ToUpper(c)] = true
	}
	d := &Delegated{ASNs: map[uint32]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Split(text, "|")
		if len(f) < 7 {
			continue // the version line has 7 fields too but a numeric first one; summaries end in "summary"
		}
		if _, err := strconv.Atoi(f[0]); err == nil {
			continue // version line
		}
		cc := strings.ToUpper(f[1])
		if cc == "*" || !want[cc] {
			continue
		}
		if st := f[6]; st != "allocated" && st != "assigned" {
			continue
		}
		switch f[2] {
		case "ipv4":
			start, err := netip.ParseAddr(f[3])
			n, nerr := strconv.ParseUint(f[4], 10, 33)
			if err != nil || !start.Is4() || nerr != nil || n == 0 {
				return nil, fmt.Errorf("line %d: ipv4 record %s|%s is not a start address and a count", line, f[3], f[4])
			}
			lo := fromAddr(start)
			hi := u128{Hi: lo.Hi, Lo: lo.Lo + n - 1}
			if hi.Lo < lo.Lo || hi.Lo > fromAddr(netip.MustParseAddr("255.255.255.255")).Lo {
				return nil, fmt.Errorf("line %d: ipv4 record %s|%s runs past the end of the address space", line, f[3], f[4])
			}
			d.spans = append(d.spans, span{lo, hi})
			d.Ranges++
		case "ipv6":
			bitsLen, err := strconv.Atoi(f[4])
			p, perr := netip.ParsePrefix(f[3] + "/" + f[4])
			if err != nil || perr != nil || bitsLen < 0 {
				return nil, fmt.Errorf("line %d: ipv6 record %s|%s is not a prefix", line, f[3], f[4])
			}
			d.spans = append(d.spans, prefixSpan(p))
			d.Ranges++
		case "asn":
			start, err := strconv.ParseUint(f[3], 10, 32)
			n, nerr := strconv.ParseUint(f[4], 10, 32)
			if err != nil || nerr != nil || n == 0 || start+n-1 > 1<<32-1 {
				return nil, fmt.Errorf("line %d: asn record %s|%s is not a start ASN and a count", line, f[3], f[4])
			}
			if n > 1<<20 {
				return nil, fmt.Errorf("line %d: asn record of %d ASNs is implausible", line, n)
			}
			for a := start; a < start+n; a++ {
				d.ASNs[uint32(a)] = cc
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	d.spans = merge(d.spans)
	return d, nil
}

// Contains reports whether a is in a range registered to the countries.
func (d *Delegated) Contains(a netip.Addr) bool {
	if d == nil {
		return false
	}
	return (&RangeSet{spans: d.spans}).Contains(a)
}
