package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// One rule for every source: a run succeeds when every file it found was
// read; a failed run's error stays until a later run succeeds.
func TestRecordRun(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := t0.Add(time.Hour)
	good := func(name string, rows int) FileResult {
		return FileResult{File: name, Stats: reporter.IngestStats{Rows: rows, Rejected: 1}}
	}
	bad := func(name, why string) FileResult { return FileResult{File: name, Err: errors.New(why)} }
	failing := reporter.FeedState{LastSuccess: t0.Add(-time.Hour), LastError: "old.csv: broken", LastErrorAt: t0, Files: 1, TotalRows: 5}
	tests := []struct {
		name     string
		before   reporter.FeedState
		results  []FileResult
		complete bool
		want     reporter.FeedState
	}{
		{"nothing found is a success", failing, nil, true,
			reporter.FeedState{LastAttempt: at, LastSuccess: at, LastErrorAt: t0, Files: 1, TotalRows: 5}},
		{"every file read", reporter.FeedState{}, []FileResult{good("a.csv", 3), good("b.csv", 4)}, true,
			reporter.FeedState{LastAttempt: at, LastSuccess: at, Rows: 4, Rejected: 1, Files: 2, TotalRows: 7, TotalRejected: 2}},
		{"a good file after a bad one keeps the error", reporter.FeedState{},
			[]FileResult{bad("a.csv", "gzip: invalid header"), good("b.csv", 4)}, true,
			reporter.FeedState{LastAttempt: at, LastError: "a.csv: gzip: invalid header", LastErrorAt: at, Rows: 4, Rejected: 1, Files: 1, TotalRows: 4, TotalRejected: 1}},
		{"the last failure is kept", reporter.FeedState{},
			[]FileResult{bad("a.csv", "a.csv: first"), bad("b.csv", "second")}, true,
			reporter.FeedState{LastAttempt: at, LastError: "b.csv: second", LastErrorAt: at}},
		{"finding failed", failing, []FileResult{bad("reports/list", "HTTP 503")}, true,
			reporter.FeedState{LastAttempt: at, LastSuccess: t0.Add(-time.Hour), LastError: "reports/list: HTTP 503", LastErrorAt: at, Files: 1, TotalRows: 5}},
		{"cut short by a stop is neither", failing, []FileResult{good("a.csv", 2)}, false,
			reporter.FeedState{LastAttempt: at, LastSuccess: t0.Add(-time.Hour), LastError: "old.csv: broken", LastErrorAt: t0, Rows: 2, Rejected: 1, Files: 2, TotalRows: 7, TotalRejected: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.before
			recordRun(&st, at, tt.results, tt.complete)
			if st != tt.want {
				t.Errorf("got  %+v\nwant %+v", st, tt.want)
			}
		})
	}
}
