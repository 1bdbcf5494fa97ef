// Command autoreporter tells each network owner in a CERT's constituency,
// by mail, which of its addresses showed up in global threat feeds.
//
// This file only parses flags and calls reporter/daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `autoreporter: tell each network owner about its hosts in global threat feeds.

Usage:
  autoreporter run [--once]                 the daemon; --once does one full cycle and exits
  autoreporter run --job NAME [--wait]      run one job (feed NAME, report) now, under the daemon's lock
  autoreporter ingest --feed NAME FILE...   ingest files as that feed
  autoreporter report [--dry-run]           build and send the pending reports now
  autoreporter report --preview ADDR [--out DIR]
                                            the exact mails a report now would send to ADDR; sends nothing
  autoreporter lookup IP...                 why an address would (not) be reported, and to whom
  autoreporter history [filters] [--json]   what was reported: --ip --cidr --asn --contact --feed --ref
                                            --since --until --limit --before (the next page)
  autoreporter feeds                        each feed's source, last success, last error and row counts
  autoreporter status [--json]              each job's schedule, next run, and last run: when, how long, result
  autoreporter rejects [--summary] [--json] rows that could not be read: --feed --file --since --limit
  autoreporter contacts import ripe DIR     import the RIPE split dumps (ripe.db.*.gz) in DIR
  autoreporter contacts lookup IP|ASN...    where reports go, and which source said so
  autoreporter contacts list                the overrides, the RIPE import and the RDAP cache in use
  autoreporter contacts set CIDR|ASN [--to ADDR,...] [--lang xx] [--format csv|inline|zip]
                            [--max-events N] [--sign METHOD] [--inhibit] [--until DATE|30d] [--note TEXT]
                                            add or replace an override; it wins over every import
  autoreporter contacts unset CIDR|ASN      remove an override set with contacts set
  autoreporter contacts pending             addresses whose events wait for an RDAP answer
  autoreporter resend REF... | --failed-since DATE|7d
                                            send reports again (the same mail, the same Message-ID)
  autoreporter check-config                 validate the config and every file it names
  autoreporter migrate                      apply the store's pending migrations and exit
  autoreporter purge [--dry-run]            remove what is older than store.retention; say what went
  autoreporter version

Every command takes --config FILE (default $AUTOREPORTER_CONFIG, or ./config.yaml)
and --log-level debug|info|warn|error (default info; logs go to stderr).
"autoreporter COMMAND -h" says what a command takes, with an example.

Exit codes: 0 done; 1 failed (the message says why); 2 the command line is
wrong; 3 done in part: some files failed or some mails were not sent (run
--once, run --job, ingest, report, resend). A mail not sent is tried again by the next
run; a spool file that failed is in failed/ with a .error.txt that says why.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type env struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
}

// help is what a command's -h says.
type help struct {
	synopsis string // after "autoreporter ": "ingest --feed NAME FILE..."
	about    string
	example  string
}

// flags starts a command's flag set with the flags every command takes and
// a usage that names the positional arguments and gives an example.
func (e *env) flags(name string, h help) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.configPath, "config", defaultConfig(), "config file")
	fs.StringVar(&e.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: autoreporter %s\n\n%s\n", h.synopsis, h.about)
		if h.example != "" {
			fmt.Fprintf(w, "\nExample:\n  %s\n", h.example)
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\n--config defaults to $AUTOREPORTER_CONFIG, or ./config.yaml when that is not set.\n")
	}
	return fs
}

func defaultConfig() string {
	if c := os.Getenv("AUTOREPORTER_CONFIG"); c != "" {
		return c
	}
	return "config.yaml"
}

// usageError is a command line that is wrong (exit 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// partialError is a command that did its job in part (exit 3): files that
// failed, mails that were not sent. The next run tries them again.
type partialError struct{ msg string }

func (p partialError) Error() string { return p.msg }

// parse parses a command's flags and refuses positional arguments beyond
// max (-1: any number).
func parse(fs *flag.FlagSet, args []string, min, max int) error {
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	switch {
	case max >= 0 && fs.NArg() > max:
		extra := fs.Args()[max:]
		return usagef("unexpected argument %q (see autoreporter %s -h)", extra[0], fs.Name())
	case fs.NArg() < min:
		return usagef("missing arguments (see autoreporter %s -h)", fs.Name())
	}
	return nil
}

// logger logs at --log-level in log.format (text or json) to stderr.
func (e *env) logger(format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(e.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
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
	case "status":
		err = e.status(ctx, rest)
	case "rejects":
		err = e.rejects(ctx, rest)
	case "contacts":
		err = e.contacts(ctx, rest)
	case "resend":
		err = e.resend(ctx, rest)
	case "migrate":
		err = e.migrate(ctx, rest)
	case "purge":
		err = e.purge(ctx, rest)
	case "version":
		fmt.Fprintln(stdout, "autoreporter", buildVersion())
	default:
		fmt.Fprintf(stderr, "autoreporter: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	var pe partialError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "autoreporter %s: %v\n", cmd, err)
		return 2
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "autoreporter %s: %v\n", cmd, err)
		return 3
	}
	fmt.Fprintf(stderr, "autoreporter %s: %v\n", cmd, err)
	return 1
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

// openStore opens only the store, for the commands that read it alone
// (history, rejects, feeds): no .mmdb file, RIPE snapshot or template is
// loaded.
func (e *env) openStore(ctx context.Context) (*config.Config, reporter.Store, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, nil, err
	}
	st, _, err := daemon.OpenStore(ctx, cfg, e.logger(cfg.Log.Format))
	return cfg, st, err
}

func (e *env) openWith(ctx context.Context, opts daemon.Options) (*daemon.Daemon, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, err
	}
	opts.Log = e.logger(cfg.Log.Format)
	opts.Version = buildVersion()
	return daemon.New(ctx, cfg, opts)
}
