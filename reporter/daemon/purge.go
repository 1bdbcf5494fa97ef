package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/store/sqlite"
)

// purgeSlice is how long one run of the scheduled purge goes on before it
// lets the other jobs run (the jobs of one daemon run one at a time); it
// asks to run again a second later when there is more to remove.
const purgeSlice = time.Minute

// ErrNoRetention is returned by Purge when store.retention is not set.
var ErrNoRetention = errors.New("store.retention is not set: nothing is ever purged (set it, e.g. retention: 400d under store)")

// PurgeOptions say how one purge runs.
type PurgeOptions struct {
	Now    time.Time // the cut is Now less store.retention
	DryRun bool      // count what would go, remove nothing
	// Wait waits for another instance's purge to end instead of
	// returning ErrBusy.
	Wait bool
	// Stop ends the purge between two batches (a time budget); nil runs
	// until nothing is left.
	Stop func() bool
	Log  *slog.Logger
}

// PurgeResult is what a purge removed, or on a dry run would remove.
type PurgeResult struct {
	Before  time.Time // what is older than this went
	Removed reporter.PurgeStats
	Batches int
	// Done is true when nothing older than Before is left; false when
	// Stop ended the purge first.
	Done   bool
	DryRun bool
}

// Purge removes what is older than store.retention from st, a batch at a
// time (store.purge_batch rows, each batch its own transaction), under the
// "purge" job lock so that one instance purges at a time. A dry run takes
// no lock and only counts.
func Purge(ctx context.Context, cfg *config.Config, st reporter.PurgeStore, locks locker, opt PurgeOptions) (PurgeResult, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Store.Retention.Duration() <= 0 {
		return PurgeResult{}, ErrNoRetention
	}
	res := PurgeResult{Before: opt.Now.Add(-cfg.Store.Retention.Duration()).UTC(), DryRun: opt.DryRun}
	if opt.DryRun {
		var err error
		res.Removed, err = st.Purgeable(ctx, res.Before)
		res.Done = err == nil
		return res, err
	}
	// PostgreSQL's deletes lock rows no other writer wants; SQLite's lock
	// the database, and a writer in another process needs a gap to get in.
	var pause time.Duration
	if cfg.Store.Driver == "sqlite" {
		pause = sqlite.PurgePause
	}
	run := func() error {
		var err error
		res.Removed, res.Done, err = reporter.Purge(ctx, st, res.Before, reporter.PurgeOptions{
			Batch: cfg.Store.PurgeBatch, Pause: pause, Stop: opt.Stop,
			After: func(b reporter.PurgeStats) {
				res.Batches++
				opt.Log.Debug("purge batch", "reports", b.Reports, "events", b.Events, "rejects", b.Rejects,
					"fetched_files", b.FetchedFiles, "rdap_answers", b.RDAPAnswers)
			}})
		return err
	}
	if opt.Wait {
		release, err := locks.Wait(ctx, "purge")
		if err != nil {
			return res, err
		}
		defer release()
		return res, run()
	}
	release, ok, err := locks.TryLock(ctx, "purge")
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("purge: %w", ErrBusy)
	}
	defer release()
	return res, run()
}

// purgeJob is the scheduled purge: a slice of at most purgeSlice, then
// again a second later while there is more, so that a first purge of a
// year's backlog does not hold up ingest and reports.
func (d *Daemon) purgeJob(ctx context.Context, wait bool) (PurgeResult, error) {
	start := time.Now()
	res, err := Purge(ctx, d.cfg, d.store, d.locks, PurgeOptions{Now: d.now(), Log: d.log, Wait: wait,
		Stop: func() bool { return time.Since(start) > purgeSlice }})
	if err != nil {
		return res, err
	}
	if !res.Done {
		d.wakeAt("purge", time.Now().Add(time.Second))
	}
	if !res.Removed.Zero() {
		r := res.Removed
		d.log.Info("purged", "before", res.Before.Format(time.RFC3339), "reports", r.Reports, "events", r.Events,
			"rejects", r.Rejects, "fetched_files", r.FetchedFiles, "rdap_answers", r.RDAPAnswers,
			"batches", res.Batches, "done", res.Done)
	}
	return res, nil
}

// Purge removes what is older than store.retention now, waiting for
// another instance's purge to end; a dry run only counts.
func (d *Daemon) Purge(ctx context.Context, dryRun bool) (PurgeResult, error) {
	return Purge(ctx, d.cfg, d.store, d.locks, PurgeOptions{Now: d.now(), DryRun: dryRun, Wait: true, Log: d.log})
}
