package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) ingest(ctx context.Context, args []string) error {
	fs := e.flags("ingest", help{"ingest --feed NAME FILE...",
		"Ingests files as the named feed (.gz, .bz2 and .zip are unpacked), as if they had come\nthrough its source. Reports go out on the next report pass (or autoreporter report).",
		"autoreporter ingest --feed shadowserver 2026-11-23-scan_rdp-finland-geo.csv.gz"})
	name := fs.String("feed", "", "feed name from the config")
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--feed is required: the name of a feed in the config (see autoreporter ingest -h)")
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, ok := d.Config().Feed(*name); !ok {
		var names []string
		for _, f := range d.Config().Feeds {
			names = append(names, f.Name)
		}
		return usagef("no feed named %q in %s; the feeds are: %s", *name, d.Config().Path, strings.Join(names, ", "))
	}
	var total reporter.IngestStats
	var failed []string
	var results []daemon.FileResult
	for _, path := range fs.Args() {
		var m *meter
		r := d.IngestFileProgress(ctx, *name, path, func(done, total int64) {
			if m == nil {
				m = e.newMeter(filepath.Base(path), total, true)
			}
			m.Set(done, total)
		})
		if m != nil {
			m.Finish()
		}
		total.Add(r.Stats)
		if ctx.Err() == nil {
			results = append(results, r)
		}
		if r.Err != nil {
			failed = append(failed, r.Err.Error())
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d rows, %d kept, %d new, %d rejected\n", filepath.Base(path), r.Stats.Rows, r.Stats.Kept, r.Stats.Stored, r.Stats.Rejected)
	}
	// The files given together are one run of the feed, as a source's.
	if err := d.RecordFiles(context.WithoutCancel(ctx), *name, results, ctx.Err() == nil); err != nil {
		failed = append(failed, err.Error())
	}
	fmt.Fprintf(e.stdout, "total: %d rows, %d kept, %d new, %d rejected\n", total.Rows, total.Kept, total.Stored, total.Rejected)
	printReasons(e.stdout, total.Reasons)
	if len(failed) > 0 {
		return partialError{strings.Join(failed, "\n")}
	}
	return nil
}
