package main

import (
	"context"
	"fmt"
	netmail "net/mail"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/mail"
)

func (e *env) report(ctx context.Context, args []string) error {
	fs := e.flags("report", help{"report [--dry-run] | report --preview ADDR [--out DIR]",
		"Decides every new event now and sends the reports, without waiting for report.schedule.\n" +
			"--dry-run shows who would get how many events, and changes and sends nothing.\n" +
			"--preview builds the exact mails a report now would send to ADDR (parts, attachments,\n" +
			"signature; the ref and Message-ID are placeholders) and prints them, or writes them to\n" +
			"DIR as .eml files with --out; it changes and sends nothing.",
		"autoreporter report --dry-run\n  autoreporter report --preview abuse@isp.example | less"})
	dry := fs.Bool("dry-run", false, "show what would be sent; change and send nothing")
	preview := fs.String("preview", "", "build the mails a report now would send to this address, and send nothing")
	outDir := fs.String("out", "", "with --preview: write the mails here as .eml files instead of printing them")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *outDir != "" && *preview == "" {
		return usagef("--out goes with --preview (see autoreporter report -h)")
	}
	if *preview != "" {
		if *dry {
			return usagef("--preview and --dry-run are two different questions: ask one")
		}
		return e.preview(ctx, *preview, *outDir)
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
		fmt.Fprintf(e.stdout, "mails:   %d %s, %d failed%s\n", res.Deliver.Sent, sentWhere(d.Config()), res.Deliver.Failed, failedNote(res.Deliver))
	}
	if err == nil && res.Deliver.Failed > 0 {
		return partialError{fmt.Sprintf("%s not sent", plural(res.Deliver.Failed, "mail"))}
	}
	return err
}

func (e *env) resend(ctx context.Context, args []string) error {
	fs := e.flags("resend", help{"resend REF... | resend --failed-since DATE|7d",
		"Sends reports again, with the same Message-ID and bytes: the reports named by their ref (failed\nor sent: an ISP that lost one), or every report that failed (gave up after report.max_attempts)\nsince a time. A failed report does not count as told, so its hosts may meanwhile be in a newer one.",
		`autoreporter resend "CERT-XX#20261123-0042"`})
	since := fs.String("failed-since", "", "every report that failed since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	if err := parse(fs, args, 0, -1); err != nil {
		return err
	}
	if (fs.NArg() == 0) == (*since == "") {
		return usagef("name the reports (REF...) or --failed-since, one of the two (see autoreporter resend -h)")
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = parseSince(*since, time.Now()); err != nil {
			return usagef("--failed-since: %v", err)
		}
	}
	d, err := e.openWith(ctx, daemon.Options{LazyContacts: true})
	if err != nil {
		return err
	}
	defer d.Close()
	var m *meter
	res, err := d.ResendProgress(ctx, fs.Args(), from, func(done, total int) {
		if m == nil {
			m = e.newCountMeter("resend", int64(total), "reports")
		}
		m.Set(int64(done), int64(total))
	})
	if m != nil {
		m.Finish()
	}
	for _, ref := range res.Requeued {
		fmt.Fprintf(e.stdout, "requeued %s\n", ref)
	}
	for _, ref := range res.Unknown {
		fmt.Fprintf(e.stderr, "no report %s that was sent or failed\n", ref)
	}
	fmt.Fprintf(e.stdout, "mails:   %d %s, %d failed%s\n", res.Deliver.Sent, sentWhere(d.Config()), res.Deliver.Failed, failedNote(res.Deliver))
	switch {
	case err != nil:
		return err
	case len(res.Unknown) > 0:
		return fmt.Errorf("%s not found (a ref names a report that was sent or failed)", plural(len(res.Unknown), "report"))
	case len(res.Requeued) == 0:
		// A normal day for resend --failed-since in cron.
		fmt.Fprintln(e.stdout, "no report failed since then: nothing to send again")
	case res.Deliver.Failed > 0:
		return partialError{fmt.Sprintf("%s not sent", plural(res.Deliver.Failed, "report"))}
	}
	return nil
}

// sentWhere says where delivered mails went: "sent", or "written to DIR"
// in outbox mode.
func sentWhere(cfg *config.Config) string {
	if cfg.Mail.Mode == "outbox" {
		return "written to " + cfg.Mail.Outbox
	}
	return "sent"
}

func (e *env) preview(ctx context.Context, addr, outDir string) error {
	if _, err := netmail.ParseAddress(addr); err != nil || strings.ContainsAny(addr, "<> ") {
		return usagef("--preview: %q is not a bare mail address", addr)
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Preview(ctx, addr)
	if err != nil {
		return err
	}
	if len(p.Reports) == 0 {
		fmt.Fprintf(e.stderr, "no report would go to %s now (%d new events read, %d held back)\n", addr, p.Plan.Read, p.Plan.Held())
		return nil
	}
	for _, r := range p.Reports {
		fmt.Fprintf(e.stderr, "%s: %s to %s, %s\n", r.Ref, plural(r.EventCount, "event"), r.Contact.Key(), r.Subject)
	}
	if outDir != "" {
		ob := &mail.Outbox{Dir: outDir}
		for i, m := range p.Mails {
			name := fmt.Sprintf("preview-%d", i+1)
			if _, err := ob.Deliver(ctx, name, m); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", filepath.Join(outDir, mail.FileName(name)))
		}
		return nil
	}
	for i, m := range p.Mails {
		if len(p.Mails) > 1 {
			// Parts are whole mails; this line is not part of any.
			fmt.Fprintf(e.stdout, "----- mail %d of %d -----\n", i+1, len(p.Mails))
		}
		if _, err := e.stdout.Write(m.Raw); err != nil {
			return err
		}
	}
	return nil
}
