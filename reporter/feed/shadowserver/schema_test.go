package shadowserver

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
)

func sharedSchema(t *testing.T) *Schema {
	t.Helper()
	p := filepath.Join("..", "..", "..", "..", "shared", "samples", "shadowserver-schema", "reports.json")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" && os.Getenv("AUTOREPORTER_NO_SAMPLES") == "" {
			t.Fatalf("schema not found at %s", p)
		}
		t.Skipf("no samples: Shadowserver schema not found at %s; put ../shared/samples beside the project to run this", p)
	}
	s, err := LoadSchema(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rowFor builds one row for a field list, with a plausible value per field.
// Other fields hold a delimiter and quotes; only the first of them holds a
// line break, as a banner might: a record spread over more than
// feed.MaxRecordLines lines is read as a stray quote.
func rowFor(fields []string) []string {
	row := make([]string, len(fields))
	broken := false
	for i, f := range fields {
		switch {
		case f == "timestamp":
			row[i] = "2026-11-20 01:02:03"
		case f == "ip" || f == "src_ip":
			row[i] = "192.0.2.1"
		case f == "dst_ip":
			row[i] = "203.0.113.9"
		case strings.HasSuffix(f, "port"):
			row[i] = "443"
		case f == "protocol":
			row[i] = "tcp"
		case f == "infection" || f == "family" || f == "tag":
			row[i] = "some-family"
		case !broken:
			row[i] = "value, with \"quotes\"\nand a newline"
			broken = true
		default:
			row[i] = "value, with \"quotes\""
		}
	}
	return row
}

// Every report type of the published schema parses a row built from its
// own field list.
func TestEverySchemaTypeParses(t *testing.T) {
	schema := sharedSchema(t)
	withAddr, without := 0, 0
	for _, rt := range schema.ReportTypes() {
		st := schema.Types[rt]
		t.Run(rt, func(t *testing.T) {
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			w.Write(st.Fields)
			w.Write(rowFor(st.Fields))
			w.Flush()
			s := &feedtest.Sink{}
			err := (&Parser{Schema: schema}).Parse(context.Background(), &buf, "2026-11-20-"+rt+"-test-geo.csv", s)
			if !slices.Contains(st.Fields, "timestamp") {
				if err == nil {
					t.Errorf("a report with no timestamp column parsed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Rejects) != 0 {
				t.Fatalf("rejected: %+v", s.Rejects)
			}
			hasAddr := slices.Contains(st.Fields, "ip") || slices.Contains(st.Fields, "src_ip")
			if !hasAddr {
				without++
				if s.NoAddr != 1 || len(s.Events) != 0 {
					t.Errorf("no-address report: %d events, %d without address", len(s.Events), s.NoAddr)
				}
				return
			}
			withAddr++
			if len(s.Events) != 1 {
				t.Fatalf("%d events", len(s.Events))
			}
			e := s.Events[0]
			if e.IP.String() != "192.0.2.1" || e.Classification == "" || e.Identifier == "" || e.Time.Year() != 2026 {
				t.Errorf("event: %+v", e)
			}
			if st.Type != "" && e.Classification != st.Type {
				t.Errorf("classification %q, schema says %q", e.Classification, st.Type)
			}
		})
	}
	t.Logf("%d report types with an address column, %d without", withAddr, without)
}

func TestReadSchemaErrors(t *testing.T) {
	for name, in := range map[string]string{"not json": "{", "empty": "{}", "wrong shape": "[1,2]"} {
		if _, err := ReadSchema(strings.NewReader(in), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := ReadSchema(strings.NewReader(`{"scan_rdp": {"classification.type": "vulnerable-system", "fields": ["timestamp","ip"]},
		"scan_newthing": {"classification.type": "potentially-unwanted-accessible", "fields": ["timestamp","ip"]}}`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := s.kind("scan_newthing"); k.Classification != "potentially-unwanted-accessible" || k.Identifier != "newthing" {
		t.Errorf("schema kind: %+v", k)
	}
	if k, known := s.kind("event4_sinkhole"); !known || k.Classification != "infected-system" {
		t.Errorf("built-in fallback: %+v", k)
	}
}
