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

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
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
