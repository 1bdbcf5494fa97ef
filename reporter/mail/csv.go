package mail

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// Columns every events.csv starts with, in this order (published in the
// README; scripts rely on it). The source's own columns follow: grouped by
// report type (in name order), each type's in the order its file has them.
var Columns = []string{"time", "ip", "port", "protocol", "asn", "hostname", "classification", "identifier", "feed",
	"report_type", "as_name", "country"}

// extraColumns orders the source's own columns of events: by report type,
// and within one in the file's order. A parser leaves empty values out, so
// an event may lack some columns: a column seen first in an event goes
// before the next column of that event already placed, else after the one
// it follows there, else last, which rebuilds the file's order from the
// events. The same events in the same (report) order give the same columns.
func extraColumns(events []reporter.Event) []string {
	fixed := make(map[string]bool, len(Columns))
	for _, c := range Columns {
		fixed[c] = true
	}
	byType := map[string]*columnOrder{}
	for i := range events {
		e := &events[i]
		o := byType[e.ReportType]
		if o == nil {
			o = newColumnOrder()
			byType[e.ReportType] = o
		}
		// The event's first column already placed, which its leading new
		// columns go before.
		first := ""
		for _, f := range e.Extra {
			if !fixed[f.Key] && o.has(f.Key) {
				first = f.Key
				break
			}
		}
		prev := "" // the column this event's last field went to
		for _, f := range e.Extra {
			switch {
			case fixed[f.Key]:
			case o.has(f.Key):
				prev = f.Key
			case prev != "":
				o.insertAfter(prev, f.Key)
				prev = f.Key
			case first != "":
				o.insertBefore(first, f.Key)
				prev = f.Key
			default:
				o.insertBefore(tail, f.Key)
				prev = f.Key
			}
		}
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	var out []string
	done := map[string]bool{}
	for _, t := range types {
		for c := byType[t].next[head]; c != tail; c = byType[t].next[c] {
			if !done[c] {
				done[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// columnOrder is a list of column names with O(1) insertion beside any of
// them: a feed may have 100,000 columns.
type columnOrder struct {
	next, prev map[string]string
}

// head and tail are the list's ends; no column has these names (a NUL
// cannot come from a parser: feed.Clean removes control characters).
const head, tail = "\x00head", "\x00tail"

func newColumnOrder() *columnOrder {
	return &columnOrder{next: map[string]string{head: tail}, prev: map[string]string{tail: head}}
}

func (o *columnOrder) has(c string) bool { _, ok := o.next[c]; return ok }

func (o *columnOrder) insertAfter(at, c string) {
	n := o.next[at]
	o.next[at], o.prev[c], o.next[c], o.prev[n] = c, at, n, c
}

func (o *columnOrder) insertBefore(at, c string) { o.insertAfter(o.prev[at], c) }

// WriteCSV writes events as UTF-8 CSV with a header row. Every value that
// came from a feed is made safe against formula injection.
//
// Its cost is linear in its output: each extra column's position is
// indexed once, and each event's fields are placed by that index, instead of
// looking every column up in every event (columns × fields per row, minutes
// for a feed with 100,000 columns).
func WriteCSV(w io.Writer, events []reporter.Event) error {
	extra := extraColumns(events)
	// pos is an extra column's index in the row after the fixed columns;
	// the fixed columns are -1, so that a field of the same name is not
	// written twice.
	pos := make(map[string]int, len(Columns)+len(extra))
	for _, c := range Columns {
		pos[c] = -1
	}
	for i, c := range extra {
		pos[c] = i
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
	for i := range events {
		e := &events[i]
		fixedRow(rec, e)
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

// fixedRow fills the first len(Columns) cells of rec from e.
func fixedRow(rec []string, e *reporter.Event) {
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
	rec[9], rec[10], rec[11] = SafeCell(e.ReportType), SafeCell(e.ASOrg), SafeCell(e.Country)
}

// rowSize is about how many bytes e takes in the CSV: its values, a
// separator each, and room for quoting.
func rowSize(e *reporter.Event) int {
	n := 25 + 40 + 12 + len(e.Protocol) + len(e.Hostname) + len(e.Classification) + len(e.Identifier) + len(e.Feed) +
		len(e.ReportType) + len(e.ASOrg) + len(e.Country) + 2*len(Columns)
	for _, f := range e.Extra {
		n += len(f.Value) + 3
	}
	return n + n/8
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
