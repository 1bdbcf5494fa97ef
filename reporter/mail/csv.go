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
//
// Its cost is linear in its output: each extra column's position is
// indexed once, and each event's fields are placed by that index, instead of
// looking every column up in every event (columns × fields per row, minutes
// for a feed with 100,000 columns).
func WriteCSV(w io.Writer, events []reporter.Event) error {
	// pos is an extra column's index in the row after the fixed columns;
	// the fixed columns are -1, so that a field of the same name is not
	// written twice.
	pos := make(map[string]int, len(Columns))
	for _, c := range Columns {
		pos[c] = -1
	}
	var extra []string
	for _, e := range events {
		for _, f := range e.Extra {
			if _, ok := pos[f.Key]; !ok {
				pos[f.Key] = len(extra)
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
	extraRec := rec[len(Columns):]
	for _, e := range events {
		port := ""
		if e.Port != 0 {
			port = strconv.Itoa(e.Port)
		}
		asn := ""
		if e.ASN != 0 {
			asn = strconv.FormatUint(uint64(e.ASN), 10)
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = e.Time.UTC().Format(time.RFC3339), e.IP.String(), port, SafeCell(e.Protocol), asn
		rec[5], rec[6], rec[7], rec[8] = SafeCell(e.Hostname), SafeCell(e.Classification), SafeCell(e.Identifier), SafeCell(e.Feed)
		clear(extraRec)
		// Backwards, so that of two fields with one name the first wins,
		// as Event.ExtraValue answers.
		for i := len(e.Extra) - 1; i >= 0; i-- {
			if p := pos[e.Extra[i].Key]; p >= 0 {
				extraRec[p] = SafeCell(e.Extra[i].Value)
			}
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
