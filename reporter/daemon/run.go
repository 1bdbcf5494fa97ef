package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/autoreporter/autoreporter/reporter/config"
)

// Run runs the daemon until ctx is done: each feed's spool on its
// schedule, and the report pass on report.schedule. Jobs never overlap
// themselves, and a panic in one is logged and does not stop the others.
func (d *Daemon) Run(ctx context.Context) error {
	// Ingest and report share the store; one at a time keeps the embedded
	// store's single writer simple and a report from seeing half a file.
	var mu sync.Mutex
	logger := cron.VerbosePrintfLogger(slogPrintf{d.log})
	// SkipIfStillRunning goes before Recover: the other order stops a job
	// for good after its first panic.
	c := cron.New(cron.WithParser(config.ScheduleParser()), cron.WithLogger(logger),
		cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	for _, f := range d.cfg.Feeds {
		f := f
		if _, err := c.AddFunc(f.Schedule, func() {
			mu.Lock()
			defer mu.Unlock()
			if _, err := d.IngestFeed(ctx, f); err != nil && ctx.Err() == nil {
				d.log.Error("ingest", "feed", f.Name, slog.Any("err", err))
			}
		}); err != nil {
			return fmt.Errorf("feeds %s: schedule: %w", f.Name, err)
		}
	}
	if _, err := c.AddFunc(d.cfg.Report.Schedule, func() {
		mu.Lock()
		defer mu.Unlock()
		if _, err := d.Report(ctx, false); err != nil && ctx.Err() == nil {
			d.log.Error("report", slog.Any("err", err))
		}
	}); err != nil {
		return fmt.Errorf("report.schedule: %w", err)
	}
	if every := d.cfg.Geo.ReloadEvery; every > 0 {
		// Lookups never wait for a reload: the swap is one atomic store.
		go d.geo.Watch(ctx, every)
	}
	d.log.Info("running", "feeds", len(d.cfg.Feeds), "report_schedule", d.cfg.Report.Schedule)
	c.Start()
	<-ctx.Done()
	stop := c.Stop()
	select {
	case <-stop.Done():
	case <-time.After(30 * time.Second):
		d.log.Warn("jobs still running at shutdown")
	}
	return nil
}

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
