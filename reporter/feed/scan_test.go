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

// records reads all records with the scanner, split. As Table.Read does,
// it gives the scanner the first record's width once read.
func records(t testing.TB, data []byte, trim bool) ([][]string, []int) {
	sc := newScanner(bytes.NewReader(data), ',', trim)
	var out [][]string
	var lines []int
	for {
		rec, line, err := sc.next()
		if err == io.EOF {
			return out, lines
		}
		if err != nil {
			t.Fatalf("scanner: %v", err)
		}
		if len(rec) == 0 {
			continue // encoding/csv skips blank lines too
		}
		out = append(out, split(rec, ',', trim, nil))
		lines = append(lines, line)
		if sc.fields == 0 {
			sc.fields = len(out[0])
		}
	}
}

// strict reads with encoding/csv, the reference for well-formed input.
func strict(data []byte, trim bool) ([][]string, []int, error) {
	out, lines, _, err := strictSpan(data, trim)
	return out, lines, err
}

// strictSpan is strict, with the number of physical lines each record
// spans.
func strictSpan(data []byte, trim bool) (out [][]string, lines, spans []int, err error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = trim
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, lines, spans, nil
		}
		if err != nil {
			return nil, nil, nil, err
		}
		l, _ := r.FieldPos(0)
		last, _ := r.FieldPos(len(rec) - 1)
		out = append(out, rec)
		lines = append(lines, l)
		spans = append(spans, last+strings.Count(rec[len(rec)-1], "\n")-l+1)
	}
}

func TestScannerCases(t *testing.T) {
	cases := map[string]string{
		"plain":          "a,b,c\n1,2,3\n",
		"quoted":         "\"a\",\"b,c\",\"d\"\"e\"\n",
		"quoted newline": "a,\"x\ny\",b\nc,d\n",
		"crlf":           "a,b\r\n1,2\r\n",
		"no final eol":   "a,b\n1,2",
		"empty fields":   ",,\n\"\",x,\n",
		"blank lines":    "a\n\n\nb\n",
		"crlf in quotes": "a,\"x\r\ny\"\r\nz,w\r\n",
		// With trim: ThreatFox's `"a", "b"`, a quoted delimiter after a space.
		"trim threatfox": "\"2026-11-22 10:00:00\", \"1\", \"192.0.2.1:443\", \"Agentemis,BEACON\", \"Cobalt Strike\"\n",
		"trim newline":   "a, \"x\ny\",  b\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			trim := strings.HasPrefix(name, "trim")
			want, wantLines, err := strict([]byte(in), trim)
			if err != nil {
				t.Fatal(err)
			}
			got, gotLines := records(t, []byte(in), trim)
			// encoding/csv turns \r\n inside quotes into \n; we keep bytes as sent.
			for _, r := range got {
				for i := range r {
					r[i] = strings.ReplaceAll(r[i], "\r\n", "\n")
				}
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotLines, wantLines) {
				t.Errorf("got %q %v, want %q %v", got, gotLines, want, wantLines)
			}
		})
	}
}

func TestFieldWithoutSplit(t *testing.T) {
	rec := []byte(`"2026-11-20 00:00:00","192.0.2.1",3389,"a ""q"" b",,last`)
	for i, want := range []string{"2026-11-20 00:00:00", "192.0.2.1", "3389", `a "q" b`, "", "last"} {
		got, ok := field(rec, i, ',', false)
		if !ok || string(got) != want {
			t.Errorf("field %d = %q, %v; want %q", i, got, ok, want)
		}
	}
	if _, ok := field(rec, 6, ',', false); ok {
		t.Error("field past the end")
	}
}

func TestBadRecords(t *testing.T) {
	in := "h1,h2\n1,\"never closed\n2,3\n"
	var bad []int
	var rows int
	err := Table{}.Read(context.Background(), strings.NewReader(in), func([]string) error { return nil },
		func(*Row) error { rows++; return nil }, func(line int, reason, raw string) { bad = append(bad, line) })
	// Only the line the quote opens on is lost; the next one is read.
	if err != nil || rows != 1 || len(bad) != 1 || bad[0] != 2 {
		t.Errorf("unclosed quote: err %v rows %d bad %v", err, rows, bad)
	}
	long := "h\n" + strings.Repeat("x", MaxRecord+10) + "\nok\n"
	var got []string
	bad = nil
	err = Table{}.Read(context.Background(), strings.NewReader(long), func([]string) error { return nil },
		func(r *Row) error { got = append(got, string(r.FieldBytes(0))); return nil }, func(line int, reason, raw string) { bad = append(bad, line) })
	if err != nil || len(bad) != 1 || len(got) != 1 || got[0] != "ok" {
		t.Errorf("over-long record: err %v bad %v rows %v", err, bad, got)
	}
}

// FuzzScannerMatchesCSV holds the scanner to encoding/csv on every input
// that encoding/csv reads without error, except where the scanner refuses a
// well-formed record on purpose as a stray quote's likely doing: a record
// over MaxRecordLines physical lines, or a record over several lines whose
// width differs from the first record's (the header's, in Table.Read).
// Such inputs are skipped.
func FuzzScannerMatchesCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\"x\ny\",z\n", "a,\"b\"\"c\"\n\n", "\"\"\n", ",\n,,\n"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`"a", "b,c" , "d"`+"\n"), true)
	f.Add([]byte(" x,\t\"y\"\"\"\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, trim bool) {
		if bytes.ContainsAny(data, "\r\x00") || bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
			return // line-ending and BOM handling differ on purpose
		}
		want, wantLines, spans, err := strictSpan(data, trim)
		if err != nil {
			return
		}
		for i, span := range spans {
			if span > MaxRecordLines || (i > 0 && span > 1 && len(want[i]) != len(want[0])) {
				return
			}
		}
		got, gotLines := records(t, data, trim)
		// encoding/csv drops a lone trailing empty field line as a blank line.
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotLines, wantLines) {
			t.Fatalf("input %q:\n got %q %v\nwant %q %v", data, got, gotLines, want, wantLines)
		}
	})
}

func TestParseIPv4(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.10"} {
		a, ok := parseIPv4([]byte(s))
		if !ok || a.String() != s {
			t.Errorf("parseIPv4(%q) = %v, %v", s, a, ok)
		}
	}
	for _, s := range []string{"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1..1.1", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4"} {
		if _, ok := parseIPv4([]byte(s)); ok {
			t.Errorf("parseIPv4(%q) accepted", s)
		}
	}
}

// BenchmarkLineCount is the floor: a bare newline count of the same kind
// of data, to quote beside the parsers' figures.
func BenchmarkLineCount(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&buf, "%s\n", strings.Repeat("x", 640))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	n := 0
	for i := 0; i < b.N; i++ {
		n += bytes.Count(data, []byte{'\n'})
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// scanData is a scan_rdp-like global report of n rows (~600 bytes each),
// quoted as Shadowserver quotes; every 50th row has a quoted field with a
// newline in it when multi is set.
func scanData(n int, multi bool) []byte {
	var b bytes.Buffer
	b.WriteString(`"timestamp","ip","port","hostname","tag","asn","geo","region","city","subject_common_name","issuer_common_name","sha1_fingerprint","sha256_fingerprint","sector"` + "\n")
	for i := 0; i < n; i++ {
		cn := fmt.Sprintf("WIN-%08X", i)
		if multi && i%50 == 0 {
			cn = "multi\nline"
		}
		fmt.Fprintf(&b, `"2026-11-20 %02d:%02d:%02d","100.%d.%d.%d",3389,"host-%d.dyn.example-isp.net","rdp",64512,"XX","SOME REGION","SOME CITY","%s","WIN-%08X","%040x","%0128x","Communications, Service Provider"`+"\n",
			i%24, i%60, i%60, 64+i%60, (i/250)%256, 1+i%250, i, cn, i, i, i)
	}
	return b.Bytes()
}

// BenchmarkTableRead is the scanner's hot path as a parser drives it: every
// record is found and its address field looked at, none is split.
func BenchmarkTableRead(b *testing.B) {
	for _, bc := range []struct {
		name  string
		multi bool
	}{{"oneline", false}, {"multiline", true}} {
		b.Run(bc.name, func(b *testing.B) {
			data := scanData(20000, bc.multi)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := 0
				err := Table{}.Read(context.Background(), bytes.NewReader(data), func([]string) error { return nil },
					func(r *Row) error {
						if len(r.FieldBytes(1)) > 0 {
							n++
						}
						return nil
					}, func(int, string, string) { b.Fatal("bad record") })
				if err != nil || n != 20000 {
					b.Fatalf("read %d rows: %v", n, err)
				}
			}
		})
	}
}
