package storetest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// BenchPurge measures a purge of a store where every event is older than
// the cut: half of them reported in sent reports of 500 events, half
// closed (skipped). It builds the store first (not measured), then purges
// it in batches of reporter.DefaultPurgeBatch with pause between them
// (what the daemon uses for the backend): alone, and while another handle
// ingests batches of 1,000 new events as fast as it can; it reports the
// purge's events/s and, beside ingest, the slowest of those ingest
// batches, which shows whether ingest waited for more than a purge batch.
//
// 100,000 events by default; AUTOREPORTER_PURGE_EVENTS=1000000 for the
// figure in the README (-benchtime 1x: the store is built once a run).
func BenchPurge(b *testing.B, pause time.Duration, open func(b *testing.B) (s, other reporter.Store)) {
	n := 100_000
	if v := os.Getenv("AUTOREPORTER_PURGE_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("AUTOREPORTER_PURGE_EVENTS=%q: want a number of events, at least 1000", v)
		}
	}
	for _, beside := range []bool{false, true} {
		name := fmt.Sprintf("events=%d/alone", n)
		if beside {
			name = fmt.Sprintf("events=%d/beside-ingest", n)
		}
		b.Run(name, func(b *testing.B) { benchPurge(b, n, beside, pause, open) })
	}
}

func benchPurge(b *testing.B, n int, beside bool, pause time.Duration, open func(b *testing.B) (s, other reporter.Store)) {
	for b.Loop() {
		b.StopTimer()
		s, other := open(b)
		buildPurgeStore(b, s, n)
		b.StartTimer()
		start := time.Now()
		var slowest time.Duration
		var ingested int
		stop := make(chan struct{})
		var wg sync.WaitGroup
		if beside {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := benchEvents(1000)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					for j := range batch {
						batch[j].IP = benchAddr(n + i*1000 + j)
						batch[j].Ingested = time.Now()
					}
					t := time.Now()
					if _, err := other.InsertEvents(ctx, batch); err != nil {
						b.Error(err)
						return
					}
					slowest = max(slowest, time.Since(t))
					ingested += len(batch)
				}
			}()
		}
		got, done, err := reporter.Purge(ctx, s, t0, reporter.PurgeOptions{Pause: pause})
		took := time.Since(start)
		close(stop)
		wg.Wait()
		if err != nil || !done || got.Events != n {
			b.Fatalf("purge: %+v done=%v (%v), want %d events", got, done, err, n)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "events/s")
		b.ReportMetric(took.Seconds(), "s/purge")
		if beside {
			b.ReportMetric(float64(slowest.Milliseconds()), "ms/slowest-ingest-batch")
			b.ReportMetric(float64(ingested), "events-ingested-meanwhile")
		}
		b.StopTimer()
		if err := errors.Join(other.Close(), s.Close()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// buildPurgeStore fills s with n events ingested long before t0: half in
// sent reports of 500 events, half closed.
func buildPurgeStore(b *testing.B, s reporter.Store, n int) {
	long := t0.AddDate(-2, 0, 0)
	const chunk = 10_000
	for from := 0; from < n; from += chunk {
		batch := benchEvents(min(chunk, n-from))
		for j := range batch {
			batch[j].IP = benchAddr(from + j)
			batch[j].Time, batch[j].Ingested = long.Add(time.Duration(from+j)*time.Millisecond), long
		}
		if _, err := s.InsertEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	var cur reporter.PlanCursor
	i := 0
	for {
		cs, err := s.Candidates(ctx, cur, chunk)
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		vs := make([]reporter.Verdict, len(cs))
		for k, c := range cs {
			if i%2 == 0 {
				vs[k] = send(c, contact(fmt.Sprintf("r%d@x.example", i/1000)))
			} else {
				vs[k] = reporter.Verdict{ID: c.ID, Reason: reporter.RepeatWindow, Contact: contact("x@x.example")}
			}
			i++
		}
		if err := s.Decide(ctx, vs); err != nil {
			b.Fatal(err)
		}
		last := cs[len(cs)-1]
		cur = reporter.PlanCursor{Key: last.Key, Time: last.Time, ID: last.ID}
	}
	groups, err := s.PlannedGroups(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, g := range groups {
		rep, err := s.CreateReport(ctx, "B", long, g, fmt.Sprintf("<%d@bench>", msgSeq.Add(1)))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.MarkSent(ctx, rep.ID, "", "s", "", long); err != nil {
			b.Fatal(err)
		}
	}
}
