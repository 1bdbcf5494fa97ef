package jsonfeed

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

func parse(t *testing.T, p *Parser, name string, keep func(netip.Addr) bool) *feedtest.Sink {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &feedtest.Sink{KeepFunc: keep}
	if err := p.Parse(context.Background(), f, name, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func feodo() *Parser {
	return &Parser{Fields: map[string]string{"ip": "ip_address", "port": "port", "time": "first_seen", "identifier": "malware"}, Classification: "c2-server"}
}

func TestFeodoArray(t *testing.T) {
	s := parse(t, feodo(), "feodo.json", netip.MustParsePrefix("192.0.2.0/24").Contains)
	if len(s.Events) != 1 || s.Outside != 1 || len(s.Rejects) != 2 {
		t.Fatalf("events %d outside %d rejects %+v", len(s.Events), s.Outside, s.Rejects)
	}
	e := s.Events[0]
	if e.IP.String() != "192.0.2.50" || e.Port != 443 || e.Identifier != "qakbot" || e.Classification != "c2-server" ||
		e.Time.Format("2006-01-02 15:04") != "2026-11-19 10:00" || e.ExtraValue("status") != "online" || e.ExtraValue("as_name") != "X" {
		t.Errorf("event %+v", e)
	}
	if s.Rejects[0].Line != 3 || s.Rejects[1].Line != 4 {
		t.Errorf("rejects %+v", s.Rejects)
	}
}

func TestJSONLines(t *testing.T) {
	p := &Parser{Fields: map[string]string{"ip": "src.ip", "port": "src.port", "time": "seen", "classification": "kind", "identifier": "family"}, Identifier: "unknown"}
	s := parse(t, p, "events.jsonl", nil)
	if len(s.Events) != 2 || len(s.Rejects) != 1 || s.Rejects[0].Line != 3 || s.NoAddr != 1 {
		t.Fatalf("events %+v rejects %+v noaddr %d", s.Events, s.Rejects, s.NoAddr)
	}
	if e := s.Events[0]; e.Port != 23 || e.Classification != "scanner" || e.Identifier != "mirai" || e.Time.Unix() != 1763632800 {
		t.Errorf("event 1 %+v", e)
	}
	if e := s.Events[1]; e.Identifier != "unknown" || e.Time.Hour() != 10 {
		t.Errorf("event 2 %+v", e)
	}
}

func FuzzJSON(f *testing.F) {
	for _, n := range []string{"feodo.json", "events.jsonl"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &feedtest.Sink{}
		_ = feodo().Parse(context.Background(), bytes.NewReader(data), "f.json", s)
		for _, e := range s.Events {
			if !e.IP.IsValid() || e.Port < 0 || e.Port > 65535 || e.Classification == "" {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

func TestEndpointValue(t *testing.T) {
	p := &Parser{Fields: map[string]string{"ip": "ioc"}, Classification: "c2-server"}
	s := &feedtest.Sink{}
	err := p.Parse(context.Background(), bytes.NewReader([]byte(`{"ioc": "192.0.2.9:4443"}`)), "tf.json", s)
	if err != nil || len(s.Events) != 1 || s.Events[0].Port != 4443 || s.Events[0].IP.String() != "192.0.2.9" {
		t.Errorf("%v %+v", err, s.Events)
	}
}

// A record with 100,000 keys: each event keeps the first
// feed.MaxExtraFields extras (in name order) and says how many it dropped,
// quickly.
func TestWideRecordCapped(t *testing.T) {
	const keys = 100000
	var b strings.Builder
	for r := 0; r < 3; r++ {
		fmt.Fprintf(&b, `{"ip": "192.0.2.%d"`, r+1)
		for i := 0; i < keys; i++ {
			fmt.Fprintf(&b, `, "k%06d": "v"`, i)
		}
		b.WriteString("}\n")
	}
	p := &Parser{Fields: map[string]string{"ip": "ip"}}
	s := &feedtest.Sink{}
	began := time.Now()
	if err := p.Parse(context.Background(), strings.NewReader(b.String()), "wide.jsonl", s); err != nil {
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
		if last := e.Extra[feed.MaxExtraFields]; last.Key != feed.TruncatedKey || last.Value != fmt.Sprintf("%d columns dropped", keys-feed.MaxExtraFields) {
			t.Errorf("last extra %+v", last)
		}
		if e.Extra[0].Key != "k000000" || e.ReportType != "" || e.Unclassified {
			t.Errorf("event %+v", e.Extra[0])
		}
	}
	t.Logf("3 records of %d keys parsed in %v", keys, took)
}
