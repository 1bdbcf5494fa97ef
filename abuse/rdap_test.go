package abuse

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

	"github.com/autoreporter/autoreporter/abuse/rdaptest"
)

// clock is a settable time for expiry and cooldown tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newRDAP(t *testing.T, srv *rdaptest.Server, c *clock, mod func(*RDAPOptions)) *RDAP {
	t.Helper()
	opt := RDAPOptions{Server: srv.URL, Rate: 1000, Timeout: 2 * time.Second, Language: "fi", Now: c.Now}
	if mod != nil {
		mod(&opt)
	}
	r, err := NewRDAP(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestRDAPAbuseEntity(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	srv.Set("198.51.100.0/25", rdaptest.Answer{Body: rdaptest.Fixture("arin-ip.json")})
	srv.Set("2001:db8:1000::/36", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip6.json")})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, nil)

	if got, ok := r.Lookup(ip("192.0.2.7"), 0); !ok || !got.Pending {
		t.Fatalf("before any query the answer must be pending, got %+v %v", got, ok)
	}
	if srv.Hits(netip.Addr{}) != 0 {
		t.Fatal("Lookup queried the server; it must answer from the cache only")
	}
	cases := []struct {
		ip, to, handle, entity, first, last string
	}{
		// RIPE: the abuse entity is at the top; the display name goes.
		{"192.0.2.7", "abuse@isp-one.example", "192.0.2.0 - 192.0.2.255", "AR12345-RIPE", "192.0.2.0", "192.0.2.255"},
		// ARIN: under the organisation; the noc entity and the hostile
		// value with a header in it are not taken.
		{"198.51.100.9", "abuse@example-us.example", "NET-198-51-100-0-1", "ABUSE5678-ARIN", "198.51.100.0", "198.51.100.127"},
		{"2001:db8:1234::1", "abuse@isp-one.example", "2001:db8:1000::/36", "AR12345-RIPE", "2001:db8:1000::", "2001:db8:1fff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tc := range cases {
		e, err := r.Fetch(ctx, ip(tc.ip))
		if err != nil {
			t.Fatalf("%s: %v", tc.ip, err)
		}
		if strings.Join(e.To, ",") != tc.to || e.Handle != tc.handle || e.Entity != tc.entity ||
			e.First != ip(tc.first) || e.Last != ip(tc.last) {
			t.Errorf("%s: got %+v", tc.ip, e)
		}
		if !e.Expires.Equal(t0.Add(7 * 24 * time.Hour)) {
			t.Errorf("%s: expires %v, want the default TTL of 7 days", tc.ip, e.Expires)
		}
	}
	// One query serves the whole network.
	got, ok := r.Lookup(ip("192.0.2.200"), 0)
	if !ok || got.Pending || got.Key() != "abuse@isp-one.example" || got.Language != "fi" ||
		!strings.HasPrefix(got.Source, "rdap 192.0.2.0 - 192.0.2.255 192.0.2.0-192.0.2.255 (abuse AR12345-RIPE") {
		t.Errorf("cached answer for the network: %+v %v", got, ok)
	}
	if n := srv.Hits(netip.Addr{}); n != 3 {
		t.Errorf("%d queries, want 3", n)
	}
	// Outside every cached network: still pending.
	if got, _ := r.Lookup(ip("198.51.100.200"), 0); !got.Pending {
		t.Errorf("198.51.100.200 is outside the /25 answer: %+v", got)
	}
}

func TestRDAPNegative(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("0.0.0.0/0", rdaptest.Answer{Body: rdaptest.Fixture("no-abuse-ip.json")})
	srv.Set("192.0.2.0/24", rdaptest.Answer{Status: 404, Body: []byte(`{"errorCode":404}`)})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, nil)

	e, err := r.Fetch(ctx, ip("203.0.113.5"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.To) != 0 || e.First != ip("203.0.113.0") || e.Last != ip("203.0.113.255") {
		t.Errorf("a whole-space block without abuse must be cached for the /24 only: %+v", e)
	}
	if _, ok := r.Lookup(ip("203.0.113.77"), 0); ok {
		t.Error("a cached 'no abuse contact' must pass to the next step")
	}
	if got, _ := r.Lookup(ip("203.0.114.1"), 0); !got.Pending {
		t.Error("the negative answer leaked past its /24")
	}
	e, err = r.Fetch(ctx, ip("192.0.2.1"))
	if err != nil {
		t.Fatalf("a 404 is an answer, not a failure: %v", err)
	}
	if e.First != ip("192.0.2.1") || e.Last != ip("192.0.2.1") {
		t.Errorf("404 cached for %v-%v, want the address alone", e.First, e.Last)
	}
	if !e.Expires.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("negative TTL: expires %v", e.Expires)
	}
	if open, _, _ := r.Open(); open {
		t.Error("answers opened the circuit")
	}
}

func TestRDAPSlowServerOpensCircuit(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Delay: 10 * time.Second, Body: rdaptest.Fixture("ripe-ip.json")})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, func(o *RDAPOptions) { o.Timeout = 50 * time.Millisecond })
	for i := range 3 {
		_, err := r.Fetch(ctx, ip("192.0.2.1"))
		var re *RDAPError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "no answer in time") {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	open, until, cause := r.Open()
	if !open || !until.Equal(t0.Add(time.Minute)) || cause == nil {
		t.Fatalf("after 3 failures: open=%v until=%v cause=%v", open, until, cause)
	}
	_, err := r.Fetch(ctx, ip("192.0.2.1"))
	if !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("while open: %v", err)
	}
	if n := srv.Hits(netip.Addr{}); n != 3 {
		t.Errorf("the server was asked %d times, want 3 (none while open)", n)
	}
	// After the cooldown one query is let through; it fails again, and the
	// next cooldown is twice as long.
	c.Add(time.Minute)
	if _, err := r.Fetch(ctx, ip("192.0.2.1")); errors.Is(err, ErrCircuitOpen) {
		t.Fatal("still open after the cooldown")
	}
	for range 2 {
		_, _ = r.Fetch(ctx, ip("192.0.2.1"))
	}
	if _, until, _ := r.Open(); !until.Equal(c.Now().Add(2 * time.Minute)) {
		t.Errorf("second cooldown ends %v, want %v", until, c.Now().Add(2*time.Minute))
	}
	// The server recovers: one answer closes the circuit.
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	c.Add(2 * time.Minute)
	if _, err := r.Fetch(ctx, ip("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if open, _, cause := r.Open(); open || cause != nil {
		t.Error("an answer did not close the circuit")
	}
}

func TestRDAPRateLimited(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Status: 429, RetryAfter: "600", Body: []byte(`{"errorCode":429}`)})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, nil)
	_, err := r.Fetch(ctx, ip("192.0.2.1"))
	var re *RDAPError
	if !errors.As(err, &re) || re.Status != 429 || re.RetryAfter != 10*time.Minute {
		t.Fatalf("429: %v", err)
	}
	// One 429 is enough: the server asked us to stop, for as long as it said.
	if open, until, _ := r.Open(); !open || !until.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("after a 429: open=%v until=%v", open, until)
	}
	if _, err := r.Fetch(ctx, ip("192.0.2.2")); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("while rate limited: %v", err)
	}
	if srv.Hits(netip.Addr{}) != 1 {
		t.Error("queried a server that said 429")
	}
}

func TestRDAPGarbage(t *testing.T) {
	big := append([]byte(`{"handle":"`), make([]byte, 2<<20)...)
	for name, a := range map[string]rdaptest.Answer{
		"html":      {Body: []byte("<html><body>Service Unavailable</body></html>")},
		"truncated": {Body: rdaptest.Fixture("ripe-ip.json")[:300]},
		"not-a-net": {Body: []byte(`{"objectClassName":"entity","handle":"X"}`)},
		"huge":      {Body: big},
		"502":       {Status: 502, Body: []byte("bad gateway")},
		"bad-vcard": {Body: []byte(`{"objectClassName":"ip network","startAddress":"192.0.2.0","endAddress":"192.0.2.255","entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{},"text",{"x":1}]]]}]}`)},
	} {
		t.Run(name, func(t *testing.T) {
			srv := rdaptest.New(t)
			srv.Set("192.0.2.0/24", a)
			r := newRDAP(t, srv, &clock{t: t0}, nil)
			e, err := r.Fetch(ctx, ip("192.0.2.1"))
			switch {
			case name == "bad-vcard":
				// A vCard that does not decode leaves no address: a
				// negative answer, not a crash.
				if err != nil && !strings.Contains(err.Error(), "rdap 192.0.2.1") {
					t.Fatalf("error does not name the address: %v", err)
				}
				if err == nil && len(e.To) != 0 {
					t.Fatalf("addresses from a broken vCard: %v", e.To)
				}
			case err == nil:
				t.Fatalf("garbage taken as an answer: %+v", e)
			case !strings.Contains(err.Error(), "rdap 192.0.2.1"):
				t.Fatalf("error does not name the address: %v", err)
			}
			if got, _ := r.Lookup(ip("192.0.2.1"), 0); len(got.To) != 0 {
				t.Errorf("garbage cached: %+v", got)
			}
		})
	}
}

func TestRDAPRateLimit(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	r := newRDAP(t, srv, &clock{t: t0}, func(o *RDAPOptions) { o.Rate = 0.001 })
	if _, err := r.Fetch(ctx, ip("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	// The next token is 1000 s away: a caller with less time gives up
	// without asking the server.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := r.Fetch(cctx, ip("192.0.2.2")); !errors.Is(err, ErrNoTime) {
		t.Fatalf("the rate limit let a second query through, or said so unclearly: %v", err)
	}
	if srv.Hits(netip.Addr{}) != 1 {
		t.Errorf("%d queries, want 1", srv.Hits(netip.Addr{}))
	}
	if open, _, _ := r.Open(); open {
		t.Error("our own deadline opened the circuit")
	}
}

func TestRDAPExpiry(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, func(o *RDAPOptions) { o.TTL = time.Hour })
	e, err := r.Fetch(ctx, ip("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	// A new source loading the stored entry answers without a query.
	r2 := newRDAP(t, srv, c, nil)
	r2.Load([]RDAPEntry{e})
	if got, _ := r2.Lookup(ip("192.0.2.9"), 0); got.Key() != "abuse@isp-one.example" {
		t.Fatalf("loaded cache: %+v", got)
	}
	c.Add(time.Hour)
	if got, _ := r2.Lookup(ip("192.0.2.9"), 0); !got.Pending {
		t.Errorf("expired answer used: %+v", got)
	}
	got, ok := r2.StaleContact(ip("192.0.2.9"))
	if !ok || got.Key() != "abuse@isp-one.example" || !strings.Contains(got.Source, "stale since 2026-11-23") {
		t.Errorf("stale answer: %+v %v", got, ok)
	}
}

func TestRDAPNestedNetworks(t *testing.T) {
	r, err := NewRDAP(RDAPOptions{Server: "https://rdap.example", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(time.Hour)
	// A /16 allocation with a non-CIDR assignment inside it.
	r.Load([]RDAPEntry{
		{First: ip("10.0.0.0"), Last: ip("10.0.255.255"), Handle: "LIR", Entity: "A1", To: []string{"lir@x.example"}, Expires: exp},
		{First: ip("10.0.1.0"), Last: ip("10.0.2.127"), Handle: "CUST", Entity: "A2", To: []string{"cust@x.example"}, Expires: exp},
	})
	for addr, want := range map[string]string{
		"10.0.0.1": "lir@x.example", "10.0.1.1": "cust@x.example", "10.0.2.127": "cust@x.example",
		"10.0.2.128": "lir@x.example", "10.0.200.1": "lir@x.example",
	} {
		if got, _ := r.Lookup(ip(addr), 0); got.Key() != want {
			t.Errorf("%s: %q, want %q", addr, got.Key(), want)
		}
	}
	if _, err := NewRDAP(RDAPOptions{Server: "rdap.example"}); err == nil {
		t.Error("a server without a scheme was accepted")
	}
}

func TestResolverOrderWithRDAP(t *testing.T) {
	r, err := NewRDAP(RDAPOptions{Server: "https://rdap.example", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	r.Load([]RDAPEntry{
		{First: ip("192.0.2.0"), Last: ip("192.0.2.255"), Handle: "N", Entity: "E", To: []string{"rdap@isp.example"}, Expires: t0.Add(time.Hour)},
		{First: ip("203.0.113.0"), Last: ip("203.0.113.255"), Handle: "M", Expires: t0.Add(time.Hour)},
	})
	res, err := NewResolver([]Override{{CIDR: netip.MustParsePrefix("192.0.2.128/25"), To: []string{"override@isp.example"}}},
		[]string{"soc@cert.example"}, "en")
	if err != nil {
		t.Fatal(err)
	}
	res = res.WithSources(r)
	for addr, want := range map[string]string{
		"192.0.2.200": "override@isp.example", // override first
		"192.0.2.1":   "rdap@isp.example",
		"203.0.113.1": "soc@cert.example", // RDAP knows no abuse contact: fallback
	} {
		if got := res.Resolve(ip(addr), 64500); got.Key() != want {
			t.Errorf("%s: %q (%s), want %q", addr, got.Key(), got.Source, want)
		}
	}
	if got := res.Resolve(ip("198.51.100.1"), 64500); !got.Pending || got.Key() != "" {
		t.Errorf("uncached address: %+v, want pending", got)
	}
	if !slices.Equal(res.Resolve(ip("192.0.2.1"), 0).To, []string{"rdap@isp.example"}) {
		t.Error("no ASN changed the answer")
	}
}

// BenchmarkRDAPCached is the ingest-time cost of RDAP: a cache lookup
// among 100,000 cached networks (a mix of /24s and non-CIDR ranges).
func BenchmarkRDAPCached(b *testing.B) {
	r, err := NewRDAP(RDAPOptions{Server: "https://rdap.example", Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	var entries []RDAPEntry
	for i := range 100000 {
		a := netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 0})
		last := netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 255})
		if i%3 == 0 {
			last = netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 199}) // not a CIDR
		}
		entries = append(entries, RDAPEntry{First: a, Last: last, Handle: "N", To: []string{"a@x.example"}, Expires: t0.Add(time.Hour)})
	}
	r.Load(entries)
	ips := make([]netip.Addr, 1024)
	for i := range ips {
		n := i * 97
		ips[i] = netip.AddrFrom4([4]byte{byte(10 + n>>16), byte(n >> 8), byte(n), byte(i % 200)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if c, ok := r.Lookup(ips[i&1023], 0); !ok || c.Pending {
			b.Fatal("miss")
		}
	}
}

// BenchmarkResolve is the whole chain for an address that reaches the
// fallback past 1,000 CIDR overrides: the worst case at ingest.
func BenchmarkResolve(b *testing.B) {
	var ovs []Override
	for i := range 1000 {
		ovs = append(ovs, Override{CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 32), To: []string{"a@x.example"}})
	}
	r, err := NewResolver(ovs, []string{"soc@cert.example"}, "en")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fallback", func(b *testing.B) {
		ip := netip.MustParseAddr("192.0.2.1")
		b.ReportAllocs()
		for b.Loop() {
			if c := r.Resolve(ip, 64500); c.Source != "fallback" {
				b.Fatal(c.Source)
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		ip := netip.MustParseAddr("172.16.2.7")
		b.ReportAllocs()
		for b.Loop() {
			if c := r.Resolve(ip, 64500); c.Source != "override cidr 172.16.2.7/32" {
				b.Fatal(c.Source)
			}
		}
	})
}

func TestRDAPRefreshReplaces(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	c := &clock{t: t0}
	r := newRDAP(t, srv, c, func(o *RDAPOptions) { o.TTL = time.Hour })
	for range 3 {
		if _, err := r.Fetch(ctx, ip("192.0.2.1")); err != nil {
			t.Fatal(err)
		}
		c.Add(2 * time.Hour)
	}
	if r.Len() != 1 {
		t.Errorf("three answers for one network make %d entries", r.Len())
	}
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: []byte(strings.ReplaceAll(string(rdaptest.Fixture("ripe-ip.json")), "Abuse@ISP-One.example", "new@isp-one.example"))})
	if _, err := r.Fetch(ctx, ip("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Lookup(ip("192.0.2.1"), 0); got.Key() != "new@isp-one.example" {
		t.Errorf("refreshed answer not used: %+v", got)
	}
}

// roundTripFunc records requests on their way out.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// maxInWindow is the most of the sorted times that fall in one window of
// length w.
func maxInWindow(at []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// sharedPair makes two RDAP sources on one server at rate 4 a second, on a
// fake clock that their waits advance, with the time of each query they
// make recorded; shared gives each its state (the same one, or not).
func sharedPair(t *testing.T, srv *rdaptest.Server, shared func() RDAPShared) (a, b *RDAP, c *clock, queries func() []time.Time) {
	c = &clock{t: t0}
	var mu sync.Mutex
	var at []time.Time
	rec := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		at = append(at, c.Now())
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(req)
	})
	mk := func() *RDAP {
		return newRDAP(t, srv, c, func(o *RDAPOptions) {
			o.Rate, o.Shared, o.HTTP = 4, shared(), &http.Client{Transport: rec}
			o.Sleep = func(ctx context.Context, d time.Duration) error { c.Add(d); return nil }
		})
	}
	return mk(), mk(), c, func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(at)
		slices.SortFunc(out, func(x, y time.Time) int { return x.Compare(y) })
		return out
	}
}

// TestRDAPSharedRate: two sources sharing their state ask at the
// configured rate together (at most Rate+1 queries in any second), where
// two that do not share ask at twice the rate.
func TestRDAPSharedRate(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	run := func(a, b *RDAP) {
		for i, who := range "aabbbabaababbbaaabab" {
			r := a
			if who == 'b' {
				r = b
			}
			if _, err := r.Fetch(ctx, ip("192.0.2.1")); err != nil {
				t.Fatalf("query %d (%c): %v", i, who, err)
			}
		}
	}
	one := NewMemoryRDAPShared()
	a, b, _, queries := sharedPair(t, srv, func() RDAPShared { return one })
	run(a, b)
	if n := maxInWindow(queries(), time.Second); n > 5 {
		t.Errorf("sharing one state, the two sources made %d queries in one second, want at most 5 (rate 4)", n)
	}
	// The check above can fail: sources that keep their own state do
	// exceed the rate together.
	a, b, _, queries = sharedPair(t, srv, NewMemoryRDAPShared)
	run(a, b)
	if n := maxInWindow(queries(), time.Second); n <= 5 {
		t.Errorf("two sources with their own state made only %d queries in one second; the test cannot tell sharing from not", n)
	}
}

// TestRDAPSharedPause: a 429 seen by one source stops the other for as
// long as its Retry-After says, without a query.
func TestRDAPSharedPause(t *testing.T) {
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Status: 429, RetryAfter: "600", Body: []byte(`{"errorCode":429}`)})
	srv.Set("198.51.100.0/24", rdaptest.Answer{Body: rdaptest.Fixture("arin-ip.json")})
	one := NewMemoryRDAPShared()
	a, b, c, _ := sharedPair(t, srv, func() RDAPShared { return one })
	if _, err := a.Fetch(ctx, ip("192.0.2.1")); err == nil {
		t.Fatal("a 429 was taken as an answer")
	}
	_, err := b.Fetch(ctx, ip("198.51.100.1"))
	if !errors.Is(err, ErrCircuitOpen) || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("the other source, after a 429 seen by the first: %v", err)
	}
	if srv.Hits(netip.Addr{}) != 1 {
		t.Errorf("%d queries, want 1: the other source asked a server that said 429", srv.Hits(netip.Addr{}))
	}
	if open, until, _ := b.Open(); !open || !until.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("the other source: open=%v until %v, want until %v", open, until, t0.Add(10*time.Minute))
	}
	c.Add(10 * time.Minute)
	if _, err := b.Fetch(ctx, ip("198.51.100.1")); err != nil {
		t.Fatalf("after the Retry-After: %v", err)
	}
}

// BenchmarkRDAPWait is the rate limit's cost per query: taking a reserved
// slot, and once per reservation (a second's worth of slots) asking the
// shared state for more.
func BenchmarkRDAPWait(b *testing.B) {
	c := &clock{t: t0}
	r, err := NewRDAP(RDAPOptions{Server: "https://rdap.example", Rate: 100, Now: c.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { c.Add(d); return nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
