package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/autoreporter/autoreporter/reporter/config"
)

// job is one scheduled piece of work: a feed's ingest or the report pass.
type job struct {
	name  string // "feed shadowserver", "report"
	spec  string
	sched cron.Schedule
	next  time.Time
	run   func(ctx context.Context) (busy bool, err error)
}

// Run runs the daemon until ctx is done: one pass at start (every feed,
// then the report), then each feed on its schedule and the report pass on
// report.schedule. Jobs run one at a time in one loop, so that the
// embedded store has one writer and a report never sees half a file; when
// several fall due at once, the feeds go first, so new events do not wait a
// whole report interval. A job that overruns its interval skips the ticks
// it missed; a panic in one is logged and does not stop the others. Run
// returns only when no job is running, so the caller may close the store.
func (d *Daemon) Run(ctx context.Context) error {
	var jobs []*job
	for _, f := range d.cfg.Feeds {
		f := f
		jobs = append(jobs, &job{name: "feed " + f.Name, spec: f.Schedule, run: func(ctx context.Context) (bool, error) {
			res, err := d.IngestFeed(ctx, f)
			if _, watched := d.cfg.WatchedFeeds()[f.Name]; watched {
				// The new list is in use before the next flow arrives.
				if werr := d.refreshWatchlists(ctx); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			busy := false
			for _, r := range res {
				busy = busy || r.File != NotModified
			}
			return busy, err
		}})
	}
	// Flows after the feeds (a watchlist a feed just replaced is in use)
	// and before the report (the windows just closed are in it).
	for _, fr := range d.flows {
		jobs = append(jobs, &job{name: "flow " + fr.cfg.Name, spec: "@every " + flowTick(fr.cfg.WindowDuration).String(), run: d.flowJob(fr)})
	}
	jobs = append(jobs, &job{name: "report", spec: d.cfg.Report.Schedule, run: d.reportJob})
	for _, j := range jobs {
		s, err := config.ScheduleParser().Parse(j.spec)
		if err != nil {
			return fmt.Errorf("%s: schedule %q: %w", j.name, j.spec, err)
		}
		j.sched = s
	}
	if every := d.cfg.Geo.ReloadEvery; every > 0 {
		// Lookups never wait for a reload: the swap is one atomic store.
		go d.geo.Watch(ctx, every)
	}
	if d.cfg.HTTP.Listen != "" {
		if err := d.serveHTTP(ctx); err != nil {
			return err
		}
	}
	stopFlows, err := d.startFlows(ctx)
	if err != nil {
		return err
	}
	// Before Run returns, so the store is still open: the caller closes it.
	defer stopFlows()
	names := make([]string, len(d.cfg.Feeds))
	for i, f := range d.cfg.Feeds {
		names[i] = f.Name
	}
	d.log.Info("running", "version", d.version, "config", d.cfg.Path, "store", d.cfg.Store.Driver, "feeds", strings.Join(names, ","),
		"report_schedule", d.cfg.Report.Schedule, "mail", d.cfg.Mail.Mode)
	// Jobs run under their own context: a stop (ctx done) lets the job
	// under way finish, its mails and its batch recorded, for up to
	// shutdown_grace, and only then cancels it.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var running atomic.Pointer[string]
	cut := make(chan string, 1)
	go func() {
		select {
		case <-ctx.Done():
		case <-jobCtx.Done():
			return
		}
		grace := time.NewTimer(d.cfg.ShutdownGraceDuration)
		defer grace.Stop()
		select {
		case <-grace.C:
			if name := running.Load(); name != nil {
				cut <- *name
			}
			cancelJobs()
		case <-jobCtx.Done():
		}
	}()
	run := func(j *job) {
		running.Store(&j.name)
		d.runJob(jobCtx, j)
		running.Store(nil)
	}
	stopped := func() error {
		cancelJobs()
		select {
		case name := <-cut:
			err := fmt.Errorf("stopped after shutdown_grace (%s): job %q was cut short; the next start resumes it", d.cfg.ShutdownGraceDuration, name)
			d.log.Error("stopped", slog.Any("err", err))
			d.shutdownLog()
			return err
		default:
		}
		d.shutdownLog()
		return nil
	}
	// A pass at start: a file already in the spool, or a report left
	// pending by the last run, need not wait for the first tick.
	for _, j := range jobs {
		if ctx.Err() != nil {
			return stopped()
		}
		run(j)
	}
	for _, j := range jobs {
		j.next = d.nextRun(j)
	}
	for {
		next := jobs[0].next
		for _, j := range jobs[1:] {
			if j.next.Before(next) {
				next = j.next
			}
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return stopped()
		case <-timer.C:
		}
		// Jobs are in order, feeds before the report: the due ones run in
		// that order.
		now := time.Now()
		for _, j := range jobs {
			if ctx.Err() != nil {
				return stopped()
			}
			if !j.next.After(now) {
				run(j)
				j.next = d.nextRun(j)
			}
		}
	}
}

// nextRun is when a job runs next: its schedule's next tick, or sooner
// when the job asked (a spool file that was still changing settles, a
// failed mail is due again).
func (d *Daemon) nextRun(j *job) time.Time {
	now := time.Now()
	next := j.sched.Next(now)
	if w, ok := d.takeWake(j.name); ok && w.Before(next) {
		// Never sooner than a second: a job that keeps asking for now
		// (a store that fails) must not spin.
		if floor := now.Add(time.Second); w.Before(floor) {
			w = floor
		}
		next = w
	}
	return next
}

// runJob runs one job, logging its failure or panic.
func (d *Daemon) runJob(ctx context.Context, j *job) {
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("job panicked; it runs again on its next tick", "job", j.name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	busy, err := j.run(ctx)
	took := time.Since(start).Round(time.Millisecond)
	if !errors.Is(err, ErrBusy) {
		d.metrics.Job(j.name, took, err)
	}
	switch {
	case errors.Is(err, ErrBusy):
		d.log.Debug("job left to another instance", "job", j.name)
	case err != nil && ctx.Err() == nil:
		d.log.Error("job failed", "job", j.name, "took", took, slog.Any("err", err))
	case busy:
		d.log.Info("job done", "job", j.name, "took", took)
	default:
		d.log.Debug("job idle", "job", j.name, "took", took)
	}
}

// reportJob is the scheduled report pass; it logs its summary when it did
// anything.
func (d *Daemon) reportJob(ctx context.Context) (bool, error) {
	res, err := d.Report(ctx, false)
	p := res.Plan
	busy := p.Read > 0 || res.Deliver.Sent+res.Deliver.Failed > 0
	attrs := []any{"events_read", p.Read, "reports_created", len(p.Reports), "events_planned", p.Planned(),
		"events_closed", p.Closed(), "events_held", p.Held(), "sent", res.Deliver.Sent, "failed", res.Deliver.Failed,
		"gave_up", res.Deliver.GaveUp, "unsent", res.Unsent}
	if busy {
		d.log.Info("report pass", attrs...)
	} else {
		d.log.Debug("report pass: nothing to do", attrs...)
	}
	return busy, err
}

// shutdownLog says what a stop leaves for the next start.
func (d *Daemon) shutdownLog() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var attrs []any
	if held, err := d.store.Held(ctx); err == nil {
		n := 0
		for _, h := range held {
			n += h.Events
		}
		attrs = append(attrs, "events_held", n)
	}
	if unsent, err := d.store.PendingReports(ctx, time.Unix(1<<40, 0)); err == nil {
		attrs = append(attrs, "reports_unsent", len(unsent))
	}
	d.log.Info("stopped", attrs...)
}
