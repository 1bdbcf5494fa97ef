package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

func (e *env) feeds(ctx context.Context, args []string) error {
	fs := e.flags("feeds", help{"feeds",
		"Shows each feed's source, last success, last error and row counts, and the events that wait.",
		"autoreporter feeds"})
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	d, err := e.openLazy(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	states, err := d.FeedStates(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FEED\tFORMAT\tSOURCE\tLAST SUCCESS\tROWS\tREJECTED\tLAST ERROR")
	for i, f := range d.Config().Feeds {
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", f.Name, f.Format, src, last, st.Rows, st.Rejected, dash(st.LastError))
	}
	return w.Flush()
}
