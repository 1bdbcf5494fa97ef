package daemon

import (
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

func TestFeedFailing(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		st    reporter.FeedState
		limit time.Duration
		want  bool
	}{
		{"never tried", reporter.FeedState{}, time.Hour, false},
		{"fine", reporter.FeedState{LastSuccess: now.Add(-10 * time.Hour)}, time.Hour, false},
		{"failed just now, succeeded an hour ago", reporter.FeedState{LastError: "503", LastErrorAt: now, LastSuccess: now.Add(-30 * time.Minute)}, time.Hour, false},
		{"failing since its last success 2 h ago", reporter.FeedState{LastError: "503", LastErrorAt: now, LastSuccess: now.Add(-2 * time.Hour)}, time.Hour, true},
		{"never succeeded, failing for 2 h", reporter.FeedState{LastError: "503", LastErrorAt: now.Add(-2 * time.Hour)}, time.Hour, true},
		{"never succeeded, failed a minute ago", reporter.FeedState{LastError: "503", LastErrorAt: now.Add(-time.Minute)}, time.Hour, false},
		{"check off", reporter.FeedState{LastError: "503", LastErrorAt: now.Add(-100 * time.Hour)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := feedFailing(tt.st, tt.limit, now); got != tt.want {
				t.Errorf("feedFailing = %v, want %v", got, tt.want)
			}
		})
	}
}
