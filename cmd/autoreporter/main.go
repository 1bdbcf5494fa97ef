// Command autoreporter tells each network owner in a CERT's constituency,
// by mail, which of its addresses showed up in global threat feeds.
//
// This file only parses flags and calls reporter/daemon.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `autoreporter: tell each network owner about its hosts in global threat feeds.

Usage:
  autoreporter run [--once]                 the daemon; --once does one full cycle and exits
  autoreporter ingest --feed NAME FILE...   ingest files as that feed
  autoreporter report [--dry-run]           build and send the pending reports now
  autoreporter lookup IP...                 why an address would (not) be reported, and to whom
  autoreporter history [filters] [--json]   what was reported: --ip --cidr --asn --contact --feed --since --limit
  autoreporter feeds                        each feed's source, last success, last error and row counts
  autoreporter rejects [--summary] [--json] rows that could not be read: --feed --file --since --limit
  autoreporter contacts import ripe DIR     import the RIPE split dumps (ripe.db.*.gz) in DIR
  autoreporter contacts lookup IP|ASN...    where reports go, and which source said so
  autoreporter contacts list                the overrides, the RIPE import and the RDAP cache in use
  autoreporter contacts set CIDR|ASN [--to ADDR,...] [--lang xx] [--format csv|inline]
                            [--inhibit] [--until DATE|30d] [--note TEXT]
                                            add or replace an override; it wins over every import
  autoreporter contacts unset CIDR|ASN      remove an override set with contacts set
  autoreporter contacts pending             addresses whose events wait for an RDAP answer
  autoreporter check-config                 validate the config and every file it names
  autoreporter version

Every command takes --config FILE (default ./config.yaml, or $AUTOREPORTER_CONFIG)
and --log-level debug|info|warn|error (default info; logs go to stderr).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type env struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
}

func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := os.Getenv("AUTOREPORTER_CONFIG")
	if def == "" {
		def = "config.yaml"
	}
	fs.StringVar(&e.configPath, "config", def, "config file")
	fs.StringVar(&e.logLevel, "log-level", "info", "debug, info, warn or error")
	return fs
}

func (e *env) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(e.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}

func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = e.run(ctx, rest)
	case "ingest":
		err = e.ingest(ctx, rest)
	case "report":
		err = e.report(ctx, rest)
	case "lookup":
		err = e.lookup(ctx, rest)
	case "history":
		err = e.history(ctx, rest)
	case "check-config":
		err = e.checkConfig(ctx, rest)
	case "feeds":
		err = e.feeds(ctx, rest)
	case "rejects":
		err = e.rejects(ctx, rest)
	case "contacts":
		err = e.contacts(ctx, rest)
	case "version":
		fmt.Fprintln(stdout, "autoreporter", buildVersion())
	default:
		fmt.Fprintf(stderr, "autoreporter: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "autoreporter %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
		return bi.Main.Version
	}
	return "dev"
}

func (e *env) open(ctx context.Context) (*daemon.Daemon, error) {
	return e.openWith(ctx, daemon.Options{})
}

// openLazy opens for commands that read the store only: the RIPE snapshot
// is not loaded unless a contact is asked for.
func (e *env) openLazy(ctx context.Context) (*daemon.Daemon, error) {
	return e.openWith(ctx, daemon.Options{LazyContacts: true})
}

func (e *env) openWith(ctx context.Context, opts daemon.Options) (*daemon.Daemon, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, err
	}
	opts.Log = e.logger()
	return daemon.New(ctx, cfg, opts)
}

func (e *env) run(ctx context.Context, args []string) error {
	fs := e.flags("run")
	once := fs.Bool("once", false, "ingest every feed, report, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts daemon.Options
	if !*once {
		// A file younger than this may still be being written into the spool.
		opts.SpoolSettle = 5 * time.Second
	}
	d, err := e.openWith(ctx, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	if !*once {
		return d.Run(ctx)
	}
	s, err := d.RunOnce(ctx)
	printSummary(e.stdout, s)
	return err
}

func printSummary(w io.Writer, s daemon.Summary) {
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

func (e *env) lookup(ctx context.Context, args []string) error {
	fs := e.flags("lookup")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: autoreporter lookup IP [IP]")
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	for i, s := range fs.Args() {
		ip, err := feed.ParseAddr(s)
		if err != nil {
			return err
		}
		l, err := d.Lookup(ctx, ip)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintf(w, "address\t%s\n", l.IP)
		fmt.Fprintf(w, "asn\t%s\n", dash(asnString(l.Info.ASN, l.Info.ASOrg)))
		fmt.Fprintf(w, "located in\t%s\n", dash(l.Info.Country))
		fmt.Fprintf(w, "registered in\t%s\n", dash(l.Info.RegisteredCountry))
		verdict := "no: not reported"
		if l.Decision.In {
			verdict = "yes: reported"
		}
		fmt.Fprintf(w, "constituency\t%s\n", verdict)
		for _, r := range l.Decision.Reasons {
			fmt.Fprintf(w, "\t- %s\n", r)
		}
		if l.InTable != l.Decision.In {
			fmt.Fprintf(w, "warning\tthe compiled range table says %v; please report this as a bug\n", l.InTable)
		}
		printContact(w, l.Contact)
		if l.ContactErr != nil {
			fmt.Fprintf(w, "rdap\t%v\n", l.ContactErr)
		}
		w.Flush()
	}
	return nil
}

func printContact(w io.Writer, c reporter.Contact) {
	fmt.Fprintf(w, "contact\t%s\n", dash(strings.Join(c.To, ", ")))
	fmt.Fprintf(w, "contact source\t%s\n", c.Source)
	if c.Language != "" {
		fmt.Fprintf(w, "language\t%s\n", c.Language)
	}
	if c.Format != "" {
		fmt.Fprintf(w, "format\t%s\n", c.Format)
	}
	if c.Inhibit != "" {
		fmt.Fprintf(w, "inhibited\t%s: events are kept and not reported\n", c.Inhibit)
	}
	if c.Pending {
		fmt.Fprintf(w, "pending\tevents wait until RDAP answers\n")
	}
}

func asnString(asn uint32, org string) string {
	if asn == 0 {
		return ""
	}
	return strings.TrimSpace(fmt.Sprintf("AS%d %s", asn, org))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) history(ctx context.Context, args []string) error {
	fs := e.flags("history")
	ip := fs.String("ip", "", "one address")
	cidr := fs.String("cidr", "", "addresses in a CIDR")
	asn := fs.String("asn", "", "AS number")
	contact := fs.String("contact", "", "a recipient address")
	feedName := fs.String("feed", "", "feed name")
	since := fs.String("since", "", "reports since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	limit := fs.Int("limit", 1000, "at most this many rows")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := reporter.HistoryQuery{Contact: *contact, Feed: *feedName, Limit: *limit}
	var err error
	if *ip != "" {
		if q.IP, err = feed.ParseAddr(*ip); err != nil {
			return fmt.Errorf("--ip: %w", err)
		}
	}
	if *cidr != "" {
		if q.CIDR, err = config.ParsePrefix(*cidr); err != nil {
			return fmt.Errorf("--cidr: %q is not a CIDR", *cidr)
		}
	}
	if *asn != "" {
		if q.ASN, err = config.ParseASN(*asn); err != nil {
			return fmt.Errorf("--asn: %w", err)
		}
	}
	if q.Since, err = sinceFlag(*since); err != nil {
		return err
	}
	d, err := e.openLazy(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	rows, err := d.History(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, r := range rows {
			if err := enc.Encode(historyJSON(r)); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REPORT\tCREATED\tSTATE\tTO\tEVENT TIME\tIP\tPORT\tASN\tCLASSIFICATION\tIDENTIFIER\tFEED")
	for _, r := range rows {
		ev := r.Event
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Report.Ref, r.Report.Created.Format(time.RFC3339),
			r.Report.State, r.Report.Contact.Key(), ev.Time.Format(time.RFC3339), ev.IP, ev.Port, ev.ASN,
			ev.Classification, ev.Identifier, ev.Feed)
	}
	w.Flush()
	if len(rows) == 0 {
		fmt.Fprintln(e.stderr, "no reported events match")
	}
	return nil
}

func historyJSON(r reporter.HistoryRow) map[string]any {
	ev := r.Event
	return map[string]any{
		"report": r.Report.Ref, "created": r.Report.Created, "state": r.Report.State, "to": r.Report.Contact.To,
		"message_id": r.Report.MessageID, "sent": r.Report.Sent,
		"time": ev.Time, "ip": ev.IP.String(), "port": ev.Port, "protocol": ev.Protocol, "asn": ev.ASN,
		"as_org": ev.ASOrg, "country": ev.Country, "hostname": ev.Hostname, "classification": ev.Classification,
		"identifier": ev.Identifier, "feed": ev.Feed, "source": ev.Source,
	}
}

// sinceFlag reads a --since value; empty means no bound.
func sinceFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseSince(s, time.Now())
	if err != nil {
		return t, fmt.Errorf("--since: %w", err)
	}
	return t, nil
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, l := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date, time or duration", s)
}

func (e *env) rejects(ctx context.Context, args []string) error {
	fs := e.flags("rejects")
	feedName := fs.String("feed", "", "only this feed")
	file := fs.String("file", "", "only rows of this file (as named in the summary)")
	since := fs.String("since", "", "rows kept since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	limit := fs.Int("limit", 50, "at most this many rows")
	summary := fs.Bool("summary", false, "count rows by feed and reason instead of listing them")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := reporter.RejectQuery{Feed: *feedName, File: *file, Limit: *limit}
	var err error
	if q.Since, err = sinceFlag(*since); err != nil {
		return err
	}
	d, err := e.openLazy(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	enc := json.NewEncoder(e.stdout)
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	defer w.Flush()
	if *summary {
		counts, err := d.Store().RejectSummary(ctx, q)
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
	rows, err := d.Store().Rejects(ctx, q)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintln(w, "KEPT\tFEED\tFILE\tLINE\tREASON\tRAW")
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

// parseInterspersed parses flags wherever they stand among the
// positional arguments (`contacts import ripe DIR --config X`), which the
// flag package alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func (e *env) contacts(ctx context.Context, args []string) error {
	usage := errors.New("usage: autoreporter contacts import ripe DIR | lookup IP|ASN... | list | set CIDR|ASN [flags] | unset CIDR|ASN | pending")
	if len(args) == 0 {
		return usage
	}
	sub, args := args[0], args[1:]
	fs := e.flags("contacts " + sub)
	var set overrideFlags
	if sub == "set" {
		set.define(fs)
	}
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	switch sub {
	case "import", "lookup", "list", "set", "unset", "pending":
	default:
		return usage
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	switch sub {
	case "import":
		if fs.NArg() != 2 || fs.Arg(0) != "ripe" {
			return errors.New("usage: autoreporter contacts import ripe DIR")
		}
		res, err := d.ImportRIPE(ctx, fs.Arg(1))
		if err != nil {
			return err
		}
		t := res.Table
		fmt.Fprintf(e.stdout, "imported %s in %s\n", fs.Arg(1), res.Took.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "objects: %d inetnum, %d inet6num, %d aut-num, %d organisation, %d role; %d unreadable\n",
			t.Stats.Objects["inetnum"], t.Stats.Objects["inet6num"], t.Stats.Objects["aut-num"], t.Stats.Objects["organisation"],
			t.Stats.Objects["role"], t.Stats.Skipped)
		fmt.Fprintf(e.stdout, "kept:    %d ranges (%d with an abuse contact of their own or their organisation's, the rest inherit), %d outside the constituency\n",
			t.Stats.Ranges, t.Stats.WithAbuse, t.Stats.Outside)
		fmt.Fprintf(e.stdout, "         %d aut-nums with an abuse contact, %d abuse mailboxes\n", t.Stats.ASNs, len(t.Contacts))
		if res.Previous == nil {
			fmt.Fprintf(e.stdout, "changes: first import\n")
		} else {
			fmt.Fprintf(e.stdout, "changes: %d ranges added, %d removed, %d with a changed mailbox, %d unchanged (since %s)\n",
				res.Diff.Added, res.Diff.Removed, res.Diff.Changed, res.Diff.Same, res.Previous.Imported.Format(time.RFC3339))
		}
		fmt.Fprintf(e.stdout, "saved:   %s\n", d.Config().RIPE.Snapshot)
		return nil
	case "lookup":
		if fs.NArg() == 0 {
			return errors.New("usage: autoreporter contacts lookup IP|ASN [IP|ASN]")
		}
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		defer w.Flush()
		fmt.Fprintln(w, "QUERY	CONTACT	SOURCE")
		for _, q := range fs.Args() {
			var ip netip.Addr
			var asn uint32
			if a, err := feed.ParseAddr(q); err == nil {
				ip = a
			} else if asn, err = config.ParseASN(q); err != nil {
				return fmt.Errorf("%q is neither an address nor an AS number", q)
			}
			c, err := d.Contact(ctx, ip, asn)
			source := c.Source
			switch {
			case err != nil:
				source += " (" + err.Error() + ")"
			case c.Inhibit != "":
				source += "; " + c.Inhibit
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", q, dash(strings.Join(c.To, ", ")), source)
		}
		return nil
	case "set":
		if fs.NArg() != 1 {
			return errors.New("usage: autoreporter contacts set CIDR|ASN [--to ADDR,...] [--lang xx] [--format csv|inline] [--inhibit] [--until DATE|30d] [--note TEXT]")
		}
		o, err := set.override(fs.Arg(0), time.Now())
		if err != nil {
			return err
		}
		saved, err := d.SetOverride(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "set override %s: %s\n", saved.Key(), describeOverride(saved))
		return nil
	case "pending":
		pend, err := d.PendingContacts(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ADDRESS\tASN\tEVENTS\tWAITING SINCE")
		for _, p := range pend {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", p.IP, p.ASN, p.Events, p.Since.Format(time.RFC3339))
		}
		w.Flush()
		fmt.Fprintf(e.stdout, "%d address(es) wait for RDAP; RDAP: %s\n", len(pend), d.RDAPStatus())
		return nil
	case "unset":
		if fs.NArg() != 1 {
			return errors.New("usage: autoreporter contacts unset CIDR|ASN")
		}
		rule, err := ruleKey(fs.Arg(0))
		if err != nil {
			return err
		}
		ok, err := d.UnsetOverride(ctx, rule)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no override %s was set with contacts set (overrides in %s are changed there)", rule, d.Config().Path)
		}
		fmt.Fprintf(e.stdout, "removed override %s\n", rule)
		return nil
	default: // list
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "OVERRIDE\tCONTACT\tFROM\tDETAILS")
		for _, o := range d.Overrides() {
			from := o.Origin
			if o.Origin == "store" {
				from = "contacts set"
				if o.By != "" {
					from += " by " + o.By
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Key(), dash(strings.Join(o.To, ", ")), from, describeOverride(o))
		}
		w.Flush()
		if t := d.RIPE(); t != nil {
			fmt.Fprintf(e.stdout, "\nRIPE: %s (%s)\n", t.Summary(), d.Config().RIPE.Snapshot)
		} else {
			fmt.Fprintf(e.stdout, "\nRIPE: not imported (autoreporter contacts import ripe DIR)\n")
		}
		fmt.Fprintf(e.stdout, "RDAP: %s\n", d.RDAPStatus())
		fmt.Fprintf(e.stdout, "fallback: %s\n", strings.Join(d.Config().Cert.FallbackContact, ", "))
		return nil
	}
}

// overrideFlags are the options of contacts set.
type overrideFlags struct {
	to, lang, format, until, note, by *string
	inhibit                           *bool
}

func (f *overrideFlags) define(fs *flag.FlagSet) {
	f.to = fs.String("to", "", "comma-separated addresses reports go to")
	f.lang = fs.String("lang", "", "two-letter language of the reports")
	f.format = fs.String("format", "", "csv (attachment, the default) or inline (the lines in the body)")
	f.inhibit = fs.Bool("inhibit", false, "keep the events but send nothing (an opt-out)")
	f.until = fs.String("until", "", "when the override ends: a date (2027-01-31), an RFC 3339 time, or a duration from now (30d)")
	f.note = fs.String("note", "", "why, for the next person (a ticket number)")
	f.by = fs.String("by", os.Getenv("USER"), "who sets it")
}

func (f *overrideFlags) override(rule string, now time.Time) (abuse.Override, error) {
	o := abuse.Override{Language: *f.lang, Format: *f.format, Inhibit: *f.inhibit, Note: *f.note, By: *f.by, Set: now.UTC(), Origin: "store"}
	if p, err := config.ParsePrefix(rule); err == nil {
		o.CIDR = p
	} else if asn, err := config.ParseASN(rule); err == nil {
		o.ASN = asn
	} else {
		return o, fmt.Errorf("%q is neither a CIDR nor an AS number", rule)
	}
	if *f.to != "" {
		o.To = strings.Split(*f.to, ",")
	}
	if *f.until != "" {
		t, err := config.ParseUntil(*f.until)
		if err != nil {
			d, derr := config.ParseDuration(*f.until)
			if derr != nil {
				return o, fmt.Errorf("--until: %w", err)
			}
			t = now.Add(d).UTC()
		}
		if !t.After(now) {
			return o, fmt.Errorf("--until %s is in the past", *f.until)
		}
		o.Until = t
	}
	return o, nil
}

func ruleKey(rule string) (string, error) {
	if p, err := config.ParsePrefix(rule); err == nil {
		return abuse.Override{CIDR: p}.Key(), nil
	}
	if asn, err := config.ParseASN(rule); err == nil {
		return abuse.Override{ASN: asn}.Key(), nil
	}
	return "", fmt.Errorf("%q is neither a CIDR nor an AS number", rule)
}

func describeOverride(o abuse.Override) string {
	var parts []string
	if o.Inhibit {
		parts = append(parts, "inhibited (events kept, nothing sent)")
	}
	if o.Language != "" {
		parts = append(parts, "language "+o.Language)
	}
	if o.Format != "" {
		parts = append(parts, "format "+o.Format)
	}
	if !o.Until.IsZero() {
		parts = append(parts, "until "+o.Until.UTC().Format(time.RFC3339))
	}
	if o.Note != "" {
		parts = append(parts, fmt.Sprintf("note %q", o.Note))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (e *env) checkConfig(ctx context.Context, args []string) error {
	fs := e.flags("check-config")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if errs := daemon.Check(ctx, cfg); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = "  " + err.Error()
		}
		return fmt.Errorf("config %s: %d problem(s):\n%s", cfg.Path, len(errs), strings.Join(msgs, "\n"))
	}
	fmt.Fprintf(e.stdout, "config %s is valid: %d feed(s), %d contact override(s)\n", cfg.Path, len(cfg.Feeds), len(cfg.Contacts))
	return nil
}

func (e *env) feeds(ctx context.Context, args []string) error {
	fs := e.flags("feeds")
	if err := fs.Parse(args); err != nil {
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
