package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/autoreporter/autoreporter/reporter"
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

// Check verifies everything a config names, beyond what config.Load
// checks: the .mmdb files open and are sound, the constituency compiles, the
// store opens, every template renders against sample data, and every spool
// folder exists or can be made. It returns every problem found.
func Check(ctx context.Context, cfg *config.Config) []error {
	var errs []error
	d, err := New(ctx, cfg, Options{})
	if err != nil {
		return []error{err}
	}
	defer d.Close()
	sample := sampleReport()
	for _, lang := range d.builder.Languages() {
		rep := sample.Report
		rep.Contact.Language = lang
		if _, err := d.builder.Build(rep, sample.Events); err != nil {
			errs = append(errs, fmt.Errorf("template for %q: %w", lang, err))
		}
	}
	for _, c := range cfg.Contacts {
		if c.Language != "" && !contains(d.builder.Languages(), c.Language) {
			errs = append(errs, fmt.Errorf("contacts: language %q has no template; %s will be used", c.Language, cfg.Cert.Language))
		}
	}
	for _, f := range cfg.Feeds {
		if f.Source.Spool == "" {
			continue
		}
		if err := os.MkdirAll(f.Source.Spool, 0o750); err != nil {
			errs = append(errs, fmt.Errorf("feeds %s: source.spool: %w", f.Name, err))
		}
	}
	if d.geo.Current().Constituency.Ranges() == 0 {
		errs = append(errs, fmt.Errorf("constituency: matches no address in %s or %s", cfg.Geo.CountryDB, cfg.Geo.ASNDB))
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type sample struct {
	Report reporter.Report
	Events []reporter.Event
}

func sampleReport() sample {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := reporter.Contact{To: []string{"abuse@isp.example"}, Source: "sample"}
	ev := []reporter.Event{
		{Time: t, Feed: "sample", Classification: reporter.InfectedSystem, Identifier: "andromeda", IP: netip.MustParseAddr("192.0.2.1"), Port: 1234, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP", Contact: c},
		{Time: t, Feed: "sample", Classification: reporter.VulnerableSystem, Identifier: "rdp", IP: netip.MustParseAddr("192.0.2.2"), Port: 3389, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP", Contact: c,
			Extra: []reporter.Field{{Key: "tag", Value: "rdp"}}},
	}
	return sample{Report: reporter.Report{Ref: "SAMPLE#20260102-0001", Contact: c, Created: t, MessageID: "<sample@autoreporter.invalid>"}, Events: ev}
}
