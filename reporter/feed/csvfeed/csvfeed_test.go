package csvfeed

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed"
	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
)

func feodo() *Parser {
	return &Parser{Comment: '#', Classification: "c2-server",
		Columns: map[string]string{"ip": "dst_ip", "time": "first_seen_utc", "port": "dst_port", "identifier": "malware"}}
}

func TestC2Blocklist(t *testing.T) {
	f, _ := os.Open("testdata/c2.csv")
	defer f.Close()
	s := &feedtest.Sink{KeepFunc: netip.MustParsePrefix("192.0.2.0/24").Contains}
	if err := feodo().Parse(context.Background(), f, "c2.csv", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 3 || s.Outside != 1 || len(s.Rejects) != 1 {
		t.Fatalf("events %d outside %d rejects %+v", len(s.Events), s.Outside, s.Rejects)
	}
	e := s.Events[0]
	if e.IP.String() != "192.0.2.50" || e.Port != 443 || e.Classification != "c2-server" || e.Identifier != "qakbot" ||
		e.Time.Format("2006-01-02 15") != "2026-11-19 10" || e.ExtraValue("c2_status") != "online" {
		t.Errorf("event: %+v", e)
	}
	if n := s.Events[1]; n.IP.String() != "192.0.2.0" || n.ExtraValue("network") != "192.0.2.0/28" {
		t.Errorf("CIDR row: %+v", n)
	}
	if s.Rejects[0].Line != 7 || !strings.Contains(s.Rejects[0].Reason, "time") {
		t.Errorf("reject: %+v", s.Rejects[0])
	}
}

func TestDelimiterAndEpoch(t *testing.T) {
	f, _ := os.Open("testdata/semicolon.csv")
	defer f.Close()
	p := &Parser{Delimiter: ';', Columns: map[string]string{"ip": "addr", "time": "seen", "identifier": "what"}}
	s := &feedtest.Sink{}
	if err := p.Parse(context.Background(), f, "semicolon.csv", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 1 || s.Events[0].Time.Unix() != 1763632800 || s.Events[0].Classification != "undetermined" {
		t.Errorf("events: %+v", s.Events)
	}
}

func TestHeaderErrors(t *testing.T) {
	for name, p := range map[string]*Parser{
		"missing column": {Columns: map[string]string{"ip": "nope"}},
		"no ip mapping":  {Columns: map[string]string{"time": "seen"}},
	} {
		err := p.Parse(context.Background(), strings.NewReader("seen,addr\n1,192.0.2.1\n"), "x.csv", &feedtest.Sink{})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := feodo().Parse(context.Background(), strings.NewReader(""), "empty.csv", &feedtest.Sink{}); err == nil {
		t.Error("empty file: no error")
	}
}

func FuzzCSV(f *testing.F) {
	b, _ := os.ReadFile("testdata/c2.csv")
	f.Add(b)
	f.Add([]byte("first_seen_utc,dst_ip\n\"x\n"))
	f.Add([]byte(`"2026-11-20 10:00:00", "1", "192.0.2.80:8443", "ip:port", "c", "m", "a,b", "Cobalt Strike"` + "\n"))
	f.Add([]byte(`"1","2026-11-22 08:00:00","http://[2001:db8::1]:80/i","online"` + "\n"))
	presets := Presets()
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &feedtest.Sink{}
		// Each input goes through the plain mapping and through every preset
		// (header-less, trimmed, URL-addressed).
		_ = feodo().Parse(context.Background(), bytes.NewReader(data), "fuzz.csv", s)
		for _, name := range presets {
			p, _ := Preset(name)
			_ = p.Parse(context.Background(), bytes.NewReader(data), "fuzz.csv", s)
		}
		for _, e := range s.Events {
			if !e.IP.IsValid() || e.Port < 0 || e.Port > 65535 || e.Classification == "" {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

func BenchmarkCSV(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&buf, "2026-11-19 10:%02d:00,100.%d.%d.%d,443,online,2026-11-20,QakBot\n", i%60, 64+i%60, (i/250)%256, 1+i%250)
	}
	data := buf.Bytes()
	keep := netip.MustParsePrefix("100.64.0.0/16").Contains
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for i := 0; i < b.N; i++ {
		s := &feedtest.Sink{KeepFunc: keep, Discard: true}
		if err := feodo().Parse(context.Background(), bytes.NewReader(data), "b.csv", s); err != nil {
			b.Fatal(err)
		}
		rows += s.Count + s.Outside
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// ThreatFox's CSV export as published: the header is a comment, fields are
// separated by ", ", and malware_alias holds commas inside quotes.
func TestThreatFoxPreset(t *testing.T) {
	in := `################################################################
# ThreatFox IOCs: CSV export                                   #
################################################################
#
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"
"2026-11-20 10:00:00", "1", "192.0.2.80:8443", "ip:port", "botnet_cc", "win.cobalt_strike", "Agentemis,BEACON,CobaltStrike", "Cobalt Strike", "", "100", "None", "c2", "0", "x"
"2026-11-20 10:00:00", "2", "evil.example", "domain", "botnet_cc", "win.qakbot", "", "QakBot", "", "75", "", "", "0", "x"
"2026-11-20 10:00:00", "3", "[2001:db8:1::80]:443", "ip:port", "botnet_cc", "win.qakbot", "Oakboat,Pinkslipbot", "QakBot", "", "75", "", "", "0", "x"
"2026-11-20 10:00:00", "4", "999.0.2.80:80", "ip:port", "botnet_cc", "win.qakbot", "", "QakBot", "", "75", "", "", "0", "x"
#
# Number of entries: 4
`
	p, _ := Preset("threatfox")
	s := &feedtest.Sink{}
	if err := p.Parse(context.Background(), strings.NewReader(in), "threatfox.csv", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 2 || s.NoAddr != 1 || len(s.Rejects) != 1 || s.Rejects[0].Line != 9 {
		t.Fatalf("events %+v noaddr %d rejects %+v", s.Events, s.NoAddr, s.Rejects)
	}
	if e := s.Events[0]; e.IP.String() != "192.0.2.80" || e.Port != 8443 || e.Identifier != "cobalt strike" ||
		e.Classification != "c2-server" || e.ExtraValue("malware_alias") != "Agentemis,BEACON,CobaltStrike" || e.ExtraValue("tags") != "c2" {
		t.Errorf("v4 endpoint: %+v", e)
	}
	if e := s.Events[1]; e.IP.String() != "2001:db8:1::80" || e.Port != 443 {
		t.Errorf("v6 endpoint: %+v", e)
	}
}

// Feodo Tracker's ipblocklist.csv as published (header as a comment), and
// the same with a real header row, which is skipped.
func TestFeodoPreset(t *testing.T) {
	body := `"2026-11-19 10:00:00","192.0.2.50","443","online","2026-11-22","QakBot"
"2026-11-19 11:00:00","198.51.100.9","8080","offline","2026-11-21","Emotet"
`
	for name, in := range map[string]string{
		"comment header": "#####\n# Feodo Tracker: ipblocklist.csv\n#####\n# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n" + body + "# end\n",
		"header row":     "first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n" + body,
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := Preset("feodo")
			s := &feedtest.Sink{}
			if err := p.Parse(context.Background(), strings.NewReader(in), "ipblocklist.csv", s); err != nil {
				t.Fatal(err)
			}
			if len(s.Events) != 2 || len(s.Rejects) != 0 {
				t.Fatalf("events %+v rejects %+v", s.Events, s.Rejects)
			}
			if e := s.Events[1]; e.IP.String() != "198.51.100.9" || e.Port != 8080 || e.Identifier != "emotet" || e.ExtraValue("c2_status") != "offline" {
				t.Errorf("event: %+v", e)
			}
		})
	}
}

// URLhaus's CSV dump: the address comes from the URL's host.
func TestURLhausPreset(t *testing.T) {
	in := `################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs)           #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3000001","2026-11-22 08:00:00","http://192.0.2.44:43210/i","online","2026-11-22 08:00:00","malware_download","32-bit,elf,mips,Mozi","https://urlhaus.abuse.ch/url/3000001/","lrz_urlhaus"
"3000002","2026-11-22 08:01:00","https://dropper.example/x.exe","online","2026-11-22 08:00:00","malware_download","exe","https://urlhaus.abuse.ch/url/3000002/","x"
"3000003","2026-11-22 08:02:00","http://[2001:db8:1::5]/bins.sh","online","","malware_download","sh","https://urlhaus.abuse.ch/url/3000003/","x"
"3000004","2026-11-22 08:03:00","http://300.1.2.3/a","online","","malware_download","","https://urlhaus.abuse.ch/url/3000004/","x"
"3000005","2026-11-22 08:04:00","192.0.2.45/Mozi.m","online","","malware_download","","https://urlhaus.abuse.ch/url/3000005/","x"
`
	p, _ := Preset("urlhaus")
	s := &feedtest.Sink{}
	if err := p.Parse(context.Background(), strings.NewReader(in), "csv_recent.txt", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 3 || s.NoAddr != 1 || len(s.Rejects) != 1 || !strings.HasPrefix(s.Rejects[0].Reason, "url: host") {
		t.Fatalf("events %+v noaddr %d rejects %+v", s.Events, s.NoAddr, s.Rejects)
	}
	e := s.Events[0]
	if e.IP.String() != "192.0.2.44" || e.Port != 43210 || e.Classification != "malware-distribution" ||
		e.Identifier != "malware_download" || e.ExtraValue("url") != "http://192.0.2.44:43210/i" {
		t.Errorf("event: %+v", e)
	}
	if e := s.Events[1]; e.IP.String() != "2001:db8:1::5" || e.Port != 0 {
		t.Errorf("v6 URL: %+v", e)
	}
	if e := s.Events[2]; e.IP.String() != "192.0.2.45" {
		t.Errorf("URL without a scheme: %+v", e)
	}
}

func TestPresetsAreCopies(t *testing.T) {
	a, _ := Preset("feodo")
	a.Columns["ip"] = "changed"
	b, _ := Preset("feodo")
	if b.Columns["ip"] != "dst_ip" {
		t.Error("a preset's maps are shared between parsers")
	}
	for _, n := range Presets() {
		if _, ok := Preset(n); !ok {
			t.Errorf("preset %s listed but missing", n)
		}
	}
	if _, ok := Preset("nope"); ok {
		t.Error("unknown preset found")
	}
}

// A feed with 100,000 columns: each event keeps the first
// feed.MaxExtraFields extras and says how many it dropped, quickly.
func TestWideRowCapped(t *testing.T) {
	const cols = 100000
	var b strings.Builder
	b.WriteString("ip")
	for i := 0; i < cols; i++ {
		fmt.Fprintf(&b, ",c%d", i)
	}
	b.WriteString("\n")
	for r := 0; r < 3; r++ {
		fmt.Fprintf(&b, "192.0.2.%d", r+1)
		b.WriteString(strings.Repeat(",v", cols))
		b.WriteString("\n")
	}
	p := &Parser{Columns: map[string]string{"ip": "ip"}}
	s := &feedtest.Sink{}
	began := time.Now()
	if err := p.Parse(context.Background(), strings.NewReader(b.String()), "wide.csv", s); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if len(s.Events) != 3 {
		t.Fatalf("%d events, rejects %+v", len(s.Events), s.Rejects)
	}
	for _, e := range s.Events {
		if len(e.Extra) != feed.MaxExtraFields+1 {
			t.Fatalf("%d extra fields, want %d and the truncated one", len(e.Extra), feed.MaxExtraFields)
		}
		if last := e.Extra[feed.MaxExtraFields]; last.Key != feed.TruncatedKey || last.Value != fmt.Sprintf("%d columns dropped", cols-feed.MaxExtraFields) {
			t.Errorf("last extra %+v", last)
		}
		if e.Extra[0].Key != "c0" || e.ReportType != "" || e.Unclassified {
			t.Errorf("event %+v", e.Extra[0])
		}
	}
	t.Logf("3 rows of %d columns parsed in %v", cols, took)
}
