// Command mkhistory builds a store with years of report history at the
// size a national CERT reaches, and measures the history queries on it.
//
// build fills a new store (an SQLite file, or an empty PostgreSQL schema)
// with N events reported in M reports to C ISPs over D days. The schema is
// the one the store's own migrations create: the tool opens the store to
// make it, then loads the rows the fastest way the backend has (SQLite:
// one transaction of prepared multi-row INSERTs; PostgreSQL: binary COPY),
// with the secondary indexes dropped while it loads and made again after
// from their own definitions. The shape follows a country: ISPs sized by a
// Zipf law (the biggest has about 13% of the events), a few report runs a
// day, reports of one event to thousands, and a quarter of each ISP's
// events from the one per cent of its hosts that stay infected for months.
//
// bench runs each shape of history query (by address, /24, AS over the
// last 30 days, contact, report ref, one day, feed, and a page deep in the
// history) many times with parameters drawn from the store, and prints
// p50, p99 and max per shape.
//
//	go run ./examples/mkhistory build -sqlite var/history.db
//	go run ./examples/mkhistory bench -sqlite var/history.db
//	createdb -U postgres -h 127.0.0.1 arhistory
//	go run ./examples/mkhistory build -postgres postgres://postgres@127.0.0.1/arhistory
//	go run ./examples/mkhistory bench -postgres postgres://postgres@127.0.0.1/arhistory
//
// make bench-history does both on both backends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

// errBuilt is returned by a build into a store that holds a history.
var errBuilt = errors.New("the store holds a history already: a history is built into a new file or an empty schema")

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkhistory:", err)
		os.Exit(1)
	}
}

const usage = `usage: mkhistory build|bench (-sqlite FILE | -postgres DSN) [flags]; mkhistory build -h lists the flags`

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("mkhistory "+args[0], flag.ContinueOnError)
	sqlitePath := fs.String("sqlite", "", "the SQLite store file")
	dsn := fs.String("postgres", "", "the PostgreSQL store's DSN (an empty database or schema, for build)")
	seed := fs.Uint64("seed", 1, "random seed")
	progress := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	switch args[0] {
	case "build":
		var s shape
		fs.IntVar(&s.Events, "events", 10_000_000, "reported events")
		fs.IntVar(&s.Reports, "reports", 1_000_000, "reports")
		fs.IntVar(&s.Contacts, "contacts", 1000, "ISPs (one AS and one abuse address each)")
		fs.IntVar(&s.Days, "days", 365, "days of history")
		fs.StringVar(&s.Prefix, "prefix", "CERT-XX", "report ref prefix")
		reuse := fs.Bool("reuse", false, "a store that holds a history already is kept as it is, not an error")
		end := fs.String("end", "", "the day after the last day of history (YYYY-MM-DD; default today, UTC)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		s.Seed = *seed
		s.End = time.Now().UTC().Truncate(24 * time.Hour)
		if *end != "" {
			t, err := time.Parse(time.DateOnly, *end)
			if err != nil {
				return fmt.Errorf("-end: %w", err)
			}
			s.End = t
		}
		w, err := newWorld(s)
		if err != nil {
			return err
		}
		t := time.Now()
		switch {
		case *sqlitePath != "" && *dsn == "":
			err = buildSQLite(ctx, *sqlitePath, w, progress)
		case *dsn != "" && *sqlitePath == "":
			err = buildPostgres(ctx, *dsn, w, progress)
		default:
			return errors.New("build: one of -sqlite and -postgres")
		}
		if errors.Is(err, errBuilt) && *reuse {
			fmt.Printf("kept the history built before (%v)\n", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		fmt.Printf("built %d events in %d reports to %d contacts over %d days in %s\n",
			s.Events, s.Reports, s.Contacts, s.Days, time.Since(t).Round(time.Second))
		return nil
	case "bench":
		var o benchOptions
		fs.IntVar(&o.N, "n", 1000, "queries per shape")
		fs.IntVar(&o.Limit, "limit", 1000, "rows a query asks for (autoreporter history's default --limit)")
		fs.IntVar(&o.Samples, "samples", 500, "reports and events drawn from the store for the queries' parameters")
		fs.IntVar(&o.Warmup, "warmup", 10, "untimed queries per shape first")
		fs.StringVar(&o.Shapes, "shapes", "", "comma-separated shapes to run (default all)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		o.Seed = *seed
		var h historian
		var err error
		switch {
		case *sqlitePath != "" && *dsn == "":
			if _, err := os.Stat(*sqlitePath); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			h, err = openSQLite(ctx, *sqlitePath)
			o.Backend = "sqlite"
		case *dsn != "" && *sqlitePath == "":
			h, err = openPostgres(ctx, *dsn)
			o.Backend = "postgres"
		default:
			return errors.New("bench: one of -sqlite and -postgres")
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer h.Close()
		return bench(ctx, h, o, os.Stdout)
	default:
		return errors.New(usage)
	}
}
