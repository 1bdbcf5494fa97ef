package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func TestNextRun(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	daily, hourly := "0 6 * * *", "@every 1h"
	ran := func(spec string, started time.Time, next time.Time) reporter.JobState {
		return reporter.JobState{Last: reporter.JobRun{Started: started, Took: 90 * time.Second, Schedule: spec, Next: next}}
	}
	tests := []struct {
		name  string
		spec  string
		state reporter.JobState
		want  time.Time
	}{
		{"never ran: the schedule's next tick", daily, reporter.JobState{}, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)},
		{"never ran, @every: from now", hourly, reporter.JobState{}, now.Add(time.Hour)},
		{"the daemon's plan, a wake-up sooner than the schedule",
			daily, ran(daily, now.Add(-time.Hour), now.Add(5*time.Minute)), now.Add(5 * time.Minute)},
		{"the daemon's plan, overdue: no daemon ran it",
			daily, ran(daily, now.Add(-30*time.Hour), now.Add(-6*time.Hour)), now.Add(-6 * time.Hour)},
		{"the schedule changed since: the config's, after the last run ended",
			hourly, ran(daily, now.Add(-10*time.Minute), now.Add(18*time.Hour)), now.Add(-10*time.Minute + 90*time.Second + time.Hour)},
		{"only runs from the command line: the config's, after the last run ended",
			daily, ran("", time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC), time.Time{}), time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, err := config.ScheduleParser().Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := daemon.NextRun(sched, tt.spec, tt.state, now); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// jobStates reads what the store remembers of each job, by name.
func jobStates(t *testing.T, st reporter.JobLog) map[string]reporter.JobState {
	t.Helper()
	list, err := st.JobStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reporter.JobState{}
	for _, j := range list {
		out[j.Last.Job] = j
	}
	return out
}

// The daemon records every job it runs, with the schedule it read and its
// next run, so that status in another process can show them.
func TestRunRecordsJobs(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1m, schedule: \"@hourly\"}")
	for i := range w.cfg.Feeds {
		w.cfg.Feeds[i].Schedule = "@every 2h"
	}
	w.cfg.Feeds[1].Source.Spool = filepath.Join(w.dir, "not-a-folder")
	os.WriteFile(w.cfg.Feeds[1].Source.Spool, nil, 0o644) // the c2 feed's spool is a file: its run fails
	w.drop(t)
	d := w.open(t, daemon.Options{Now: time.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	for time.Since(start) < 10*time.Second && len(jobStates(t, d.Store())) < 3 {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	got := jobStates(t, d.Store())
	for name, want := range map[string]struct {
		result   reporter.JobResult
		schedule string
		every    time.Duration
	}{
		"feed shadowserver": {reporter.JobDone, "@every 2h", 2 * time.Hour},
		// A source that cannot be read fails the feed's run, as a failed
		// file does: partial, and the other jobs go on (collect).
		"feed c2": {reporter.JobPartial, "@every 2h", 2 * time.Hour},
		"report":  {reporter.JobDone, "@hourly", time.Hour},
	} {
		j, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not recorded (%v)", name, got)
			continue
		case j.Last.Result != want.result || j.Runs != 1 || !strings.HasPrefix(j.Last.By, "daemon "):
			t.Errorf("%s: %+v, want result %s, 1 run, by the daemon", name, j, want.result)
		case j.Last.Schedule != want.schedule || j.Last.Next.Before(start) || j.Last.Next.After(end.Add(want.every)):
			t.Errorf("%s: schedule %q next %s, want %q and a next run within %s of now", name, j.Last.Schedule, j.Last.Next, want.schedule, want.every)
		case j.Last.Started.Before(start.Add(-time.Second)) || j.Last.Started.After(end):
			t.Errorf("%s: started %s, not while the daemon ran (%s to %s)", name, j.Last.Started, start, end)
		}
	}
	if c2 := got["feed c2"]; c2.Failures != 1 || !strings.Contains(c2.Last.Error, "not-a-folder") || !c2.LastSuccess.IsZero() {
		t.Errorf("the failed job: %+v", c2)
	}

	// status, from the config and the store alone: the daemon's plan.
	statuses, err := daemon.JobStatuses(context.Background(), w.cfg, d.Store(), end)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range statuses {
		names = append(names, s.Name)
		if !s.Next.Equal(got[s.Name].Last.Next) || !s.InConfig {
			t.Errorf("%s: next %s, want the daemon's %s", s.Name, s.Next, got[s.Name].Last.Next)
		}
	}
	if strings.Join(names, ",") != "feed shadowserver,feed c2,report" {
		t.Errorf("jobs in the order %v, want the config's: feeds, then the report", names)
	}
}

// run --job runs one job under the daemon's lock, records it without
// touching the daemon's plan, and names the jobs when asked for one that is
// not.
func TestRunJob(t *testing.T) {
	w := setup(t)
	w.drop(t)
	d := w.open(t, daemon.Options{})
	ctx := context.Background()
	s, run, err := d.RunJob(ctx, "c2", false)
	if err != nil || run.Job != "feed c2" || run.Result != reporter.JobDone || len(s.Files) != 1 || s.Ingest.Stored != 1 {
		t.Fatalf("feed c2: %v %+v %+v", err, run, s)
	}
	if len(w.smtp.Messages()) != 0 {
		t.Errorf("a feed's job sent mail")
	}
	s, run, err = d.RunJob(ctx, "report", false)
	if err != nil || run.Result != reporter.JobDone || s.Report.Deliver.Sent == 0 || len(s.Files) != 0 {
		t.Fatalf("report: %v %+v %+v", err, run, s.Report)
	}
	if _, _, err := d.RunJob(ctx, "feed shadowserver", false); err != nil {
		t.Fatal(err)
	}
	_, run, err = d.RunJob(ctx, "feed shadowserver", false) // the spool is empty now
	if err != nil || run.Result != reporter.JobIdle {
		t.Fatalf("an empty spool: %v %+v", err, run)
	}
	got := jobStates(t, d.Store())
	sh := got["feed shadowserver"]
	if sh.Runs != 2 || !strings.HasPrefix(sh.Last.By, "cli ") || sh.Last.Schedule != "" || !sh.Last.Next.IsZero() || !sh.LastSuccess.Equal(sh.Last.Started) {
		t.Errorf("feed shadowserver after two runs from the command line: %+v", sh)
	}
	_, _, err = d.RunJob(ctx, "nope", false)
	if !errors.Is(err, daemon.ErrNoJob) || !strings.Contains(err.Error(), "feed shadowserver, feed c2, report") {
		t.Errorf("an unknown job: %v", err)
	}
}

// A resend of many reports tells its progress after each one, of how many.
func TestResendProgress(t *testing.T) {
	w := setup(t)
	w.drop(t)
	w.runOnce(t)
	d := w.open(t, daemon.Options{})
	rows, err := d.Store().History(context.Background(), reporter.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var refs []string
	for _, r := range rows {
		if !seen[r.Report.Ref] {
			seen[r.Report.Ref] = true
			refs = append(refs, r.Report.Ref)
		}
	}
	if len(refs) != len(want) {
		t.Fatalf("%d reports sent, want %d", len(refs), len(want))
	}
	var calls []string
	res, err := d.ResendProgress(context.Background(), refs, time.Time{}, func(done, total int) {
		calls = append(calls, fmt.Sprintf("%d/%d", done, total))
	})
	if err != nil || res.Deliver.Sent != len(refs) {
		t.Fatalf("resend: %v %+v", err, res)
	}
	if got := strings.Join(calls, " "); got != "1/4 2/4 3/4 4/4" {
		t.Errorf("progress %s, want 1/4 2/4 3/4 4/4", got)
	}
}
