package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
)

// JobSpec names a job and the schedule the config gives it.
type JobSpec struct {
	Name     string // "feed shadowserver", "report"
	Schedule string
}

// Jobs lists the jobs a config makes, in the order they run when they
// fall due together: every feed, then the report pass, so that a report
// carries the events ingested just before it, then the purge when
// store.retention is set. `status` reads it without opening anything but
// the config.
func Jobs(cfg *config.Config) []JobSpec {
	var out []JobSpec
	for _, f := range cfg.Feeds {
		out = append(out, JobSpec{Name: "feed " + f.Name, Schedule: f.Schedule})
	}
	// Flows after the feeds (a watchlist a feed just replaced is in use)
	// and before the report (the windows just closed are in it).
	for _, f := range cfg.Flows {
		out = append(out, JobSpec{Name: "flow " + f.Name, Schedule: "@every " + flowTick(f.Window.Duration()).String()})
	}
	out = append(out, JobSpec{Name: "report", Schedule: cfg.Report.Schedule})
	if cfg.Store.Retention.Duration() > 0 {
		out = append(out, JobSpec{Name: "purge", Schedule: cfg.Store.PurgeSchedule})
	}
	return out
}

// job is one scheduled piece of work: a feed's ingest, the report pass or
// the purge.
type job struct {
	JobSpec
	sched cron.Schedule
	next  time.Time
	// run does the job under its lock, waiting for the lock when wait is
	// set and giving ErrBusy otherwise when another instance holds it.
	run func(ctx context.Context, wait bool) (Summary, error)
}

// jobs returns the config's jobs (Jobs), ready to run.
func (d *Daemon) jobs() ([]*job, error) {
	var out []*job
	for _, spec := range Jobs(d.cfg) {
		j := &job{JobSpec: spec}
		s, err := config.ScheduleParser().Parse(spec.Schedule)
		if err != nil {
			return nil, fmt.Errorf("%s: schedule %q: %w", spec.Name, spec.Schedule, err)
		}
		j.sched = s
		if name, ok := strings.CutPrefix(spec.Name, "feed "); ok {
			fp, _ := d.cfg.Feed(name)
			f := *fp
			_, watched := d.cfg.WatchedFeeds()[f.Name]
			j.run = func(ctx context.Context, wait bool) (Summary, error) {
				var s Summary
				err := d.exclusive(ctx, "feed "+f.Name, wait, func() (err error) {
					s.Files, err = d.ingestFeed(ctx, f)
					return err
				})
				for _, r := range s.Files {
					s.Ingest.Add(r.Stats)
				}
				if watched {
					// The new list is in use before the next flow comes.
					if werr := d.refreshWatchlists(ctx); werr != nil {
						err = errors.Join(err, werr)
					}
				}
				return s, err
			}
		} else if name, ok := strings.CutPrefix(spec.Name, "flow "); ok {
			j.run = d.flowJob(name)
		} else if spec.Name == "purge" {
			j.run = func(ctx context.Context, wait bool) (Summary, error) {
				var s Summary
				var err error
				s.Purge, err = d.purgeJob(ctx, wait)
				return s, err
			}
		} else {
			j.run = func(ctx context.Context, wait bool) (Summary, error) {
				var s Summary
				var err error
				s.Report, err = d.reportLocked(ctx, false, wait)
				d.logReport(s.Report)
				return s, err
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// worked reports whether a job did anything: read a file (an unchanged
// URL finds none), decided an event, sent or tried to send a mail, purged.
func worked(s Summary) bool {
	if !s.Purge.Removed.Zero() || len(s.Files) > 0 {
		return true
	}
	p := s.Report.Plan
	return p.Read > 0 || s.Report.Deliver.Sent+s.Report.Deliver.Failed > 0
}

// jobResult decides how a run ended, and the error to keep with it. A
// run cut short by a stop is interrupted, not failed; one whose files or
// mails failed in part is partial, as `run --once` exits 3 for it. Pure.
func jobResult(s Summary, err error, stopped bool) (reporter.JobResult, string) {
	switch {
	case err != nil && stopped:
		return reporter.JobInterrupted, err.Error()
	case err != nil:
		return reporter.JobFailed, err.Error()
	}
	var failed []string
	for _, f := range s.Files {
		if f.Err != nil {
			failed = append(failed, f.Err.Error())
		}
	}
	if n := s.Report.Deliver.Failed; n > 0 {
		failed = append(failed, fmt.Sprintf("%d mails not sent", n))
	}
	switch {
	case len(failed) == 1:
		return reporter.JobPartial, failed[0]
	case len(failed) > 1:
		return reporter.JobPartial, fmt.Sprintf("%s (and %d more)", failed[0], len(failed)-1)
	case worked(s):
		return reporter.JobDone, ""
	}
	return reporter.JobIdle, ""
}

// runJob runs one job, logging how it went, and returns what it did and
// the run to record (nil when another instance held the job: that one
// records it). A panic is logged and returned as an error: it must not
// stop the other jobs.
func (d *Daemon) runJob(ctx context.Context, j *job, wait bool, by string) (s Summary, run *reporter.JobRun, err error) {
	if ctx.Err() != nil {
		return s, nil, ctx.Err()
	}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("job panicked; it runs again on its next tick", "job", j.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%s: panic: %v", j.Name, p)
			run = &reporter.JobRun{Job: j.Name, Started: d.now().UTC().Add(-time.Since(start)), Took: time.Since(start),
				Result: reporter.JobFailed, Error: err.Error(), By: by}
		}
	}()
	s, err = j.run(ctx, wait)
	took := time.Since(start).Round(time.Millisecond)
	if errors.Is(err, ErrBusy) {
		d.log.Debug("job left to another instance", "job", j.Name)
		return s, nil, err
	}
	d.metrics.Job(j.Name, took, err)
	result, cause := jobResult(s, err, ctx.Err() != nil)
	switch result {
	case reporter.JobFailed:
		d.log.Error("job failed", "job", j.Name, "took", took, slog.Any("err", err))
	case reporter.JobInterrupted:
		d.log.Warn("job cut short", "job", j.Name, "took", took, slog.Any("err", err))
	case reporter.JobDone, reporter.JobPartial:
		d.log.Info("job done", "job", j.Name, "took", took, "result", result)
	default:
		d.log.Debug("job idle", "job", j.Name, "took", took)
	}
	// d.now is the clock runs are recorded in (tests fix it); the
	// duration is the wall clock's.
	return s, &reporter.JobRun{Job: j.Name, Started: d.now().UTC().Add(-took), Took: took, Result: result, Error: cause, By: by}, err
}

// record keeps a run in the store for `status`. It runs even when the
// job was cut short by a stop, and a failure to record is logged, never
// the job's failure.
func (d *Daemon) record(ctx context.Context, run *reporter.JobRun) {
	if run == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.store.RecordJob(ctx, *run); err != nil {
		d.log.Warn("job run not recorded", "job", run.Job, slog.Any("err", err))
	}
}

// ErrNoJob is returned by RunJob for a name that is no job of the config.
var ErrNoJob = errors.New("no such job")

// JobNames lists the config's jobs, for a message naming them.
func (d *Daemon) JobNames() []string {
	var out []string
	for _, j := range Jobs(d.cfg) {
		out = append(out, j.Name)
	}
	return out
}

// RunJob runs one job of the config once, now, as the daemon would: under
// the same lock (waiting for it when wait is set, ErrBusy otherwise), and
// recorded in the store for `status`, without touching the daemon's plan
// for its next run. name is the job's name ("feed shadowserver",
// "report") or a feed's name alone.
func (d *Daemon) RunJob(ctx context.Context, name string, wait bool) (Summary, reporter.JobRun, error) {
	jobs, err := d.jobs()
	if err != nil {
		return Summary{}, reporter.JobRun{}, err
	}
	for _, j := range jobs {
		if j.Name != name && j.Name != "feed "+name {
			continue
		}
		s, run, err := d.runJob(ctx, j, wait, "cli "+d.instance)
		d.record(ctx, run)
		if run == nil {
			return s, reporter.JobRun{Job: j.Name}, err
		}
		return s, *run, err
	}
	return Summary{}, reporter.JobRun{}, fmt.Errorf("%w %q in %s; the jobs are: %s", ErrNoJob, name, d.cfg.Path, strings.Join(d.JobNames(), ", "))
}

// NextRun says when a job runs next, as `status` shows it: when the daemon
// that last ran the job planned to (it knows of wake-ups sooner than the
// schedule), if it read the schedule the config names now; otherwise the
// config schedule's next tick after the last run ended, or after now when
// the job never ran. A time in the past means the job is overdue: no
// daemon ran it when it was due. Pure.
func NextRun(sched cron.Schedule, spec string, st reporter.JobState, now time.Time) time.Time {
	last := st.Last
	switch {
	case last.Schedule == spec && !last.Next.IsZero():
		return last.Next
	case last.Started.IsZero():
		return sched.Next(now)
	}
	return sched.Next(last.Started.Add(last.Took))
}

// JobStatus is a job as `status` shows it.
type JobStatus struct {
	JobSpec
	// InConfig is false for a job the store remembers that the config no
	// longer makes (a feed removed); it has no schedule and no next run.
	InConfig bool
	State    reporter.JobState // the zero state when it never ran
	Next     time.Time         // NextRun
}

// JobStatuses returns the config's jobs in their order, then the ones the
// store remembers that the config no longer makes, each with its state and
// next run. It reads the config and the store only.
func JobStatuses(ctx context.Context, cfg *config.Config, st reporter.JobLog, now time.Time) ([]JobStatus, error) {
	states, err := st.JobStates(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]reporter.JobState, len(states))
	for _, s := range states {
		byName[s.Last.Job] = s
	}
	var out []JobStatus
	for _, spec := range Jobs(cfg) {
		sched, err := config.ScheduleParser().Parse(spec.Schedule)
		if err != nil {
			return nil, fmt.Errorf("%s: schedule %q: %w", spec.Name, spec.Schedule, err)
		}
		s := byName[spec.Name]
		delete(byName, spec.Name)
		out = append(out, JobStatus{JobSpec: spec, InConfig: true, State: s, Next: NextRun(sched, spec.Schedule, s, now)})
	}
	for _, s := range states {
		if _, gone := byName[s.Last.Job]; gone {
			out = append(out, JobStatus{JobSpec: JobSpec{Name: s.Last.Job}, State: s})
		}
	}
	return out, nil
}
