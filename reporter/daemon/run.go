package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Run runs the daemon until ctx is done: one pass at start (every feed,
// then the report, then the purge when store.retention is set), then each
// feed on its schedule, the report pass on report.schedule and the purge
// on store.purge_schedule. Jobs run one at a time in one loop, so that the
// embedded store has one writer and a report never sees half a file; when
// several fall due at once, the feeds go first, so new events do not wait a
// whole report interval. A job that overruns its interval skips the ticks
// it missed; a panic in one is logged and does not stop the others. Run
// returns only when no job is running, so the caller may close the store.
func (d *Daemon) Run(ctx context.Context) error {
	jobs, err := d.jobs()
	if err != nil {
		return err
	}
	if every := d.cfg.Geo.Reload.Duration(); every > 0 {
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
		grace := time.NewTimer(d.cfg.ShutdownGrace.Duration())
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
	var report *job
	for _, j := range jobs {
		if j.Name == "report" {
			report = j
		}
	}
	// A feed that found a file still being written asks to run again once
	// it settles. When the report ran in the same pass, after that feed,
	// the file belonged to the pass: the feed's run once it settles is
	// followed by the report, instead of leaving the file's events for
	// the next report tick (an hour, by default).
	owes := map[*job]bool{}
	var wokeThisPass []*job
	// Each run is recorded with when the job runs next, for `status`.
	run := func(j *job) {
		running.Store(&j.Name)
		_, rec, _ := d.runJob(jobCtx, j, false, "daemon "+d.instance)
		running.Store(nil)
		j.next = d.nextRun(j)
		if rec != nil {
			rec.Schedule, rec.Next = j.Schedule, j.next
		}
		d.record(jobCtx, rec)
		switch {
		case j == report:
			for _, f := range wokeThisPass {
				owes[f] = true
			}
			wokeThisPass = nil
		case strings.HasPrefix(j.Name, "feed "):
			if owes[j] && report != nil {
				delete(owes, j)
				// A second on, so that the other feeds' files that settle
				// together go in the same report.
				if due := time.Now().Add(time.Second); due.Before(report.next) {
					report.next = due
				}
			}
			if j.next.Before(j.sched.Next(time.Now())) {
				wokeThisPass = append(wokeThisPass, j)
			}
		}
	}
	stopped := func() error {
		cancelJobs()
		select {
		case name := <-cut:
			err := fmt.Errorf("stopped after shutdown_grace (%s): job %q was cut short; the next start resumes it", d.cfg.ShutdownGrace.Duration(), name)
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
		wokeThisPass = nil
		for _, j := range jobs {
			if ctx.Err() != nil {
				return stopped()
			}
			if !j.next.After(now) {
				run(j)
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
	if w, ok := d.takeWake(j.Name); ok && w.Before(next) {
		// Never sooner than a second: a job that keeps asking for now
		// (a store that fails) must not spin.
		if floor := now.Add(time.Second); w.Before(floor) {
			w = floor
		}
		next = w
	}
	return next
}

// logReport logs a report pass's summary, at info when it did anything.
func (d *Daemon) logReport(res ReportResult) {
	p := res.Plan
	attrs := []any{"events_read", p.Read, "reports_created", len(p.Reports), "events_planned", p.Planned(),
		"events_closed", p.Closed(), "events_held", p.Held(), "sent", res.Deliver.Sent, "failed", res.Deliver.Failed,
		"gave_up", res.Deliver.GaveUp, "unsent", res.Unsent}
	if worked(Summary{Report: res}) {
		d.log.Info("report pass", attrs...)
	} else {
		d.log.Debug("report pass: nothing to do", attrs...)
	}
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
