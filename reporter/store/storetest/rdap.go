package storetest

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/abuse/rdaptest"
	"github.com/autoreporter/autoreporter/reporter"
)

// fakeClock is the resolvers' clock: their waits for a query slot advance
// it instead of sleeping, so that the suite runs at once and the times of
// the queries are exact.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return nil
}

// queryLog records the clock's time of every query that goes out.
type queryLog struct {
	clock *fakeClock
	mu    sync.Mutex
	at    []time.Time
}

func (q *queryLog) RoundTrip(r *http.Request) (*http.Response, error) {
	q.mu.Lock()
	q.at = append(q.at, q.clock.Now())
	q.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// maxPerSecond is the most queries in any one second.
func (q *queryLog) maxPerSecond() int {
	q.mu.Lock()
	at := slices.Clone(q.at)
	q.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	best, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// resolver is an RDAP source on srv that shares its state through s.
func resolver(t *testing.T, srv *rdaptest.Server, s abuse.RDAPShared, c *fakeClock, log *queryLog, rate float64) *abuse.RDAP {
	t.Helper()
	r, err := abuse.NewRDAP(abuse.RDAPOptions{Server: srv.URL, Rate: rate, Timeout: 5 * time.Second, Now: c.Now,
		Sleep: c.Sleep, Shared: s, HTTP: &http.Client{Transport: log}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testConcurrentRDAPRate: two resolvers on two handles of one store ask at
// the configured rate together: never more than rate+1 queries in one
// second (a slot may be used until the next begins), where each alone may
// ask at the full rate.
func testConcurrentRDAPRate(t *testing.T, a, b reporter.Store) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	c := &fakeClock{t: t0}
	log := &queryLog{clock: c}
	const rate = 4
	ra, rb := resolver(t, srv, a, c, log, rate), resolver(t, srv, b, c, log, rate)
	ip := netip.MustParseAddr("192.0.2.1")
	for i, who := range "aabbbabaababbbaaababbbbaaaab" {
		r := ra
		if who == 'b' {
			r = rb
		}
		if _, err := r.Fetch(ctx, ip); err != nil {
			t.Fatalf("query %d (%c): %v", i, who, err)
		}
	}
	if n := log.maxPerSecond(); n > rate+1 {
		t.Errorf("two resolvers on one store made %d queries in one second; the rate is %d", n, rate)
	}
	if n := srv.Hits(netip.Addr{}); n != 28 {
		t.Errorf("%d queries reached the server, want 28", n)
	}
}

// testRDAPPauseShared: a 429 seen by one resolver stops the other, on
// another handle, without a query, and a resolver started later on a
// handle opened after the first ones were closed (a restart) too, until
// the Retry-After has passed.
func testRDAPPauseShared(t *testing.T, a reporter.Store, reopen Reopen) {
	b := reopen(t)
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Status: 429, RetryAfter: "3600", Body: []byte(`{"errorCode":429}`)})
	srv.Set("198.51.100.0/24", rdaptest.Answer{Body: rdaptest.Fixture("arin-ip.json")})
	c := &fakeClock{t: t0}
	log := &queryLog{clock: c}
	ra, rb := resolver(t, srv, a, c, log, 1), resolver(t, srv, b, c, log, 1)
	if _, err := ra.Fetch(ctx, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Fatal("a 429 was taken as an answer")
	}
	_, err := rb.Fetch(ctx, netip.MustParseAddr("198.51.100.1"))
	if !errors.Is(err, abuse.ErrCircuitOpen) || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("the other instance after the 429: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := reopen(t)
	closeAtEnd(t, c2)
	rc := resolver(t, srv, c2, c, log, 1)
	if _, err := rc.Fetch(ctx, netip.MustParseAddr("198.51.100.1")); !errors.Is(err, abuse.ErrCircuitOpen) {
		t.Fatalf("a restarted instance forgot the Retry-After: %v", err)
	}
	if err := rc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if open, until, cause := rc.Open(); !open || !until.Equal(t0.Add(time.Hour)) || !strings.Contains(cause.Error(), "429") {
		t.Errorf("status of the restarted instance: open=%v until=%v cause=%v", open, until, cause)
	}
	if n := srv.Hits(netip.Addr{}); n != 1 {
		t.Errorf("%d queries, want the one that got the 429", n)
	}
	c.Sleep(ctx, time.Hour)
	if _, err := rc.Fetch(ctx, netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Errorf("after the Retry-After: %v", err)
	}
}
