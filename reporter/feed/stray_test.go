package feed

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

type badRow struct {
	line        int
	reason, raw string
}

// readAll reads a file with Table.Read, as a parser does, and returns each
// row's fields with its line, and what went to bad.
func readAll(t testing.TB, data string) (rows [][]string, lines []int, bad []badRow) {
	t.Helper()
	err := Table{}.Read(context.Background(), strings.NewReader(data), func([]string) error { return nil },
		func(r *Row) error {
			rows = append(rows, append([]string(nil), r.Fields()...))
			lines = append(lines, r.Line)
			return nil
		},
		func(line int, reason, raw string) { bad = append(bad, badRow{line, reason, raw}) })
	if err != nil {
		t.Fatal(err)
	}
	return rows, lines, bad
}

// report is a Shadowserver-like report of n data rows (lines 2 to n+1),
// with the hostname of the rows in stray lines opened by a quote that never
// closes.
func report(n int, stray ...int) (data string, lines []string) {
	lines = append(lines, "timestamp,ip,port,hostname,tag")
	for i := 1; i <= n; i++ {
		host := fmt.Sprintf("h%d.example.fi", i)
		for _, s := range stray {
			if s == i+1 {
				host = `"` + host
			}
		}
		lines = append(lines, fmt.Sprintf("2026-11-20 00:00:00,192.0.2.%d,3389,%s,rdp", i%250+1, host))
	}
	return strings.Join(lines, "\n") + "\n", lines
}

// TestStrayQuote: a quote that opens and never closes (or closes on a later
// row) costs the row it is on, never the rows after it.
func TestStrayQuote(t *testing.T) {
	for _, tt := range []struct {
		name  string
		rows  int
		stray []int // lines with a stray quote
	}{
		{"one stray quote on line 2", 1000, []int{2}},
		{"stray quotes on lines 2 and 500", 1000, []int{2, 500}},
		{"on the last line", 1000, []int{1001}},
		{"on lines 2 and 5, merging 2-5 before", 20, []int{2, 5}},
		{"on two lines in a row", 20, []int{3, 4}},
		{"on every line", 20, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, src := report(tt.rows, tt.stray...)
			rows, lines, bad := readAll(t, data)
			if len(rows) != tt.rows-len(tt.stray) || len(bad) != len(tt.stray) {
				t.Fatalf("%d rows read, %d rejected (%+v); want %d and %d", len(rows), len(bad), bad, tt.rows-len(tt.stray), len(tt.stray))
			}
			for i, b := range bad {
				if b.line != tt.stray[i] || b.raw != src[b.line-1] || !strings.Contains(b.reason, "quote") {
					t.Errorf("reject %d: line %d %q %q; want line %d %q", i, b.line, b.reason, b.raw, tt.stray[i], src[tt.stray[i]-1])
				}
			}
			// Every other row comes out whole, on its own line.
			for i, r := range rows {
				if got, want := strings.Join(r, ","), src[lines[i]-1]; got != want {
					t.Fatalf("row at line %d = %q, want %q", lines[i], got, want)
				}
			}
		})
	}
}

// TestQuotedLineBreaks: a field that legitimately holds line breaks is one
// record up to MaxRecordLines physical lines; a multi-line record that does
// not have the header's width, or has text after a closing quote, is a
// stray quote's doing and costs only its first line.
func TestQuotedLineBreaks(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		rows  []string // fields joined by |
		lines []int
		bad   []int
	}{
		{
			name:  "two lines",
			in:    "a,b,c\n1,\"x\ny\",3\n4,5,6\n",
			rows:  []string{"1|x\ny|3", "4|5|6"},
			lines: []int{2, 4},
		},
		{
			name:  "three lines, crlf",
			in:    "a,b,c\r\n1,\"x\r\ny\r\nz\",3\r\n4,5,6\r\n",
			rows:  []string{"1|x\r\ny\r\nz|3", "4|5|6"},
			lines: []int{2, 5},
		},
		{
			name:  "exactly MaxRecordLines lines",
			in:    "a,b\n1,\"" + strings.Repeat("x\n", MaxRecordLines-1) + "y\"\n2,3\n",
			rows:  []string{"1|" + strings.Repeat("x\n", MaxRecordLines-1) + "y", "2|3"},
			lines: []int{2, 2 + MaxRecordLines},
		},
		{
			// Past the cap the quote counts as stray: the first line goes, the
			// rest is read as rows.
			name:  "one line more than MaxRecordLines",
			in:    "a,b\n1,\"" + strings.Repeat("x\n", MaxRecordLines) + "y\"\n2,3\n",
			rows:  append(append([]string(nil), strings.Split(strings.Repeat("x,", MaxRecordLines), ",")[:MaxRecordLines-1]...), `y"`, "2|3"),
			lines: seq(3, 3+MaxRecordLines+1),
			bad:   []int{2},
		},
		{
			// Line 2 lost its closing quote; line 4 opens a legitimate field
			// whose value starts with a line break. Read together, lines 2-4
			// are two fields, not four: line 2 goes, lines 4-5 stay a record.
			name:  "width differs from the header",
			in:    "a,b,c,d\n1,\"2,3,4\n5,6,7,8\n9,\"\nx\",11,12\n13,14,15,16\n",
			rows:  []string{"5|6|7|8", "9|\nx|11|12", "13|14|15|16"},
			lines: []int{3, 4, 6},
			bad:   []int{2},
		},
		{
			// Line 3's opening quote closes line 2's stray one, and "5" is
			// left after it: not CSV, whatever the width.
			name:  "text after the closing quote",
			in:    "a,b,c\n1,\"2,3\n4,\"5\",6\n7,8,9\n",
			rows:  []string{`4|5|6`, "7|8|9"},
			lines: []int{3, 4},
			bad:   []int{2},
		},
		{
			name: "short single-line rows are not this check's business",
			in:   "a,b,c\n1,2\n3,\"4\",5,6\n",
			rows: []string{"1|2", "3|4|5|6"}, lines: []int{2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, lines, bad := readAll(t, tt.in)
			var got []string
			for _, r := range rows {
				got = append(got, strings.Join(r, "|"))
			}
			var badLines []int
			for _, b := range bad {
				badLines = append(badLines, b.line)
			}
			if !reflect.DeepEqual(got, tt.rows) || !reflect.DeepEqual(lines, tt.lines) || !reflect.DeepEqual(badLines, tt.bad) {
				t.Errorf("rows %q at %v, bad %+v;\nwant %q at %v, bad %v", got, lines, bad, tt.rows, tt.lines, tt.bad)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// FuzzStrayQuote takes well-formed CSV, puts one stray quote at the start of
// a field of one single-line data row, and checks that at most that row is
// lost: every other row comes out as encoding/csv reads the file without
// the stray quote, and nothing but that row's line is rejected.
//
// Inputs are skipped where the guarantee does not hold by design: records
// over MaxRecordLines lines (rejected as runaways even when whole), and files
// with a quoted field whose value starts with the delimiter or a line break
// (after any "" pairs). A stray quote runs on until the next opening quote;
// when that quote is followed by a delimiter or a line break the merged
// record looks well formed, and only the width check can still catch it.
func FuzzStrayQuote(f *testing.F) {
	f.Add([]byte("ts,ip,host,tag\n1,192.0.2.1,h1.example.fi,rdp\n2,192.0.2.2,h2.example.fi,rdp\n3,192.0.2.3,h3,rdp\n"), uint16(1), uint8(2))
	f.Add([]byte("\"ts\",\"ip\",\"host\"\n\"1\",\"192.0.2.1\",\"a\"\n\"2\",\"192.0.2.2\",\"multi\nline\"\n\"3\",\"x\",\"y\"\n"), uint16(0), uint8(1))
	f.Add([]byte("a,b\n1,2\n3,\"x\"\"y\"\n5,6\n"), uint16(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, row uint16, col uint8) {
		if bytes.ContainsAny(data, "\r\x00") || bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
			return
		}
		want, starts, spans, err := strictSpans(data)
		if err != nil || len(want) < 2 || len(want[0]) < 2 {
			return // not well formed, no data row, or one column (blank rows differ)
		}
		for i, s := range spans {
			if s > MaxRecordLines {
				return
			}
			for _, v := range want[i] {
				if strings.HasPrefix(strings.TrimLeft(v, `"`), ",") || strings.HasPrefix(strings.TrimLeft(v, `"`), "\n") {
					return
				}
			}
		}
		for _, v := range want[0] {
			if strings.TrimSpace(v) == "" {
				return // Table.Read would lower-case and trim; the header is not the point
			}
		}
		r := 1 + int(row)%(len(want)-1)
		if spans[r] != 1 {
			return // the stray goes on a row that is one line
		}
		lines := strings.SplitAfter(string(data), "\n")
		ln := starts[r] - 1
		// The start of field col on that line, found by splitting it as csv does.
		pos, k := 0, int(col)%len(want[r])
		for i := 0; i < k; i++ {
			end, _ := fieldEnd(lines[ln], pos)
			pos = end + 1
		}
		lines[ln] = lines[ln][:pos] + `"` + lines[ln][pos:]
		broken := strings.Join(lines, "")

		var got [][]string
		var gotLines []int
		var bad []int
		err = Table{}.Read(context.Background(), strings.NewReader(broken), func([]string) error { return nil },
			func(rw *Row) error {
				got = append(got, append([]string(nil), rw.Fields()...))
				gotLines = append(gotLines, rw.Line)
				return nil
			}, func(line int, reason, raw string) { bad = append(bad, line) })
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(bad) > 1 || (len(bad) == 1 && bad[0] != starts[r]) {
			t.Fatalf("input %q: rejected lines %v, only %d may be", broken, bad, starts[r])
		}
		// Every row but r, in order, on its own line; row r may be gone or garbled.
		j := 0
		for i := 1; i < len(want); i++ {
			if i == r {
				if j < len(got) && gotLines[j] == starts[r] {
					j++
				}
				continue
			}
			if j >= len(got) || !reflect.DeepEqual(got[j], want[i]) || gotLines[j] != starts[i] {
				t.Fatalf("input %q:\nrow %d (line %d) is %q, want %q\nall: %q at %v", broken, i, starts[i], at(got, j), want[i], got, gotLines)
			}
			j++
		}
		if j != len(got) {
			t.Fatalf("input %q: %d rows more than the file has: %q", broken, len(got)-j, got[j:])
		}
	})
}

func at(rows [][]string, i int) []string {
	if i < len(rows) {
		return rows[i]
	}
	return nil
}

// fieldEnd returns the index of the delimiter that ends the field starting
// at pos on a line of well-formed CSV, or the line's length.
func fieldEnd(line string, pos int) (int, bool) {
	if pos < len(line) && line[pos] == '"' {
		end := closingQuote([]byte(line), pos+1)
		i := strings.IndexByte(line[end:], ',')
		if i < 0 {
			return len(line), true
		}
		return end + i, true
	}
	i := strings.IndexByte(line[pos:], ',')
	if i < 0 {
		return len(line), false
	}
	return pos + i, false
}

// strictSpans reads data with encoding/csv (every record as wide as the
// first) and returns the records, the line each starts on and the number
// of physical lines each spans.
func strictSpans(data []byte) (recs [][]string, starts, spans []int, err error) {
	r := csv.NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs, starts, spans, nil
		}
		if err != nil {
			return nil, nil, nil, err
		}
		first, _ := r.FieldPos(0)
		last, _ := r.FieldPos(len(rec) - 1)
		recs = append(recs, rec)
		starts = append(starts, first)
		spans = append(spans, last+strings.Count(rec[len(rec)-1], "\n")-first+1)
	}
}
