package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// testJobLog: runs of jobs are recorded whole; a run from the command line
// (no schedule) keeps the daemon's next run; failures count in a row and a
// success ends them.
func testJobLog(t *testing.T, s reporter.Store) {
	states := func() map[string]reporter.JobState {
		t.Helper()
		list, err := s.JobStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]reporter.JobState{}
		for i, j := range list {
			if i > 0 && list[i-1].Last.Job >= j.Last.Job {
				t.Errorf("job states not in name order: %q before %q", list[i-1].Last.Job, j.Last.Job)
			}
			out[j.Last.Job] = j
		}
		return out
	}
	record := func(r reporter.JobRun) {
		t.Helper()
		if err := s.RecordJob(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := states(); len(got) != 0 {
		t.Fatalf("a new store remembers jobs: %+v", got)
	}
	daemon := reporter.JobRun{Job: "feed abusech", Started: t0, Took: 1500 * time.Millisecond, Result: reporter.JobDone,
		By: "daemon h/1/ab", Schedule: "@every 15m", Next: t0.Add(15 * time.Minute)}
	record(daemon)
	record(reporter.JobRun{Job: "report", Started: t0.Add(time.Second), Took: time.Millisecond, Result: reporter.JobIdle,
		By: "daemon h/1/ab", Schedule: "@hourly", Next: t0.Add(time.Hour)})
	want := reporter.JobState{Last: daemon, LastSuccess: t0, Runs: 1}
	if got := states()["feed abusech"]; got != want {
		t.Errorf("after one run:\n got %+v\nwant %+v", got, want)
	}

	// Two failures from the command line: no schedule, so the daemon's
	// plan stays; the error is kept as it is, or with its bytes that are
	// not UTF-8 replaced.
	cli := reporter.JobRun{Job: "feed abusech", Started: t0.Add(time.Minute), Took: 2 * time.Second, Result: reporter.JobFailed,
		Error: "feed abusech: HTTP 503: \xe9t\xe9", By: "cli h/2/cd"}
	record(cli)
	cli.Started = t0.Add(2 * time.Minute)
	record(cli)
	got := states()["feed abusech"]
	if !keptOrReplaced(got.Last.Error, cli.Error) {
		t.Errorf("error %q, want %q", got.Last.Error, cli.Error)
	}
	got.Last.Error = cli.Error
	wantLast := cli
	wantLast.Schedule, wantLast.Next = daemon.Schedule, daemon.Next
	want = reporter.JobState{Last: wantLast, LastSuccess: t0, Runs: 3, Failures: 2}
	if got != want {
		t.Errorf("after two failures from the command line:\n got %+v\nwant %+v", got, want)
	}

	// A success ends the failures; a daemon run sets the plan anew.
	next := daemon
	next.Started, next.Result, next.Schedule, next.Next = t0.Add(15*time.Minute), reporter.JobIdle, "@every 5m", t0.Add(20*time.Minute)
	record(next)
	want = reporter.JobState{Last: next, LastSuccess: next.Started, Runs: 4}
	if got := states()["feed abusech"]; got != want {
		t.Errorf("after a success:\n got %+v\nwant %+v", got, want)
	}
	// An interrupted run is not a success.
	cut := next
	cut.Started, cut.Result, cut.Error = t0.Add(20*time.Minute), reporter.JobInterrupted, "context canceled"
	record(cut)
	want = reporter.JobState{Last: cut, LastSuccess: next.Started, Runs: 5, Failures: 1}
	all := states()
	if got := all["feed abusech"]; got != want {
		t.Errorf("after an interrupted run:\n got %+v\nwant %+v", got, want)
	}
	if r := all["report"]; r.Runs != 1 || r.Last.Result != reporter.JobIdle || !r.Last.Next.Equal(t0.Add(time.Hour)) || len(all) != 2 {
		t.Errorf("the other job: %+v (of %d)", r, len(all))
	}
}

// testConcurrentJobLog: two instances recording runs of one job at once
// lose none of them.
func testConcurrentJobLog(t *testing.T, a, b reporter.Store) {
	const n = 25
	rec := func(s reporter.Store, who string) func() error {
		return func() error {
			for i := range n {
				r := reporter.JobRun{Job: "report", Started: t0.Add(time.Duration(i) * time.Second), Result: reporter.JobFailed,
					Error: "x", By: who}
				if err := s.RecordJob(ctx, r); err != nil {
					return fmt.Errorf("%s: %w", who, err)
				}
			}
			return nil
		}
	}
	for _, err := range together(rec(a, "a"), rec(b, "b")) {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := b.JobStates(ctx)
	if err != nil || len(list) != 1 || list[0].Runs != 2*n || list[0].Failures != 2*n {
		t.Fatalf("after %d runs from each of two handles: %v %+v", n, err, list)
	}
}
