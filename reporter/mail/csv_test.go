package mail

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// referenceCSV is WriteCSV as it was first written: every extra column
// looked up in every event with ExtraValue. Slow (columns × fields per
// row), and the meaning WriteCSV must keep: the first of two fields of one
// name wins, fields named like a fixed column are not repeated. The column
// order is extraColumns' (TestExtraColumns).
func referenceCSV(events []reporter.Event) []byte {
	var buf bytes.Buffer
	extra := extraColumns(events)
	cw := csv.NewWriter(&buf)
	header := append(append([]string(nil), Columns...), extra...)
	for i := range header {
		header[i] = SafeCell(header[i])
	}
	cw.Write(header)
	for _, e := range events {
		port, asn := "", ""
		if e.Port != 0 {
			port = strconv.Itoa(e.Port)
		}
		if e.ASN != 0 {
			asn = strconv.FormatUint(uint64(e.ASN), 10)
		}
		rec := []string{e.Time.UTC().Format(time.RFC3339), e.IP.String(), port, SafeCell(e.Protocol), asn,
			SafeCell(e.Hostname), SafeCell(e.Classification), SafeCell(e.Identifier), SafeCell(e.Feed),
			SafeCell(e.ReportType), SafeCell(e.ASOrg), SafeCell(e.Country)}
		for _, k := range extra {
			rec = append(rec, SafeCell(e.ExtraValue(k)))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return buf.Bytes()
}

func TestWriteCSVMatchesLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"dst_ip", "dst_port", "tag", "=cmd", "http_host", "ip", "feed", "a", "b", "c", "d", "e"}
	for round := 0; round < 50; round++ {
		var events []reporter.Event
		for i := 0; i < 1+rng.IntN(8); i++ {
			e := reporter.Event{Time: t0.Add(time.Duration(i) * time.Minute), IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
				Port: rng.IntN(3) * 443, ASN: uint32(rng.IntN(2)) * 64500, Feed: "f", Classification: "scanner", Identifier: "-x"}
			for j := 0; j < rng.IntN(10); j++ {
				e.Extra = append(e.Extra, reporter.Field{Key: keys[rng.IntN(len(keys))], Value: fmt.Sprintf("+v%d", rng.IntN(5))})
			}
			events = append(events, e)
		}
		var got bytes.Buffer
		if err := WriteCSV(&got, events); err != nil {
			t.Fatal(err)
		}
		if want := referenceCSV(events); !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("round %d differs from the lookup:\n%s\nwant:\n%s", round, got.Bytes(), want)
		}
	}
}

// wideEvents is a feed with many columns: each event carries every one.
func wideEvents(events, columns int) []reporter.Event {
	out := make([]reporter.Event, events)
	for i := range out {
		e := reporter.Event{Time: t0, IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Feed: "wide", Classification: "scanner"}
		e.Extra = make([]reporter.Field, columns)
		for j := range e.Extra {
			e.Extra[j] = reporter.Field{Key: "col" + strconv.Itoa(j), Value: strconv.Itoa(i * j)}
		}
		out[i] = e
	}
	return out
}

// A CSV's cost grows with its size, not with columns × fields: 100,000
// columns took minutes when every column was looked up in every event.
// No clock is read here (BenchmarkWriteCSV measures); a quadratic
// WriteCSV shows as this test running for minutes.
func TestWriteCSVWide(t *testing.T) {
	events := wideEvents(3, 100_000)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, events); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 4 || len(rows[0]) != len(Columns)+100_000 || rows[2][len(Columns)+99_999] != strconv.Itoa(99_999) {
		t.Fatalf("%v: %d rows", err, len(rows))
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	for _, c := range []struct{ events, columns int }{{1000, 10}, {10, 1000}, {2, 10_000}, {2, 100_000}} {
		b.Run(fmt.Sprintf("events=%d/columns=%d", c.events, c.columns), func(b *testing.B) {
			events := wideEvents(c.events, c.columns)
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := WriteCSV(&buf, events); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}

// The source's columns come grouped by report type, each in its file's
// order, though every event leaves its empty values out.
func TestExtraColumns(t *testing.T) {
	ev := func(typ string, keys ...string) reporter.Event {
		e := reporter.Event{ReportType: typ}
		for _, k := range keys {
			e.Extra = append(e.Extra, reporter.Field{Key: k, Value: "x"})
		}
		return e
	}
	tests := []struct {
		name   string
		events []reporter.Event
		want   string
	}{
		{"one event", []reporter.Event{ev("scan_rdp", "tag", "rdp_protocol", "cert_length")}, "[tag rdp_protocol cert_length]"},
		// The header is a, b, c, d; no event has them all.
		{"gaps rebuilt", []reporter.Event{ev("t", "b", "d"), ev("t", "a", "b"), ev("t", "b", "c", "d")}, "[a b c d]"},
		{"a column alone goes last", []reporter.Event{ev("t", "a", "b"), ev("t", "z")}, "[a b z]"},
		{"by report type", []reporter.Event{ev("scan_telnet", "x", "tag"), ev("scan_rdp", "tag", "rdp_protocol")}, "[tag rdp_protocol x]"},
		{"fixed names are not repeated", []reporter.Event{ev("t", "ip", "a")}, "[a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(extraColumns(tt.events)); got != tt.want {
				t.Errorf("columns %s, want %s", got, tt.want)
			}
		})
	}
}
