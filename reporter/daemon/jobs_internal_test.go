package daemon

import (
	"errors"
	"testing"

	"github.com/autoreporter/autoreporter/reporter"
)

func TestJobResult(t *testing.T) {
	fail := errors.New("spool: permission denied")
	file := func(name string, err error) FileResult { return FileResult{File: name, Err: err} }
	tests := []struct {
		name    string
		s       Summary
		err     error
		stopped bool
		want    reporter.JobResult
		cause   string
	}{
		{"nothing to do", Summary{}, nil, false, reporter.JobIdle, ""},
		{"a file read", Summary{Files: []FileResult{file("a.csv", nil)}}, nil, false, reporter.JobDone, ""},
		{"events decided", Summary{Report: ReportResult{Plan: reporter.PlanResult{Read: 3}}}, nil, false, reporter.JobDone, ""},
		{"a mail sent", Summary{Report: ReportResult{Deliver: reporter.DeliverStats{Sent: 1}}}, nil, false, reporter.JobDone, ""},
		{"the job failed", Summary{Files: []FileResult{file("a.csv", nil)}}, fail, false, reporter.JobFailed, fail.Error()},
		{"a stop cut it short", Summary{}, errors.New("context canceled"), true, reporter.JobInterrupted, "context canceled"},
		{"a stop after it ended is no interruption", Summary{}, nil, true, reporter.JobIdle, ""},
		{"one file failed", Summary{Files: []FileResult{file("a.csv", nil), file("b.csv", errors.New("b.csv: gzip: invalid header"))}},
			nil, false, reporter.JobPartial, "b.csv: gzip: invalid header"},
		{"several files failed", Summary{Files: []FileResult{file("a", errors.New("a: x")), file("b", errors.New("b: y")), file("c", errors.New("c: z"))}},
			nil, false, reporter.JobPartial, "a: x (and 2 more)"},
		{"mails not sent", Summary{Report: ReportResult{Deliver: reporter.DeliverStats{Sent: 1, Failed: 2}}},
			nil, false, reporter.JobPartial, "2 mails not sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cause := jobResult(tt.s, tt.err, tt.stopped)
			if got != tt.want || cause != tt.cause {
				t.Errorf("got %s %q, want %s %q", got, cause, tt.want, tt.cause)
			}
		})
	}
}
