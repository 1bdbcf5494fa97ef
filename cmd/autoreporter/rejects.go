package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) rejects(ctx context.Context, args []string) error {
	fs := e.flags("rejects", help{"rejects [--summary] [--feed NAME] [--file NAME] [--since WHEN] [--limit N] [--json]",
		"Lists the rows that could not be read, newest first, with their file, line and reason;\n--summary counts them by feed and reason.",
		"autoreporter rejects --summary --since 1d"})
	feedName := fs.String("feed", "", "only this feed")
	file := fs.String("file", "", "only rows of this file (as named in the summary)")
	since := fs.String("since", "", "rows kept since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	limit := fs.Int("limit", 50, "at most this many rows")
	summary := fs.Bool("summary", false, "count rows by feed and reason instead of listing them")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	// Files are kept by name, without their folder: a path works too.
	if *file != "" {
		*file = filepath.Base(*file)
	}
	q := reporter.RejectQuery{Feed: *feedName, File: *file, Limit: *limit}
	var err error
	if q.Since, err = sinceFlag(*since); err != nil {
		return err
	}
	_, st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	enc := json.NewEncoder(e.stdout)
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	defer w.Flush()
	if *summary {
		counts, err := st.RejectSummary(ctx, q)
		if err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintln(w, "FEED\tROWS\tLAST\tREASON")
		}
		for _, c := range counts {
			if *asJSON {
				if err := enc.Encode(map[string]any{"feed": c.Feed, "reason": c.Class, "rows": c.Count, "last": c.Last}); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", c.Feed, c.Count, c.Last.Format(time.RFC3339), c.Class)
		}
		return nil
	}
	rows, err := st.Rejects(ctx, q)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintln(w, "STORED\tFEED\tFILE\tLINE\tREASON\tRAW")
	}
	for _, r := range rows {
		if *asJSON {
			if err := enc.Encode(map[string]any{"at": r.At, "feed": r.Feed, "file": r.File, "line": r.Line,
				"reason": r.Reason, "class": r.Class, "raw": r.Raw}); err != nil {
				return err
			}
			continue
		}
		// The raw row is hostile feed data: quoted, so that control
		// characters cannot play tricks on the terminal.
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", r.At.Format(time.RFC3339), r.Feed, r.File, r.Line,
			strconv.Quote(r.Reason), strconv.Quote(feed.Clip(r.Raw, 120)))
	}
	if len(rows) == 0 && !*asJSON {
		fmt.Fprintln(e.stderr, "no rejected rows match")
	}
	return nil
}
