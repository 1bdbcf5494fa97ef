package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// script is a parser that reads nothing and tells the sink a fixed story.
type script struct{}

func (script) Parse(ctx context.Context, r io.Reader, file string, s reporter.Sink) error {
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "198.51.100.1"} {
		if s.Keep(netip.MustParseAddr(ip)) {
			if err := s.Event(&reporter.Event{IP: netip.MustParseAddr(ip)}); err != nil {
				return err
			}
		}
	}
	s.Reject(4, `ip: not an IP address: "x"`, "x")
	s.Reject(5, `ip: not an IP address: "y"`, "y")
	s.NoAddress(6)
	return nil
}

type sink struct{ events int }

func (s *sink) Keep(ip netip.Addr) bool             { return ip.Is4() && ip.As4()[0] == 192 }
func (s *sink) Event(e *reporter.Event) error       { s.events++; return nil }
func (s *sink) Reject(line int, reason, raw string) {}
func (s *sink) NoAddress(line int)                  {}

type deliveries struct{ reporter.DeliverStore }

func (deliveries) MarkSent(context.Context, int64, string, string, string, time.Time) error {
	return nil
}
func (deliveries) MarkAttempt(context.Context, int64, string, string, time.Time, time.Time) error {
	return nil
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestDecorators(t *testing.T) {
	m := New()
	s := &sink{}
	if err := m.Parser("shadowserver", script{}).Parse(context.Background(), strings.NewReader(""), "f.csv", s); err != nil {
		t.Fatal(err)
	}
	if s.events != 2 {
		t.Errorf("the decorated sink passed %d events on, want 2", s.events)
	}
	d := m.DeliverStore(deliveries{})
	d.MarkSent(context.Background(), 1, "", "s", "", time.Now())
	d.MarkAttempt(context.Background(), 2, "", "451", time.Now(), time.Now().Add(time.Minute))
	d.MarkAttempt(context.Background(), 3, "", "550", time.Now(), time.Time{})
	m.Job("feed shadowserver", time.Second, nil)
	m.Job("report", time.Second, errors.New("store down"))
	m.Gauge("backlog_events", "Events that wait.", func() float64 { return 7 })
	out := scrape(t, m)
	for _, want := range []string{
		`autoreporter_rows_total{feed="shadowserver",outcome="kept"} 2`,
		`autoreporter_rows_total{feed="shadowserver",outcome="outside"} 1`,
		`autoreporter_rows_total{feed="shadowserver",outcome="rejected"} 2`,
		`autoreporter_rows_total{feed="shadowserver",outcome="no_address"} 1`,
		`autoreporter_rows_rejected_total{feed="shadowserver",reason="ip: not an IP address"} 2`,
		`autoreporter_deliveries_total{result="sent"} 1`,
		`autoreporter_deliveries_total{result="deferred"} 1`,
		`autoreporter_deliveries_total{result="failed"} 1`,
		`autoreporter_job_failures_total{job="report"} 1`,
		`autoreporter_job_last_success_timestamp_seconds{job="feed shadowserver"}`,
		`autoreporter_backlog_events 7`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
