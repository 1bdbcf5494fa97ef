package shadowserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
)

func parseFile(t *testing.T, name string) *feedtest.Sink {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &feedtest.Sink{}
	if err := (&Parser{}).Parse(context.Background(), f, name, s); err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return s
}

func TestReportType(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"dated", "2024-05-01-scan_rdp-finland-geo.csv", "scan_rdp"},
		{"dated in a folder", "/spool/2020-04-03-scan_ics-sample-asn-delayed.csv", "scan_ics"},
		{"dated with a number", "2024-07-04-dns_openresolver-123-sample-asn.csv", "dns_openresolver"},
		{"bare", "event4_sinkhole_http.csv", "event4_sinkhole_http"},
		{"bare gz", "scan_rdp.csv.gz", "scan_rdp"},
		{"bare bz2", "scan_rdp.csv.bz2", "scan_rdp"},
		{"bare zip", "scan_rdp.csv.zip", "scan_rdp"},
		{"bare zip without csv", "scan_rdp.zip", "scan_rdp"},
		{"dated gz", "2026-11-23-scan_rdp-sweden-geo.csv.gz", "scan_rdp"},
		{"dated bz2", "2026-11-23-scan_rdp-sweden-geo.csv.bz2", "scan_rdp"},
		{"dated zip", "2026-11-23-scan_rdp-sweden-geo.csv.zip", "scan_rdp"},
		{"dated zip without csv", "2026-11-23-scan_rdp-sweden-geo.zip", "scan_rdp"},
		{"dated gz upper case", "/in/2026-11-23-SCAN_RDP-Sweden-Geo.CSV.GZ", "scan_rdp"},
		{"bare bz2 upper case", "Scan_RDP.CSV.BZ2", "scan_rdp"},
		{"dated without a tail", "2026-11-23-scan_rdp.csv.gz", "scan_rdp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReportType(tt.in); got != tt.want {
				t.Errorf("ReportType(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScanReport(t *testing.T) {
	s := parseFile(t, "2026-11-20-scan_rdp-test-geo.csv")
	if len(s.Events) != 3 {
		t.Fatalf("want 3 events, got %d: %+v", len(s.Events), s.Events)
	}
	e := s.Events[0]
	if e.IP != netip.MustParseAddr("192.0.2.10") || e.Port != 3389 || e.Classification != "vulnerable-system" ||
		e.Identifier != "rdp" || e.Hostname != "host-10.example.net" || e.Time.Format("2006-01-02 15:04:05") != "2026-11-20 04:05:06" {
		t.Errorf("first event: %+v", e)
	}
	if e.ASN != 0 || e.Country != "" {
		t.Errorf("feed's asn/geo leaked into the event: %+v", e)
	}
	if v := e.ExtraValue("subject_common_name"); v != "=cmd|' /C calc'!A0" {
		t.Errorf("extra subject_common_name = %q", v)
	}
	if e.ExtraValue("geo") != "" || e.ExtraValue("asn") != "" {
		t.Error("feed geo columns kept as extras")
	}
	if !s.Events[1].IP.Is6() || s.Events[1].ExtraValue("subject_common_name") != "multi line" {
		t.Errorf("IPv6 row with a quoted newline: %+v", s.Events[1])
	}
	if s.Events[2].IP != netip.MustParseAddr("192.0.2.14") || s.Events[2].Time.Hour() != 4 {
		t.Errorf("short row with RFC 3339 time and padded address: %+v", s.Events[2])
	}
	// The quoted newline in row 4 makes the later rows start a line further.
	wantRejects := map[int]string{3: "ip", 6: "timestamp", 7: "port"}
	if len(s.Rejects) != len(wantRejects) {
		t.Fatalf("rejects = %+v", s.Rejects)
	}
	for _, r := range s.Rejects {
		if w, ok := wantRejects[r.Line]; !ok || !strings.Contains(r.Reason, w) {
			t.Errorf("reject at line %d: %q (want line in %v)", r.Line, r.Reason, wantRejects)
		}
	}
	if s.NoAddr != 1 {
		t.Errorf("rows without address = %d, want 1", s.NoAddr)
	}
}

func TestEventReport(t *testing.T) {
	s := &feedtest.Sink{KeepFunc: func(a netip.Addr) bool { return netip.MustParsePrefix("192.0.2.0/24").Contains(a) }}
	f, _ := os.Open("testdata/2026-11-20-event4_sinkhole_http-test-geo.csv")
	defer f.Close()
	if err := (&Parser{}).Parse(context.Background(), f, f.Name(), s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 2 || s.Outside != 1 {
		t.Fatalf("events %d, outside %d", len(s.Events), s.Outside)
	}
	a, b := s.Events[0], s.Events[1]
	if a.Classification != "infected-system" || a.Identifier != "andromeda" || a.Port != 40001 || a.Hostname != "cpe-20.example.net" {
		t.Errorf("event a: %+v", a)
	}
	if b.Identifier != "mirai" { // empty infection falls back to family
		t.Errorf("event b identifier %q", b.Identifier)
	}
	if a.ExtraValue("dst_ip") != "203.0.113.250" || a.ExtraValue("http_host") != "c2.example" || a.ExtraValue("src_geo") != "" {
		t.Errorf("extras: %+v", a.Extra)
	}
}

func TestNoAddressAndUnknownAndEmpty(t *testing.T) {
	s := parseFile(t, "2026-11-20-compromised_account-test.csv")
	if len(s.Events) != 0 || s.NoAddr != 1 || len(s.Rejects) != 0 {
		t.Errorf("compromised_account: %+v", s)
	}
	s = parseFile(t, "2026-11-20-some_new_report-test.csv")
	if len(s.Events) != 1 || s.Events[0].Classification != "undetermined" || s.Events[0].Identifier != "novel" {
		t.Errorf("unknown type: %+v", s.Events)
	}
	s = parseFile(t, "2026-11-20-scan_ftp-empty.csv")
	if len(s.Events)+len(s.Rejects)+s.NoAddr != 0 {
		t.Errorf("empty file: %+v", s)
	}
}

func TestLookupKind(t *testing.T) {
	for rt, want := range map[string]kind{
		"scan_rdp":                  {"vulnerable-system", "rdp"},
		"scan6_rdp":                 {"vulnerable-system", "rdp"},
		"scan_some_new_service":     {"vulnerable-system", "some-new-service"},
		"event6_sinkhole_http":      {"infected-system", ""},
		"event4_sinkhole_something": {"infected-system", ""},
		"scan_dns":                  {"ddos-amplifier", "dns-openresolver"},
	} {
		got, known := lookupKind(rt)
		if !known || got != want {
			t.Errorf("lookupKind(%s) = %+v, %v; want %+v", rt, got, known, want)
		}
	}
	if _, known := lookupKind("mystery"); known {
		t.Error("mystery is known")
	}
}

// The real Shadowserver samples in ../shared, where present: every data
// row with an address must parse.
func TestSharedSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "samples", "shadowserver")
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" && os.Getenv("AUTOREPORTER_NO_SAMPLES") == "" {
			t.Fatalf("no samples at %s", dir)
		}
		t.Skipf("no samples: no Shadowserver samples at %s; put ../shared/samples beside the project to run this", dir)
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s := &feedtest.Sink{}
		err = (&Parser{}).Parse(context.Background(), f, path, s)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		if len(s.Rejects) > 0 {
			t.Errorf("%s: rejected %+v", filepath.Base(path), s.Rejects)
		}
		if len(s.Events)+s.NoAddr == 0 {
			t.Errorf("%s: nothing read", filepath.Base(path))
		}
	}
}

func FuzzShadowserver(f *testing.F) {
	for _, name := range []string{"2026-11-20-scan_rdp-test-geo.csv", "2026-11-20-event4_sinkhole_http-test-geo.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("timestamp,ip\n\"unterminated,1.2.3.4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &feedtest.Sink{}
		// Any input: no panic, and every event has a valid address.
		_ = (&Parser{ReportType: "scan_rdp"}).Parse(context.Background(), bytes.NewReader(data), "fuzz.csv", s)
		for _, e := range s.Events {
			if !e.IP.IsValid() || e.Port < 0 || e.Port > 65535 {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

// ScanRDP writes a global scan_rdp-like report of n rows (~650 bytes each)
// where one row in 100 is inside 192.0.2.0/24.
func ScanRDP(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`"timestamp","ip","port","hostname","tag","handshake","asn","geo","region","city","rdp_protocol","cert_length","subject_common_name","issuer_common_name","cert_issue_date","cert_expiration_date","sha1_fingerprint","cert_serial_number","ssl_version","signature_algorithm","key_algorithm","sha256_fingerprint","sha512_fingerprint","md5_fingerprint","naics","sic","sector"` + "\n")
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("100.%d.%d.%d", 64+i%60, (i/250)%256, 1+i%250)
		if i%100 == 0 {
			ip = fmt.Sprintf("192.0.2.%d", 1+i%250)
		}
		fmt.Fprintf(&b, `"2026-11-20 %02d:%02d:%02d","%s",3389,"host-%d.dyn.example-isp.net","rdp","",64512,"XX","SOME REGION","SOME CITY","RDP",2048,"WIN-%08X","WIN-%08X","2026-01-01 00:00:00","2027-01-01 00:00:00","%040x","%032x",3,"sha256WithRSAEncryption","rsaEncryption","%064x","%0128x","%032x",517311,0,"Communications, Service Provider"`+"\n",
			i%24, i%60, i%60, ip, i, i, i, i, i, i, i, i)
	}
	return b.Bytes()
}

func BenchmarkShadowserverScan(b *testing.B) {
	data := ScanRDP(20000)
	in := netip.MustParsePrefix("192.0.2.0/24")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		s := &feedtest.Sink{KeepFunc: in.Contains, Discard: true}
		if err := (&Parser{}).Parse(context.Background(), bytes.NewReader(data), "2026-11-20-scan_rdp-x.csv", s); err != nil {
			b.Fatal(err)
		}
		rows += s.Count + s.Outside
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// Every event carries its report type; a type that neither the schema nor
// the built-in table knows is marked Unclassified (the planner holds those
// back from mail) and stays "undetermined", with one warning per file.
func TestReportTypeAndUnclassified(t *testing.T) {
	schema, err := ReadSchema(strings.NewReader(`{"brand_new": {"classification.type": "vulnerable-system", "fields": ["timestamp","ip"]}}`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	const rows = "\"timestamp\",\"ip\",\"tag\"\n\"2026-11-20 00:00:00\",\"192.0.2.30\",\"novel\"\n\"2026-11-20 00:00:01\",\"192.0.2.31\",\"novel\"\n"
	tests := []struct {
		name, file     string
		schema         *Schema
		force          string // Parser.ReportType
		reportType     string
		classification string
		unclassified   bool
	}{
		{"built-in", "2026-11-20-scan_rdp-test.csv", nil, "", "scan_rdp", "vulnerable-system", false},
		{"built-in by prefix", "2026-11-20-scan_fancy-test.csv.gz", nil, "", "scan_fancy", "vulnerable-system", false},
		{"built-in undetermined is still known", "2026-11-20-device_id-test.csv", nil, "", "device_id", "undetermined", false},
		{"unknown", "2026-11-20-some_new_report-test.csv", nil, "", "some_new_report", "undetermined", true},
		{"unknown, forced", "x.csv", nil, "mystery", "mystery", "undetermined", true},
		{"known to the schema only", "2026-11-20-brand_new-test.csv", schema, "", "brand_new", "vulnerable-system", false},
		{"unknown to schema and table", "2026-11-20-other_new-test.csv", schema, "", "other_new", "undetermined", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			p := &Parser{Schema: tt.schema, ReportType: tt.force, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			s := &feedtest.Sink{}
			if err := p.Parse(context.Background(), strings.NewReader(rows), tt.file, s); err != nil {
				t.Fatal(err)
			}
			if len(s.Events) != 2 {
				t.Fatalf("%d events", len(s.Events))
			}
			for _, e := range s.Events {
				if e.ReportType != tt.reportType || e.Classification != tt.classification || e.Unclassified != tt.unclassified {
					t.Errorf("event: report type %q, classification %q, unclassified %v; want %q, %q, %v",
						e.ReportType, e.Classification, e.Unclassified, tt.reportType, tt.classification, tt.unclassified)
				}
			}
			warnings := strings.Count(logs.String(), "level=WARN")
			if tt.unclassified {
				if warnings != 1 || !strings.Contains(logs.String(), "held back") || !strings.Contains(logs.String(), "report_type="+tt.reportType) {
					t.Errorf("want one warning that says the events are held back, got %q", logs.String())
				}
			} else if warnings != 0 {
				t.Errorf("warned about a known type: %q", logs.String())
			}
		})
	}
}

// A hostname that lost its closing quote costs its own row, not the rest of
// the report.
func TestStrayQuoteCostsOneRow(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stray  []int // lines
		quoted bool  // every field quoted, as Shadowserver writes them
	}{
		{"line 2", []int{2}, false},
		{"lines 2 and 500", []int{2, 500}, false},
		// The stray quote closes at the next field's opening quote, on its
		// own line: "h2.example.fi,"rdp" would shift every column after it.
		{"line 2, Shadowserver's quoting", []int{2}, true},
		{"lines 2 and 500, Shadowserver's quoting", []int{2, 500}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("timestamp,ip,port,hostname,tag\n")
			for line := 2; line <= 1001; line++ {
				host := fmt.Sprintf("h%d.example.fi", line)
				if tt.quoted {
					host = `"` + host + `"`
				}
				if slices.Contains(tt.stray, line) {
					host = `"` + strings.Trim(host, `"`)
				}
				if tt.quoted {
					fmt.Fprintf(&b, "\"2026-11-20 00:00:00\",\"192.0.2.%d\",3389,%s,\"rdp\"\n", line%250+1, host)
				} else {
					fmt.Fprintf(&b, "2026-11-20 00:00:00,192.0.2.%d,3389,%s,rdp\n", line%250+1, host)
				}
			}
			s := &feedtest.Sink{}
			if err := (&Parser{}).Parse(context.Background(), strings.NewReader(b.String()), "2026-11-20-scan_rdp-fi.csv", s); err != nil {
				t.Fatal(err)
			}
			if len(s.Events) != 1000-len(tt.stray) || len(s.Rejects) != len(tt.stray) {
				t.Fatalf("%d events, rejects %+v", len(s.Events), s.Rejects)
			}
			for i, r := range s.Rejects {
				if r.Line != tt.stray[i] || !strings.Contains(r.Reason, "quote") {
					t.Errorf("reject %+v, want line %d", r, tt.stray[i])
				}
			}
			for _, e := range s.Events {
				if strings.Contains(e.Hostname, "\n") || !strings.HasSuffix(e.Hostname, ".example.fi") {
					t.Errorf("event from merged rows: %+v", e)
				}
			}
		})
	}
}

// A report with 100,000 columns: each event keeps the first
// feed.MaxExtraFields extras and says how many it dropped, quickly.
func TestWideRowCapped(t *testing.T) {
	const cols = 100000
	var b strings.Builder
	b.WriteString("timestamp,ip,port")
	for i := 0; i < cols; i++ {
		fmt.Fprintf(&b, ",c%d", i)
	}
	b.WriteString("\n")
	for r := 0; r < 3; r++ {
		fmt.Fprintf(&b, "2026-11-20 00:00:00,192.0.2.%d,3389", r+1)
		b.WriteString(strings.Repeat(",v", cols))
		b.WriteString("\n")
	}
	s := &feedtest.Sink{}
	began := time.Now()
	if err := (&Parser{}).Parse(context.Background(), strings.NewReader(b.String()), "2026-11-20-scan_rdp-wide.csv", s); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if len(s.Events) != 3 {
		t.Fatalf("%d events, rejects %+v", len(s.Events), s.Rejects)
	}
	for _, e := range s.Events {
		checkCapped(t, e.Extra, cols-feed.MaxExtraFields)
	}
	// Generous for a loaded CI machine; uncapped it is the extras that cost.
	t.Logf("3 rows of %d columns parsed in %v", cols, took)
}

func checkCapped(t *testing.T, extra []reporter.Field, dropped int) {
	t.Helper()
	if len(extra) != feed.MaxExtraFields+1 {
		t.Fatalf("%d extra fields, want %d and the truncated one", len(extra), feed.MaxExtraFields)
	}
	if last := extra[len(extra)-1]; last.Key != feed.TruncatedKey || last.Value != fmt.Sprintf("%d columns dropped", dropped) {
		t.Errorf("last extra %+v, want %d columns dropped", last, dropped)
	}
	if extra[0].Key != "c0" || extra[feed.MaxExtraFields-1].Key != fmt.Sprintf("c%d", feed.MaxExtraFields-1) {
		t.Errorf("kept %s..%s, want the first columns", extra[0].Key, extra[feed.MaxExtraFields-1].Key)
	}
}
