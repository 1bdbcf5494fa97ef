package csvfeed

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

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
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &feedtest.Sink{}
		_ = feodo().Parse(context.Background(), bytes.NewReader(data), "fuzz.csv", s)
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

// ThreatFox's CSV export: ip:port IOCs among domains and URLs.
func TestThreatFox(t *testing.T) {
	in := `################################################################
# ThreatFox IOCs: CSV export
################################################################
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"
first_seen_utc,ioc_id,ioc_value,ioc_type,threat_type,fk_malware,malware_alias,malware_printable,last_seen_utc,confidence_level,reference,tags,anonymous,reporter
"2026-11-20 10:00:00", "1", "192.0.2.80:8443", "ip:port", "botnet_cc", "win.cobalt_strike", "", "Cobalt Strike", "", "100", "", "c2", "0", "x"
"2026-11-20 10:00:00", "2", "evil.example", "domain", "botnet_cc", "win.qakbot", "", "QakBot", "", "75", "", "", "0", "x"
"2026-11-20 10:00:00", "3", "[2001:db8:1::80]:443", "ip:port", "botnet_cc", "win.qakbot", "", "QakBot", "", "75", "", "", "0", "x"
`
	in = strings.ReplaceAll(in, `", "`, `","`)
	p := &Parser{Comment: '#', Classification: "c2-server", Where: map[string]string{"ioc_type": "ip:port"},
		Columns: map[string]string{"ip": "ioc_value", "time": "first_seen_utc", "identifier": "malware_printable"}}
	s := &feedtest.Sink{}
	if err := p.Parse(context.Background(), strings.NewReader(in), "threatfox.csv", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 2 || s.NoAddr != 1 || len(s.Rejects) != 0 {
		t.Fatalf("events %+v noaddr %d rejects %+v", s.Events, s.NoAddr, s.Rejects)
	}
	if e := s.Events[0]; e.IP.String() != "192.0.2.80" || e.Port != 8443 || e.Identifier != "cobalt strike" {
		t.Errorf("v4 endpoint: %+v", e)
	}
	if e := s.Events[1]; e.IP.String() != "2001:db8:1::80" || e.Port != 443 {
		t.Errorf("v6 endpoint: %+v", e)
	}
}
