package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

func (e *env) report(ctx context.Context, args []string) error {
	fs := e.flags("report")
	dry := fs.Bool("dry-run", false, "show what would be sent; change and send nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := d.Report(ctx, *dry)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	verb := "created"
	if *dry {
		verb = "would send"
	}
	for _, g := range res.Plan.Groups {
		to := g.Contact.Key()
		if g.Contact.Fallback {
			to += " (fallback)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verb, to, plural(g.Events, "event"))
	}
	tw.Flush()
	printPlan(e.stdout, res)
	if !*dry {
		fmt.Fprintf(e.stdout, "mails:   %d sent, %d failed%s\n", res.Deliver.Sent, res.Deliver.Failed, failedNote(res.Deliver))
	}
	return err
}
