package mail

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// Columns every events.csv starts with, in this order; the extra columns of
// the feeds follow in the order they first appear.
var Columns = []string{"time", "ip", "port", "protocol", "asn", "hostname", "classification", "identifier", "feed"}

// WriteCSV writes events as UTF-8 CSV with a header row. Every value that
// came from a feed is made safe against formula injection.
func WriteCSV(w io.Writer, events []reporter.Event) error {
	var extra []string
	seen := map[string]bool{}
	for _, c := range Columns {
		seen[c] = true
	}
	for _, e := range events {
		for _, f := range e.Extra {
			if !seen[f.Key] {
				seen[f.Key] = true
				extra = append(extra, f.Key)
			}
		}
	}
	cw := csv.NewWriter(w)
	header := append(append([]string(nil), Columns...), extra...)
	for i := range header {
		header[i] = SafeCell(header[i])
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	for _, e := range events {
		port := ""
		if e.Port != 0 {
			port = strconv.Itoa(e.Port)
		}
		asn := ""
		if e.ASN != 0 {
			asn = strconv.FormatUint(uint64(e.ASN), 10)
		}
		copy(rec, []string{
			e.Time.UTC().Format(time.RFC3339), e.IP.String(), port, SafeCell(e.Protocol), asn,
			SafeCell(e.Hostname), SafeCell(e.Classification), SafeCell(e.Identifier), SafeCell(e.Feed),
		})
		for i, k := range extra {
			rec[len(Columns)+i] = SafeCell(e.ExtraValue(k))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell defuses a value that a spreadsheet would run as a formula (OWASP:
// a leading =, +, -, @, tab or carriage return) by prefixing a single quote.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
