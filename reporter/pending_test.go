package reporter

import (
	"testing"
	"time"
)

func TestPendingFate(t *testing.T) {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name      string
		haveStale bool
		since     time.Time
		maxWait   time.Duration
		want      ContactFate
	}{
		{"just ingested: waits", false, now, day, FateWait},
		{"a minute short of max_wait: waits", false, now.Add(-day + time.Minute), day, FateWait},
		{"max_wait reached: the fallback", false, now.Add(-day), day, FateFallback},
		{"long past max_wait: the fallback", false, now.Add(-30 * day), day, FateFallback},
		{"an expired answer: used at once", true, now, day, FateStale},
		{"an expired answer beats the fallback after max_wait", true, now.Add(-30 * day), day, FateStale},
		{"ingested ahead of this clock: waits", false, now.Add(time.Hour), day, FateWait},
		{"ingested at an unknown time: the fallback", false, time.Time{}, day, FateFallback},
		{"max_wait zero: no waiting", false, now, 0, FateFallback},
		{"max_wait zero with an expired answer: the answer", true, now, 0, FateStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PendingFate(tt.haveStale, tt.since, tt.maxWait, now); got != tt.want {
				t.Errorf("PendingFate(%v, %s, %s) = %s, want %s", tt.haveStale, tt.since, tt.maxWait, got, tt.want)
			}
		})
	}
}

func TestContactFateNames(t *testing.T) {
	for f, want := range map[ContactFate]string{FateWait: "wait", FateStale: "stale", FateFallback: "fallback", ContactFate(9): "unknown"} {
		if f.String() != want {
			t.Errorf("%d: %q, want %q", int(f), f.String(), want)
		}
	}
}
