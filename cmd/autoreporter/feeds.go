package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) feeds(ctx context.Context, args []string) error {
	fs := e.flags("feeds", help{"feeds",
		"Shows each feed's source, last success, last error and row counts, and the events that wait.",
		"autoreporter feeds"})
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	states, err := daemon.FeedStates(ctx, cfg, st)
	if err != nil {
		return err
	}
	held, err := st.Held(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FEED\tFORMAT\tSOURCE\tLAST SUCCESS\tFILES\tROWS\tREJECTED\tHELD\tLAST ERROR")
	for i, f := range cfg.Feeds {
		st := states[i]
		src := f.Source.Spool
		if f.Source.URL != "" {
			src = f.Source.URL
			if j := strings.IndexByte(src, '?'); j >= 0 {
				src = src[:j] + "?…" // query strings carry API keys
			}
		}
		if a := f.Source.ShadowserverAPI; a != nil {
			src = fmt.Sprintf("Shadowserver API %s (%d days)", a.URL, a.Days)
		}
		last := "never"
		if !st.LastSuccess.IsZero() {
			last = st.LastSuccess.Format(time.RFC3339)
		}
		lastErr := "-"
		if st.LastError != "" {
			lastErr = st.LastErrorAt.Format(time.RFC3339) + " " + strconv.Quote(feed.Clip(st.LastError, 200))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", f.Name, f.Format, src, last, st.Files, st.TotalRows,
			st.TotalRejected, heldFor(held, f.Name), lastErr)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nROWS and REJECTED count every file since the feed was first seen; HELD counts the events that wait, and why.")
	return nil
}

// heldFor says how many events of a feed wait, and why: "3 (waiting-for-contact 2, unknown-report-type 1)".
func heldFor(held []reporter.HeldCount, feed string) string {
	n := 0
	var parts []string
	for _, h := range held {
		if h.Feed == feed {
			n += h.Events
			parts = append(parts, fmt.Sprintf("%s %d", h.Reason, h.Events))
		}
	}
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}
