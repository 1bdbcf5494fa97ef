package main

import (
	"context"
	"fmt"
	"time"

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) purge(ctx context.Context, args []string) error {
	fs := e.flags("purge", help{"purge [--dry-run]",
		"Removes what is older than store.retention: sent reports with their events, closed events (not\nreported: repeats, too old, inhibited), rejected rows, fetched-file records and expired RDAP\nanswers. New, held and planned events, and reports not sent or failed (they can be resent), are\nkept whatever their age. It removes store.purge_batch rows a transaction, so a daemon on the same\nstore goes on meanwhile; the daemon purges on store.purge_schedule by itself. --dry-run counts.",
		"autoreporter purge --dry-run --config /etc/autoreporter/config.yaml"})
	dry := fs.Bool("dry-run", false, "count what would be removed; remove nothing")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if cfg.Store.RetentionDuration <= 0 {
		return fmt.Errorf("%w in %s", daemon.ErrNoRetention, cfg.Path)
	}
	log := e.logger(cfg.Log.Format)
	st, locks, err := daemon.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	res, err := daemon.Purge(ctx, cfg, st, locks, daemon.PurgeOptions{Now: start, DryRun: *dry, Wait: true, Log: log})
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	r := res.Removed
	fmt.Fprintf(e.stdout, "%s what is older than %s (store.retention %s):\n", verb, res.Before.Format(time.RFC3339), cfg.Store.Retention)
	fmt.Fprintf(e.stdout, "  %s and %s\n", plural(r.Reports, "sent report"), plural(r.Events, "event"))
	fmt.Fprintf(e.stdout, "  %s, %s, %s\n", plural(r.Rejects, "rejected row"), plural(r.FetchedFiles, "fetched-file record"),
		plural(r.RDAPAnswers, "expired RDAP answer"))
	if !*dry {
		batches := fmt.Sprintf("%d batches", res.Batches)
		if res.Batches == 1 {
			batches = "1 batch"
		}
		fmt.Fprintf(e.stdout, "  in %s of at most %d rows, %s\n", batches, cfg.Store.PurgeBatch, time.Since(start).Round(time.Millisecond))
	}
	return err
}
