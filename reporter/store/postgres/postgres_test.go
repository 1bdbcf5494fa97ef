package postgres

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/pgtest"
	"github.com/autoreporter/autoreporter/reporter/store/storetest"
)

// open opens a Store on dsn, closed when the test ends.
func open(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (reporter.Store, storetest.Reopen) {
		dsn := pgtest.DSN(t)
		reopen := func(t *testing.T) reporter.Store {
			s, err := Open(context.Background(), dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return reopen(t), reopen
	})
}

// TestMigrateConcurrently: instances that start at once take turns at the
// migrations; each is applied once, and every instance opens.
func TestMigrateConcurrently(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 4
	var wg sync.WaitGroup
	applied := make([][]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = Migrate(context.Background(), dsn)
		}()
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if total != len(mustNames(t)) {
		t.Errorf("%d migrations applied in all, want each of %d once: %v", total, len(mustNames(t)), applied)
	}
	again, err := Migrate(context.Background(), dsn)
	if err != nil || len(again) != 0 {
		t.Errorf("migrate an up-to-date schema: %v %v", again, err)
	}
	open(t, dsn)
}

func mustNames(t *testing.T) []string {
	names, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		out = append(out, n.Name())
	}
	return out
}

// TestTimesAreUTC: whatever zone a caller's times are in, they come back
// in UTC, at microsecond precision, as the SQLite store gives them.
func TestTimesAreUTC(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	helsinki := time.FixedZone("EET", 2*60*60)
	at := time.Date(2026, 11, 23, 8, 0, 0, 123456789, helsinki)
	e := reporter.Event{Time: at, Feed: "f", Classification: reporter.Scanner, IP: netip.MustParseAddr("::ffff:192.0.2.1"),
		Source: "x:1", Ingested: at}
	if n, err := s.InsertEvents(ctx, []reporter.Event{e}); err != nil || n != 1 {
		t.Fatalf("insert: %d %v", n, err)
	}
	c, err := s.Candidates(ctx, reporter.PlanCursor{}, 10)
	if err != nil || len(c) != 1 {
		t.Fatalf("candidates: %v %+v", err, c)
	}
	want := time.Date(2026, 11, 23, 6, 0, 0, 123456000, time.UTC)
	if c[0].Time != want || c[0].Ingested != want {
		t.Errorf("time %v, ingested %v, want %v (UTC, microseconds)", c[0].Time, c[0].Ingested, want)
	}
	if c[0].IP.String() != "192.0.2.1" {
		t.Errorf("address %s, want it unmapped", c[0].IP)
	}
}

// TestDSNErrorsHidePasswords: a DSN that cannot be read or used does not
// print its password in the error, which ends up in logs.
func TestDSNErrorsHidePasswords(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:s3cret@127.0.0.1:notaport/db",
		"host=127.0.0.1 port=notaport password=s3cret",
		"postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
	} {
		_, err := Open(context.Background(), dsn, Options{})
		if err == nil {
			t.Fatalf("%s: no error", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
		if _, err := Migrate(context.Background(), dsn); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("migrate: %v", err)
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := Open(context.Background(), pgtest.DefaultDSN, Options{MaxConns: -1}); err == nil {
		t.Error("negative MaxConns accepted")
	}
}

// TestHistoryUsesTheAddressIndex: History by CIDR or address reads the
// GiST index, not every reported event.
func TestHistoryUsesTheAddressIndex(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	var evs []reporter.Event
	for i := range 5000 {
		evs = append(evs, reporter.Event{Time: time.Unix(1763611506, 0), Feed: "f", Classification: reporter.Scanner,
			IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Source: "x:1"})
	}
	if _, err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE events SET state = 'reported'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{`e.ip <<= '10.0.1.0/24'`, `e.ip = '10.0.1.1'`} {
		rows, err := s.pool.Query(ctx, `EXPLAIN SELECT e.id FROM events e WHERE e.state = 'reported' AND `+where)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan.String(), "events_ip") {
			t.Errorf("%s does not use events_ip:\n%s", where, plan.String())
		}
	}
}

func TestUnmapPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:192.0.2.0/120": "192.0.2.0/24",
		"192.0.2.77/24":        "192.0.2.0/24",
		"2001:db8::1/32":       "2001:db8::/32",
		"::ffff:0:0/80":        "::/80",
	} {
		if got := unmapPrefix(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"caf\xe9":       "caf\uFFFD",
		"\xff\xfe":      "\uFFFD\uFFFD",
		"nul\x00":       "nul\uFFFD",
		"ünï\U0001F600": "ünï\U0001F600",
	} {
		if got := text(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestConflictMapsDeadlocks(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	_, err := s.pool.Exec(context.Background(), `DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$`)
	if !errors.Is(conflict(err), reporter.ErrConflict) {
		t.Errorf("a deadlock is not ErrConflict: %v", conflict(err))
	}
	if errors.Is(conflict(errors.New("other")), reporter.ErrConflict) {
		t.Error("any error is ErrConflict")
	}
}

// BenchmarkInsertEvents: compare with the SQLite store's, which runs the
// same storetest.BenchInsertEvents. One million events:
// go test -run '^$' -bench 'InsertEvents/new/batch=10000$' -benchtime 100x
func BenchmarkInsertEvents(b *testing.B) {
	storetest.BenchInsertEvents(b, func(b *testing.B) reporter.Store {
		return open(b, pgtest.DSN(b))
	})
}

// TestNegativeLimits: a negative limit is no limit, as with SQLite, not
// an error.
func TestNegativeLimits(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	e := reporter.Event{Time: time.Unix(1763611506, 0), Feed: "f", Classification: reporter.Scanner,
		IP: netip.MustParseAddr("192.0.2.1"), Source: "x:1"}
	if _, err := s.InsertEvents(ctx, []reporter.Event{e}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Candidates(ctx, reporter.PlanCursor{}, -1); err != nil || len(c) != 1 {
		t.Errorf("candidates: %v %v", c, err)
	}
	if _, err := s.PendingContacts(ctx, -1); err != nil {
		t.Errorf("pending contacts: %v", err)
	}
}

// BenchmarkIngest: a report of 100,000 rows, all kept, through the
// ingester; batch=20000/writers=2 is what the daemon gives PostgreSQL.
func BenchmarkIngest(b *testing.B) {
	storetest.BenchIngest(b, func(b *testing.B) reporter.Store {
		return open(b, pgtest.DSN(b))
	}, []storetest.IngestShape{{Batch: 10000}, {Batch: 20000, Writers: 1}, {Batch: 20000, Writers: 2}})
}

// BenchmarkPurge: compare with the SQLite store's, which runs the same
// storetest.BenchPurge.
func BenchmarkPurge(b *testing.B) {
	storetest.BenchPurge(b, 0, func(b *testing.B) (reporter.Store, reporter.Store) {
		dsn := pgtest.DSN(b)
		var out [2]reporter.Store
		for i := range out {
			s, err := Open(context.Background(), dsn, Options{})
			if err != nil {
				b.Fatal(err)
			}
			out[i] = s
		}
		return out[0], out[1]
	})
}

// A pool of one connection is refused at Open, whether the DSN or the
// options set it: a job's lock would hold the only connection while the job
// waited for another.
func TestPoolOfOneRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	sep := " " // keyword=value pairs
	if strings.Contains(dsn, "://") {
		sep = "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
	}
	for name, try := range map[string]func() (*Store, error){
		"dsn":     func() (*Store, error) { return Open(context.Background(), dsn+sep+"pool_max_conns=1", Options{}) },
		"options": func() (*Store, error) { return Open(context.Background(), dsn, Options{MaxConns: 1}) },
	} {
		s, err := try()
		if err == nil {
			s.Close()
			t.Errorf("%s: a pool of one was opened", name)
		} else if !strings.Contains(err.Error(), "a pool of 1 connection") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s := open(t, dsn+sep+"pool_max_conns=3"); s.MaxConns() != 3 {
		t.Errorf("pool of %d, want 3", s.MaxConns())
	}
}
