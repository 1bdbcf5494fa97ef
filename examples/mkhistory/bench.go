package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/postgres"
	"github.com/autoreporter/autoreporter/reporter/store/sqlite"
)

// historian is the part of a store the benchmark asks.
type historian interface {
	History(ctx context.Context, q reporter.HistoryQuery) ([]reporter.HistoryRow, error)
	Close() error
}

func openSQLite(ctx context.Context, path string) (historian, error) { return sqlite.Open(ctx, path) }

func openPostgres(ctx context.Context, dsn string) (historian, error) {
	return postgres.Open(ctx, dsn, postgres.Options{})
}

type benchOptions struct {
	Backend                   string
	N, Limit, Samples, Warmup int
	Seed                      uint64
	Shapes                    string
}

// sample is a reported event drawn from the store, with its report: the
// parameters of the queries.
type sample struct {
	report reporter.Report
	event  reporter.Event
	seq    int
}

// benchShape is one shape of history query.
type benchShape struct {
	name  string
	query func(s sample) reporter.HistoryQuery
}

func shapes(newest time.Time, limit int) []benchShape {
	return []benchShape{
		{"ip", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{IP: s.event.IP, Limit: limit}
		}},
		{"cidr/24", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{CIDR: netip.PrefixFrom(s.event.IP, 24).Masked(), Limit: limit}
		}},
		{"asn-30d", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{ASN: s.event.ASN, Since: newest.AddDate(0, 0, -30), Limit: limit}
		}},
		{"asn", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{ASN: s.event.ASN, Limit: limit}
		}},
		{"contact", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{Contact: s.report.Contact.To[0], Limit: limit}
		}},
		{"ref", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{Ref: s.report.Ref, Limit: limit}
		}},
		{"day", func(s sample) reporter.HistoryQuery {
			d := s.report.Created.Truncate(24 * time.Hour)
			return reporter.HistoryQuery{Since: d, Until: d.Add(24 * time.Hour), Limit: limit}
		}},
		{"feed", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{Feed: s.event.Feed, Limit: limit}
		}},
		{"page", func(s sample) reporter.HistoryQuery {
			return reporter.HistoryQuery{Before: reporter.HistoryCursor{Report: s.report.ID, Seq: s.seq}, Limit: limit}
		}},
	}
}

// bench draws samples, then runs the shapes round-robin (so that no shape
// has the cache to itself) and prints each one's latency percentiles: the
// whole History call, rows read and decoded.
func bench(ctx context.Context, h historian, o benchOptions, out io.Writer) error {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed+7))
	first, err := h.History(ctx, reporter.HistoryQuery{Limit: 1})
	if err != nil {
		return err
	}
	if len(first) == 0 {
		return fmt.Errorf("the store has no history: build it first")
	}
	newest := first[0].Report
	// Report ids run from 1 to the newest's in a built store; a gap
	// (a report purged) is skipped.
	var samples []sample
	for len(samples) < o.Samples {
		id := 1 + r.Int64N(newest.ID)
		rows, err := h.History(ctx, reporter.HistoryQuery{Before: reporter.HistoryCursor{Report: id}, Limit: 1})
		if err != nil {
			return fmt.Errorf("sample report %d: %w", id, err)
		}
		if len(rows) == 0 || rows[0].Report.ID != id {
			continue
		}
		seq := r.IntN(rows[0].Report.EventCount)
		if rows, err = h.History(ctx, reporter.HistoryQuery{Before: reporter.HistoryCursor{Report: id, Seq: seq}, Limit: 1}); err != nil {
			return fmt.Errorf("sample report %d: %w", id, err)
		}
		samples = append(samples, sample{report: rows[0].Report, event: rows[0].Event, seq: seq})
	}
	all := shapes(newest.Created, o.Limit)
	var run []benchShape
	for _, s := range all {
		if o.Shapes == "" || slices.Contains(strings.Split(o.Shapes, ","), s.name) {
			run = append(run, s)
		}
	}
	if len(run) == 0 {
		return fmt.Errorf("no shape named in %q", o.Shapes)
	}
	times := make([][]time.Duration, len(run))
	rowsRead := make([]int, len(run))
	for i := range o.Warmup + o.N {
		for j, s := range run {
			q := s.query(samples[r.IntN(len(samples))])
			t := time.Now()
			rows, err := h.History(ctx, q)
			d := time.Since(t)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if i >= o.Warmup {
				times[j] = append(times[j], d)
				rowsRead[j] += len(rows)
			}
		}
	}
	fmt.Fprintf(out, "%s: newest report %d (%s), %d samples, limit %d, %d queries per shape after %d warm-up\n",
		o.Backend, newest.ID, newest.Created.Format(time.DateOnly), len(samples), o.Limit, o.N, o.Warmup)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shape\tp50\tp99\tmax\trows/query\t")
	for j, s := range run {
		d := times[j]
		slices.Sort(d)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t\n", s.name, ms(d[len(d)*50/100]), ms(d[(len(d)*99+99)/100-1]), ms(d[len(d)-1]),
			float64(rowsRead[j])/float64(len(d)))
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
