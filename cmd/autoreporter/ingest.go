package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
)

func (e *env) ingest(ctx context.Context, args []string) error {
	fs := e.flags("ingest")
	name := fs.String("feed", "", "feed name from the config")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() == 0 {
		return errors.New("usage: autoreporter ingest --feed NAME FILE [FILE]")
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	var total reporter.IngestStats
	var failed []string
	for _, path := range fs.Args() {
		r := d.IngestFile(ctx, *name, path)
		total.Add(r.Stats)
		if r.Err != nil {
			failed = append(failed, r.Err.Error())
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d rows, %d kept, %d new, %d rejected\n", filepath.Base(path), r.Stats.Rows, r.Stats.Kept, r.Stats.Stored, r.Stats.Rejected)
	}
	fmt.Fprintf(e.stdout, "total: %d rows, %d kept, %d new, %d rejected\n", total.Rows, total.Kept, total.Stored, total.Rejected)
	printReasons(e.stdout, total.Reasons)
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}
