package main

import (
	"context"
	"fmt"
	"io"
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
	if cfg.Store.Retention.Duration() <= 0 {
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
	printPurge(e.stdout, cfg, res, time.Since(start))
	return err
}

// printPurge says what a purge removed, or on a dry run would remove.
func printPurge(w io.Writer, cfg *config.Config, res daemon.PurgeResult, took time.Duration) {
	verb := "removed"
	if res.DryRun {
		verb = "would remove"
	}
	r := res.Removed
	fmt.Fprintf(w, "%s what is older than %s (store.retention %s):\n", verb, res.Before.Format(time.RFC3339), cfg.Store.Retention)
	fmt.Fprintf(w, "  %s and %s\n", plural(r.Reports, "sent report"), plural(r.Events, "event"))
	fmt.Fprintf(w, "  %s, %s, %s\n", plural(r.Rejects, "rejected row"), plural(r.FetchedFiles, "fetched-file record"),
		plural(r.RDAPAnswers, "expired RDAP answer"))
	if res.DryRun {
		return
	}
	batches := fmt.Sprintf("%d batches", res.Batches)
	if res.Batches == 1 {
		batches = "1 batch"
	}
	fmt.Fprintf(w, "  in %s of at most %d rows, %s", batches, cfg.Store.PurgeBatch, took.Round(time.Millisecond))
	if !res.Done {
		fmt.Fprint(w, "; more is left for the next run")
	}
	fmt.Fprintln(w)
}
