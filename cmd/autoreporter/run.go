package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) run(ctx context.Context, args []string) error {
	fs := e.flags("run", help{"run [--once | --job NAME [--wait]]",
		"Runs the daemon: one pass at start, then each feed on its schedule and the report pass on\nreport.schedule, until SIGTERM or SIGINT. --once does one full pass and exits (for cron or a\nsystemd timer); it exits 3 when a file failed or a mail was not sent.\n\n" +
			"--job runs one job now, as the daemon would and under the same lock: \"feed NAME\" (or the feed's\nname alone) or \"report\". It is recorded for autoreporter status. When another instance is doing\nthe job it fails, or with --wait waits for it to finish and then runs.",
		"autoreporter run --config /etc/autoreporter/config.yaml\n  autoreporter run --job \"feed shadowserver\" --config /etc/autoreporter/config.yaml"})
	once := fs.Bool("once", false, "ingest every feed, report, and exit")
	jobName := fs.String("job", "", "run this job once (\"feed NAME\" or \"report\") and exit")
	wait := fs.Bool("wait", false, "with --job: wait while another instance does the job, then run it")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case *once && *jobName != "":
		return usagef("--once and --job exclude each other (see autoreporter run -h)")
	case *wait && *jobName == "":
		return usagef("--wait goes with --job (see autoreporter run -h)")
	case *jobName != "":
		return e.runJob(ctx, *jobName, *wait)
	}
	if !*once {
		return e.serve(ctx)
	}
	d, err := e.openWith(ctx, daemon.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := d.RunOnce(ctx)
	printSummary(e.stdout, s)
	if err != nil {
		return err
	}
	failed := 0
	for _, f := range s.Files {
		if f.Err != nil {
			failed++
		}
	}
	if failed+s.Report.Deliver.Failed > 0 {
		var parts []string
		if failed > 0 {
			parts = append(parts, plural(failed, "file")+" failed (see failed: above; a spool file is in failed/ with a .error.txt beside it: fix it and move it back into the spool)")
		}
		if n := s.Report.Deliver.Failed; n > 0 {
			parts = append(parts, plural(n, "mail")+" not sent"+failedNote(s.Report.Deliver))
		}
		return partialError{strings.Join(parts, "; ")}
	}
	return nil
}

// runJob runs one job now (run --job) and says what it did.
func (e *env) runJob(ctx context.Context, name string, wait bool) error {
	d, err := e.openWith(ctx, daemon.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	s, run, err := d.RunJob(ctx, name, wait)
	switch {
	case errors.Is(err, daemon.ErrNoJob):
		return usageError{err.Error()}
	case errors.Is(err, daemon.ErrBusy):
		return fmt.Errorf("%w; --wait waits for it to finish and then runs the job", err)
	}
	if run.Job == "purge" {
		printPurge(e.stdout, d.Config(), s.Purge, run.Took)
	} else if run.Job == "report" {
		if s.Outbox == "" && d.Config().Mail.Mode == "outbox" {
			s.Outbox = d.Config().Mail.Outbox
		}
		printReport(e.stdout, s)
	} else {
		printIngest(e.stdout, s)
		printFailed(e.stdout, s)
	}
	fmt.Fprintf(e.stdout, "job:     %s %s in %s\n", run.Job, run.Result, run.Took.Round(time.Millisecond))
	switch {
	case err != nil:
		return err
	case run.Result == reporter.JobPartial:
		return partialError{run.Error}
	}
	return nil
}

func printSummary(w io.Writer, s daemon.Summary) {
	printIngest(w, s)
	printReport(w, s)
	printFailed(w, s)
	for _, b := range s.Busy {
		fmt.Fprintf(w, "skipped: %s (another autoreporter instance is doing it now)\n", b)
	}
}

// printIngest says what the feeds' ingest did.
func printIngest(w io.Writer, s daemon.Summary) {
	failed := 0
	for _, f := range s.Files {
		if f.Err != nil {
			failed++
		}
	}
	in := s.Ingest
	fmt.Fprintf(w, "files:   %s read, %d failed\n", plural(len(s.Files), "file"), failed)
	fmt.Fprintf(w, "rows:    %d read, %d kept (in the constituency), %d outside, %d rejected, %d without an address\n",
		in.Rows, in.Kept, in.Outside, in.Rejected, in.NoAddress)
	printReasons(w, in.Reasons)
	fmt.Fprintf(w, "events:  %d new, %d already stored\n", in.Stored, in.Kept-in.Stored)
}

// printReport says what the report pass did.
func printReport(w io.Writer, s daemon.Summary) {
	printPlan(w, s.Report)
	dl := s.Report.Deliver
	where := ""
	if s.Outbox != "" {
		where = " to " + s.Outbox
	}
	verb := "sent"
	if s.Outbox != "" {
		verb = "written"
	}
	fmt.Fprintf(w, "mails:   %d %s%s, %d failed%s\n", dl.Sent, verb, where, dl.Failed, failedNote(dl))
	fmt.Fprintf(w, "backlog: %s held, %s waiting to be sent\n", plural(s.Report.Plan.Held(), "event"), plural(s.Report.Unsent, "report"))
}

// printFailed names the files that failed.
func printFailed(w io.Writer, s daemon.Summary) {
	for _, f := range s.Files {
		if f.Err != nil {
			fmt.Fprintf(w, "failed:  %s: %v\n", f.File, f.Err)
		}
	}
}

// failedNote says what becomes of failed sends: retried later, or given up
// (then only `resend` sends them).
func failedNote(dl reporter.DeliverStats) string {
	switch {
	case dl.Failed == 0:
		return ""
	case dl.GaveUp == 0:
		return " (retried later)"
	case dl.GaveUp == dl.Failed:
		return " (gave up after report.max_attempts; autoreporter resend sends them again)"
	}
	return fmt.Sprintf(" (%d retried later, %d gave up after report.max_attempts; autoreporter resend sends them again)", dl.Failed-dl.GaveUp, dl.GaveUp)
}

// printPlan says what the report pass decided.
func printPlan(w io.Writer, r daemon.ReportResult) {
	p := r.Plan
	fmt.Fprintf(w, "reports: %s created for %s", plural(len(p.Reports), "report"), plural(p.Planned(), "event"))
	if n := p.Closed(); n > 0 {
		fmt.Fprintf(w, "; %s not sent%s", plural(n, "event"), byReason(p.Reasons, false))
	}
	fmt.Fprintln(w)
	if n := p.Held(); n > 0 {
		verb := "wait"
		if n == 1 {
			verb = "waits"
		}
		fmt.Fprintf(w, "held:    %s %s for a later pass%s\n", plural(n, "event"), verb, byReason(p.Reasons, true))
	}
	if c := r.Contacts; c.Queries+c.Failed+c.Stale+c.Fallback > 0 || c.Stopped != "" {
		fmt.Fprintf(w, "rdap:    %s, %d failed; %d answered from expired answers, %d sent to the fallback after rdap.max_wait\n",
			plural(c.Queries, "query"), c.Failed, c.Stale, c.Fallback)
		if c.Stopped != "" {
			fmt.Fprintf(w, "         stopped asking: %s\n", c.Stopped)
		}
	}
}

// byReason breaks counts down: " (3 reported-recently, 1 inhibited)".
func byReason(n map[reporter.Reason]int, held bool) string {
	var order []reporter.Reason
	for r, c := range n {
		if c > 0 && r.Held() == held {
			order = append(order, r)
		}
	}
	if len(order) == 0 {
		return ""
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = fmt.Sprintf("%d %s", n[r], r)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// plural writes "1 event", "2 events", "1 query", "3 queries".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printReasons breaks the rejected count down by reason, largest first.
func printReasons(w io.Writer, reasons map[string]int) {
	classes := make([]string, 0, len(reasons))
	for c := range reasons {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		if reasons[classes[i]] != reasons[classes[j]] {
			return reasons[classes[i]] > reasons[classes[j]]
		}
		return classes[i] < classes[j]
	})
	for _, c := range classes {
		fmt.Fprintf(w, "  rejected %d: %s\n", reasons[c], c)
	}
}

// serve runs the daemon, reloading its config on SIGHUP. It waits for each
// spool file to settle (feeds[].settle): it may still be being written;
// --once takes what is there.
func (e *env) serve(ctx context.Context) error {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	opts := daemon.Options{Settle: true, Log: e.logger(cfg.Log.Format), Version: buildVersion()}
	return daemon.Serve(ctx, e.configPath, opts, reload)
}
