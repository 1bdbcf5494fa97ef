// Package feed holds what every feed format shares: a streaming table
// reader that survives broken rows (a stray quote costs its own line, see
// MaxRecordLines), the parsing of the values feeds disagree on (addresses,
// timestamps), and the caps on an event's extra columns. Each format is a
// sub-package.
//
// Extra columns: an event keeps at most MaxExtraFields extra fields and
// MaxExtraBytes of their keys and values, the first ones in the feed's
// order (name order for JSON). When anything is cut, one more field is
// added last, TruncatedKey ("truncated"), whose value counts the non-empty
// values dropped: "99872 columns dropped". It is stored and mailed like any
// other extra column, so an operator and the ISP can both see the cut.
package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrNoHeader is returned for a file with no header row.
var ErrNoHeader = errors.New("no header row")

// Table reads a delimited file with a header row, one record at a time.
type Table struct {
	Delimiter rune // default ','; one ASCII character
	Comment   rune // lines starting with it are skipped; 0 for none
	// TrimLeadingSpace skips spaces before each field, so that `"a", "b"`
	// (abuse.ch's ThreatFox export) reads as two quoted fields.
	TrimLeadingSpace bool
	// Header names the columns of a file without a header row (abuse.ch
	// writes it as a comment). A first row equal to it is skipped.
	Header []string
}

// Read streams r: header is called once with the column names (lower
// case, trimmed), then row for every record. A record that cannot be read
// (a record over MaxRecord; a quoted field that spans lines and does not
// close by the end of the file, or within MaxRecordLines lines, or gives a
// record not as wide as the header: a stray quote) goes to bad with its
// line and reason (for a stray quote, with its first line only), and
// reading goes on at the next line. Read stops on a read error, on an error
// from row, or when ctx is done.
func (t Table) Read(ctx context.Context, r io.Reader, header func(cols []string) error, row func(*Row) error, bad func(line int, reason, raw string)) error {
	delim := byte(',')
	if t.Delimiter != 0 {
		if t.Delimiter >= utf8.RuneSelf || t.Delimiter == '"' || t.Delimiter == '\n' || t.Delimiter == '\r' {
			return fmt.Errorf("delimiter %q: must be one ASCII character other than a quote or a line break", t.Delimiter)
		}
		delim = byte(t.Delimiter)
	}
	comment := byte(0)
	if t.Comment != 0 && t.Comment < utf8.RuneSelf {
		comment = byte(t.Comment)
	}
	sc := newScanner(r, delim, t.TrimLeadingSpace)
	skip := func(rec []byte) bool {
		return len(bytes.TrimSpace(rec)) == 0 || (comment != 0 && rec[0] == comment)
	}
	var names []string
	for _, h := range t.Header {
		names = append(names, strings.ToLower(strings.TrimSpace(h)))
	}
	headerRow := func(rec []byte) bool {
		if len(t.Header) == 0 {
			return false
		}
		got := split(rec, delim, t.TrimLeadingSpace, nil)
		if len(got) != len(names) {
			return false
		}
		for i := range got {
			if strings.ToLower(strings.TrimSpace(got[i])) != names[i] {
				return false
			}
		}
		return true
	}
	for len(t.Header) == 0 {
		rec, _, err := sc.next()
		if err == io.EOF {
			return ErrNoHeader
		}
		if err != nil {
			return fmt.Errorf("header: %w", err)
		}
		if skip(rec) {
			continue
		}
		for _, c := range split(rec, delim, t.TrimLeadingSpace, nil) {
			names = append(names, strings.ToLower(strings.TrimSpace(c)))
		}
		break
	}
	if err := header(names); err != nil {
		return err
	}
	// A record that spans lines must be as wide as the header; see
	// ErrStrayQuote.
	sc.fields = len(names)
	var rw Row
	first := true
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, line, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrUnterminated) || errors.Is(err, ErrStrayQuote) || errors.Is(err, errTooLong) {
				bad(line, err.Error(), Clip(string(rec), 2048))
				continue
			}
			return err
		}
		if skip(rec) {
			continue
		}
		if first {
			first = false
			if headerRow(rec) {
				continue
			}
		}
		rw = Row{Line: line, raw: rec, delim: delim, trim: t.TrimLeadingSpace, fields: rw.fields[:0]}
		if err := row(&rw); err != nil {
			return err
		}
	}
}

// Columns finds column indexes by name.
type Columns map[string]int

// NewColumns indexes a header.
func NewColumns(names []string) Columns {
	c := make(Columns, len(names))
	for i, n := range names {
		if _, dup := c[n]; !dup {
			c[n] = i
		}
	}
	return c
}

// First returns the index of the first of the names present, or -1.
func (c Columns) First(names ...string) int {
	for _, n := range names {
		if i, ok := c[n]; ok {
			return i
		}
	}
	return -1
}

// URLAddr returns the address a URL's host names, with the URL's port (0
// when none is written). ok is false when the host is a domain name, or
// when the URL is empty. A URL without a scheme (`192.0.2.1:8080/x.sh`, as
// feeds write them) is read as http.
func URLAddr(raw string) (ip netip.Addr, port int, ok bool, err error) {
	if raw == "" {
		return netip.Addr{}, 0, false, nil
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return netip.Addr{}, 0, false, fmt.Errorf("not a URL: %q", Clip(raw, 120))
	}
	host := u.Hostname()
	a, aerr := netip.ParseAddr(host)
	if aerr != nil || a.Zone() != "" {
		// A host that looks numeric but is not an address (999.1.1.1) is
		// a broken row, not a domain name.
		if strings.Trim(host, "0123456789.") == "" {
			return netip.Addr{}, 0, false, fmt.Errorf("host %q is not an IP address", Clip(host, 64))
		}
		return netip.Addr{}, 0, false, nil
	}
	if p := u.Port(); p != "" {
		if port, err = ParsePort(p); err != nil {
			return netip.Addr{}, 0, false, err
		}
	}
	return a.Unmap(), port, true, nil
}

// ParseAddrBytes is ParseAddr on bytes, with an allocation-free path for
// plain IPv4, the shape of nearly every row of a global feed.
func ParseAddrBytes(b []byte) (netip.Addr, error) {
	if a, ok := parseIPv4(b); ok {
		return a, nil
	}
	return ParseAddr(string(b))
}

// parseIPv4 parses dotted-quad IPv4 with no leading zeros, as netip does.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var out [4]byte
	k, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || k > 3 {
				return netip.Addr{}, false
			}
			out[k] = byte(val)
			k++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if k != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(out), true
}

// ParseAddrOrNetworkBytes is ParseAddrOrNetwork on bytes, fast for IPv4.
func ParseAddrOrNetworkBytes(b []byte) (netip.Addr, netip.Prefix, error) {
	if a, ok := parseIPv4(b); ok {
		return a, netip.Prefix{}, nil
	}
	return ParseAddrOrNetwork(string(b))
}

// Get returns field i of rec, or "" when the row is too short or i is -1.
func Get(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// ParseAddr parses an address as feeds write it: surrounding space, an
// IPv6 zone, IPv4 in IPv6 (::ffff:a.b.c.d), all tolerated. Leading zeros in
// IPv4 are refused: 010.1.1.1 is octal to some tools and decimal to others,
// and a wrong guess reports the wrong customer.
func ParseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("not an IP address: %q", Clip(s, 64))
	}
	return a.Unmap(), nil
}

// ParseAddrOrNetwork parses an address, or a CIDR as blocklists write
// them. For a CIDR it returns the network's first address, which decides
// ownership and constituency, and the network itself.
func ParseAddrOrNetwork(s string) (netip.Addr, netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := ParseAddr(s)
		return a, netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("not an IP address or CIDR: %q", Clip(s, 64))
	}
	p = p.Masked()
	if p.Addr().Is4In6() {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("IPv4-mapped CIDR %q is ambiguous", Clip(s, 64))
	}
	if p.IsSingleIP() {
		return p.Addr(), netip.Prefix{}, nil
	}
	return p.Addr(), p, nil
}

// ParseEndpoint parses what an address column may hold: an address, a CIDR,
// or an address with a port as IOC feeds write them ("192.0.2.1:443",
// "[2001:db8::1]:443"). port is 0 when none was given.
func ParseEndpoint(b []byte) (netip.Addr, netip.Prefix, int, error) {
	a, p, err := ParseAddrOrNetworkBytes(b)
	if err == nil {
		return a, p, 0, nil
	}
	if ap, aerr := netip.ParseAddrPort(strings.TrimSpace(string(b))); aerr == nil {
		return ap.Addr().Unmap(), netip.Prefix{}, int(ap.Port()), nil
	}
	return netip.Addr{}, netip.Prefix{}, 0, err
}

// timeLayouts are the timestamp shapes seen in real feeds, tried in order.
var timeLayouts = []string{
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime parses a timestamp. With an empty layout it tries the common
// shapes and Unix epoch seconds (or milliseconds); times without a zone
// are UTC, as every feed we know means them.
func ParseTime(s, layout string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	if layout != "" {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q does not match %q", Clip(s, 40), layout)
		}
		return t.UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(int64(n)).UTC(), nil
		}
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is in no known format", Clip(s, 40))
}

// ParsePort parses a port; empty is 0.
func ParsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", Clip(s, 20))
	}
	return p, nil
}

// Clean makes a feed value safe to carry: invalid UTF-8 (latin-1 bytes) is
// decoded as latin-1, control characters become spaces, and the result is cut
// at max bytes.
func Clean(s string, max int) string {
	if !utf8.ValidString(s) {
		rs := make([]rune, 0, len(s))
		for i := 0; i < len(s); i++ {
			rs = append(rs, rune(s[i]))
		}
		s = string(rs)
	}
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return Clip(s, max)
}

// Clip cuts s at max bytes without splitting a UTF-8 sequence.
func Clip(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
