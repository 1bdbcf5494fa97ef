package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Off a terminal the meter writes a plain line at most every interval,
// with the rate and the time left, and a last line at the end if it spoke.
func TestMeterPlainLines(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	clock := t0
	tests := []struct {
		name  string
		start func(e *env) *meter
		steps []struct {
			after       time.Duration
			done, total int64
		}
		want []string
	}{
		{"reports", func(e *env) *meter { return e.newCountMeter("resend", 10, "reports") },
			[]struct {
				after       time.Duration
				done, total int64
			}{{2 * time.Second, 1, 10}, {10 * time.Second, 5, 10}, {15 * time.Second, 6, 10}, {20 * time.Second, 12, 12}},
			[]string{"resend: 5 of 10 reports (50%), 0.5 reports/s, ETA 10s", "resend: 12 of 12 reports (100%), 0.6 reports/s"}},
		{"bytes", func(e *env) *meter { return e.newMeter("ripe dumps", 40<<20, true) },
			[]struct {
				after       time.Duration
				done, total int64
			}{{10 * time.Second, 10 << 20, 40 << 20}, {20 * time.Second, 20 << 20, 40 << 20}},
			[]string{"ripe dumps: 10 MB of 40 MB (25%), 1.0 MB/s, ETA 30s", "ripe dumps: 20 MB of 40 MB (50%), 1.0 MB/s, ETA 20s"}},
		{"a short run says nothing", func(e *env) *meter { return e.newCountMeter("resend", 3, "reports") },
			[]struct {
				after       time.Duration
				done, total int64
			}{{time.Second, 3, 3}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			m := tt.start(&env{stderr: &out})
			m.now = func() time.Time { return clock }
			m.start, m.last = t0, t0
			for _, s := range tt.steps {
				clock = t0.Add(s.after)
				m.Set(s.done, s.total)
			}
			m.Finish()
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
