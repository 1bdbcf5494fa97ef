package reporter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed/csvfeed"
)

// slowStore stores batches side by side, each after a pause, and copies
// what it is given only once the pause is over: a batch the ingester
// refilled while it was being stored shows up as wrong events here.
type slowStore struct {
	mu       sync.Mutex
	events   map[string]int // hostname -> times stored
	inFlight int
	most     int
	failAt   int // the batch (1-based) that fails; 0: none
	batches  int
	rejects  int
}

func (s *slowStore) InsertEvents(ctx context.Context, ev []reporter.Event) (int, error) {
	s.mu.Lock()
	s.batches++
	n := s.batches
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(5 * time.Millisecond):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n == s.failAt {
		return 0, errors.New("disk full")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ev {
		s.events[e.Hostname]++
	}
	return len(ev), nil
}

func (s *slowStore) AddRejects(_ context.Context, r []reporter.Reject) error {
	s.mu.Lock()
	s.rejects += len(r)
	s.mu.Unlock()
	return nil
}

// rows writes a CSV feed of n rows, each with its own hostname, and a row
// every 100 that is broken on purpose.
func rows(n int) string {
	var b strings.Builder
	b.WriteString("timestamp,ip,hostname\n")
	for i := range n {
		if i%100 == 99 {
			b.WriteString("yesterday,192.0.2.1,broken\n")
			continue
		}
		fmt.Fprintf(&b, "2026-11-22 06:00:00,192.0.2.%d,h%d.example\n", i%250+1, i)
	}
	return b.String()
}

func csvParser() reporter.Parser {
	return &csvfeed.Parser{Columns: map[string]string{"time": "timestamp", "ip": "ip", "hostname": "hostname"},
		Classification: "vulnerable-service", TimeFormat: "2006-01-02 15:04:05"}
}

// With batches on their way to the store while the file is read on,
// every kept row is stored exactly once, as it was read, the rejects
// too, and no more batches are in the store at once than there are
// writers.
func TestIngestWritersStoreEveryEventOnce(t *testing.T) {
	for _, writers := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("writers=", writers), func(t *testing.T) {
			st := &slowStore{events: map[string]int{}}
			in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: st, Log: slog.New(slog.DiscardHandler),
				Now: time.Now, BatchSize: 7, Writers: writers}
			stats, err := in.Ingest(context.Background(), "scan", csvParser(), strings.NewReader(rows(1000)), "scan.csv")
			if err != nil {
				t.Fatal(err)
			}
			if stats.Kept != 990 || stats.Stored != 990 || stats.Rejected != 10 || st.rejects != 10 {
				t.Errorf("stats %+v, %d rejects stored", stats, st.rejects)
			}
			for i := range 1000 {
				want := 1
				if i%100 == 99 {
					want = 0
				}
				if got := st.events[fmt.Sprintf("h%d.example", i)]; got != want {
					t.Fatalf("h%d.example stored %d times, want %d (%d hostnames stored)", i, got, want, len(st.events))
				}
			}
			if most := max(writers, 1); st.most > most {
				t.Errorf("%d batches in the store at once, want at most %d", st.most, most)
			}
			if writers == 3 && st.most < 2 {
				t.Errorf("batches were stored one at a time with 3 writers")
			}
		})
	}
}

// A batch the store refuses stops the file with the store's error, whatever
// the writers are doing: the third of many in the middle of the file, or
// the last, which fails only after the parser is done, so that the error
// comes from waiting for the writers. Nothing is sent after the error is
// known, and the refused batch is not tried again.
func TestIngestWritersStopAtTheFirstError(t *testing.T) {
	for _, tt := range []struct {
		rows, failAt int
	}{{100000, 3}, {25, 3}} {
		for _, writers := range []int{0, 1, 2} {
			t.Run(fmt.Sprintf("rows=%d/writers=%d", tt.rows, writers), func(t *testing.T) {
				st := &slowStore{events: map[string]int{}, failAt: tt.failAt}
				in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: st, Log: slog.New(slog.DiscardHandler),
					Now: time.Now, BatchSize: 10, Writers: writers}
				stats, err := in.Ingest(context.Background(), "scan", csvParser(), strings.NewReader(rows(tt.rows)), "scan.csv")
				if err == nil || !strings.Contains(err.Error(), "store events: disk full") || !strings.Contains(err.Error(), "scan.csv") {
					t.Fatalf("err %v", err)
				}
				if st.batches > tt.failAt+writers || stats.Stored >= stats.Kept || stats.Stored != len(st.events) {
					t.Errorf("%d batches went to the store, the %dth refused; stats %+v, %d stored", st.batches, tt.failAt, stats, len(st.events))
				}
			})
		}
	}
}

// A cancelled context stops the file and its writers while batches are
// on their way.
func TestIngestWritersCancelled(t *testing.T) {
	st := &slowStore{events: map[string]int{}}
	in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: st, Log: slog.New(slog.DiscardHandler),
		Now: time.Now, BatchSize: 10, Writers: 2}
	file := rows(1000000)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	stats, err := in.Ingest(ctx, "scan", csvParser(), strings.NewReader(file), "scan.csv")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if st.batches == 0 || stats.Kept == 0 || stats.Kept == 990000 {
		t.Errorf("cancelled before or after the file, not while it was read: %d batches, stats %+v (%v)", st.batches, stats, time.Since(start))
	}
}

// panicStore's InsertEvents panics.
type panicStore struct{ slowStore }

func (*panicStore) InsertEvents(context.Context, []reporter.Event) (int, error) { panic("store bug") }

// A panic below a writer becomes the file's error instead of ending the
// process (no job's recover sees a goroutine of the ingester's own).
func TestIngestWriterPanic(t *testing.T) {
	in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: &panicStore{}, Log: slog.New(slog.DiscardHandler),
		Now: time.Now, BatchSize: 10, Writers: 2}
	_, err := in.Ingest(context.Background(), "scan", csvParser(), strings.NewReader(rows(100)), "scan.csv")
	if err == nil || !strings.Contains(err.Error(), "panic: store bug") {
		t.Fatalf("err %v", err)
	}
}

// stubborn is a parser that goes on handing events to the sink after it
// was told the store failed.
type stubborn struct{ n int }

func (p stubborn) Parse(_ context.Context, _ io.Reader, _ string, sink reporter.Sink) error {
	var first error
	for i := range p.n {
		e := reporter.Event{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i%250 + 1)}), Hostname: fmt.Sprintf("h%d", i), Time: time.Now()}
		if err := sink.Event(&e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Such a parser neither hangs the ingest nor gets more batches stored.
func TestIngestWritersAfterTheErrorSendNothing(t *testing.T) {
	st := &slowStore{events: map[string]int{}, failAt: 2}
	in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: st, Log: slog.New(slog.DiscardHandler),
		Now: time.Now, BatchSize: 10, Writers: 2}
	done := make(chan error, 1)
	go func() {
		_, err := in.Ingest(context.Background(), "scan", stubborn{n: 2000}, strings.NewReader(""), "scan.csv")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("err %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ingest hangs")
	}
	if st.batches > 2+2 {
		t.Errorf("%d batches went to the store after the second was refused", st.batches)
	}
}
