package abuse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openrdap/rdap"
	"go4.org/netipx"
)

// RDAPEntry is one cached RDAP answer: a network the server named and its
// abuse contact.
type RDAPEntry struct {
	First, Last netip.Addr
	Handle      string   // the network's handle ("NET-192-0-2-0-1")
	Entity      string   // the abuse entity's handle
	To          []string // empty: the server names no abuse contact here
	Server      string
	Fetched     time.Time
	Expires     time.Time
}

// Range is the entry's network.
func (e RDAPEntry) Range() netipx.IPRange { return netipx.IPRangeFrom(e.First, e.Last) }

// ErrCircuitOpen is returned by Fetch while the server is left alone after
// failures or a 429.
var ErrCircuitOpen = errors.New("rdap: circuit open")

// ErrNoTime is returned by Fetch when the caller's deadline comes before
// the rate limit allows another query; the server was not asked.
var ErrNoTime = errors.New("rdap: no time left for another query under the rate limit")

// RDAPOptions configure the RDAP source.
type RDAPOptions struct {
	Server      string        // base URL: "https://rdap.db.ripe.net" or a redirector such as "https://rdap.org"
	TTL         time.Duration // how long an answer is used (default 7 days)
	NegativeTTL time.Duration // how long "no abuse contact" is believed (default 1 day)
	Rate        float64       // queries per second (default 1)
	Timeout     time.Duration // per query (default 10 s)
	Failures    int           // consecutive failures that open the circuit (default 3)
	Cooldown    time.Duration // first open period; doubles per reopening up to MaxCooldown (default 1 min)
	MaxCooldown time.Duration // default 1 h
	MaxBody     int64         // largest answer read (default 1 MiB)
	Language    string
	UserAgent   string
	HTTP        *http.Client
	Now         func() time.Time
	// Shared is the rate limit and pause shared with the other instances
	// asking the same server (the store); nil keeps them in this source.
	Shared RDAPShared
	// Sleep waits for a query slot; nil waits on a timer. Tests record.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *RDAPOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.TTL, 7*24*time.Hour)
	def(&o.NegativeTTL, 24*time.Hour)
	def(&o.Timeout, 10*time.Second)
	def(&o.Cooldown, time.Minute)
	def(&o.MaxCooldown, time.Hour)
	if o.Rate <= 0 {
		o.Rate = 1
	}
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.UserAgent == "" {
		o.UserAgent = "autoreporter"
	}
	if o.Shared == nil {
		o.Shared = NewMemoryRDAPShared()
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RDAP is the third contact source. Lookup answers from the cache only,
// so that ingest never waits on the network: an address the cache does not
// cover is answered Pending, and Fetch, called between ingest passes with a
// rate limit and a circuit breaker, fills the cache.
type RDAP struct {
	opt    RDAPOptions
	server *url.URL
	client *rdap.Client
	// The rate limit: query slots interval apart, reserved from the
	// shared state perReserve at a time (a second's worth), so that the
	// store is asked once a second, not once a query. Slots [used, n) of
	// the reservation that starts at first are still this source's.
	interval   time.Duration
	perReserve int
	smu        sync.Mutex
	first      time.Time
	n, used    int

	mu       sync.RWMutex
	entries  []RDAPEntry
	answers  []Contact      // each entry's answer, made once: Lookup runs per event
	byPrefix prefixMap[int] // each entry's range as prefixes -> index
	byRange  map[netipx.IPRange]int

	bmu       sync.Mutex
	failures  int
	opened    int // how many times in a row the circuit opened
	openUntil time.Time
	lastErr   error
}

// NewRDAP builds the source. It makes no query.
func NewRDAP(opt RDAPOptions) (*RDAP, error) {
	opt.defaults()
	u, err := url.Parse(opt.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("rdap server %q is not an http(s) URL", opt.Server)
	}
	hc := *opt.HTTP
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = capTransport{base: base, max: opt.MaxBody}
	r := &RDAP{
		opt:        opt,
		server:     u,
		client:     &rdap.Client{HTTP: &hc, UserAgent: opt.UserAgent},
		interval:   time.Duration(float64(time.Second) / opt.Rate),
		perReserve: max(1, int(opt.Rate)),
		byRange:    map[netipx.IPRange]int{},
	}
	return r, nil
}

// Load replaces the cache with entries (read back from the store).
func (r *RDAP) Load(entries []RDAPEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries, r.answers = nil, nil
	r.byPrefix = prefixMap[int]{}
	r.byRange = map[netipx.IPRange]int{}
	for _, e := range entries {
		r.addLocked(e)
	}
}

// Add puts one answer in the cache.
func (r *RDAP) Add(e RDAPEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(e)
}

func (r *RDAP) addLocked(e RDAPEntry) {
	rg := e.Range()
	if !rg.IsValid() {
		return
	}
	if i, ok := r.byRange[rg]; ok {
		// A fresh answer for a network already cached: same prefixes.
		r.entries[i], r.answers[i] = e, r.contact(e, "")
		return
	}
	idx := len(r.entries)
	r.entries = append(r.entries, e)
	r.answers = append(r.answers, r.contact(e, ""))
	r.byRange[rg] = idx
	for _, p := range rg.Prefixes() {
		// Of two answers with the same prefix, the narrower network is the
		// more specific one.
		if old, ok := r.byPrefix.get(p); ok {
			if ro := r.entries[old].Range(); narrower(ro, rg) {
				continue
			}
		}
		r.byPrefix.set(p, idx)
	}
}

// narrower reports whether a is strictly narrower than b.
func narrower(a, b netipx.IPRange) bool {
	return b.From().Compare(a.From()) <= 0 && a.To().Compare(b.To()) <= 0 && a != b
}

// Cached returns the most specific cached answer covering ip, expired or
// not.
func (r *RDAP) Cached(ip netip.Addr) (RDAPEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if i := r.find(ip); i >= 0 {
		return r.entries[i], true
	}
	return RDAPEntry{}, false
}

// find returns the index of the most specific entry covering ip, or -1.
// The caller holds mu.
func (r *RDAP) find(ip netip.Addr) int {
	found := -1
	r.byPrefix.each(ip, func(i int) bool { found = i; return true })
	return found
}

// Len is how many answers are cached.
func (r *RDAP) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}

// Lookup implements Source. A fresh cached answer with addresses is a hit;
// a fresh "no abuse contact" passes to the next step; anything else is
// Pending until Fetch has asked.
func (r *RDAP) Lookup(ip netip.Addr, asn uint32) (Contact, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := r.find(ip)
	if i < 0 || !r.opt.Now().Before(r.entries[i].Expires) {
		return Contact{Pending: true, Source: "rdap pending"}, true
	}
	if len(r.entries[i].To) == 0 {
		return Contact{}, false
	}
	return r.answers[i], true
}

// StaleContact answers from an expired entry, for when the server cannot be
// asked again: an old answer beats waiting forever.
func (r *RDAP) StaleContact(ip netip.Addr) (Contact, bool) {
	e, ok := r.Cached(ip)
	if !ok || len(e.To) == 0 {
		return Contact{}, false
	}
	return r.contact(e, ", stale since "+e.Expires.UTC().Format(time.DateOnly)), true
}

func (r *RDAP) contact(e RDAPEntry, note string) Contact {
	return Contact{To: e.To, Language: r.opt.Language, Rule: "rdap " + e.Range().String(),
		Source: fmt.Sprintf("rdap %s %s (abuse %s, fetched %s%s)", e.Handle, e.Range(), e.Entity, e.Fetched.UTC().Format(time.DateOnly), note)}
}

// Open reports whether the circuit is open, until when, and why.
func (r *RDAP) Open() (bool, time.Time, error) {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	return r.opt.Now().Before(r.openUntil), r.openUntil, r.lastErr
}

// RDAPError is a failed query.
type RDAPError struct {
	IP         netip.Addr
	Status     int           // HTTP status, 0 when there was no answer
	RetryAfter time.Duration // from a 429
	Msg        string
}

func (e *RDAPError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("rdap %s: HTTP %d: %s", e.IP, e.Status, e.Msg)
	}
	return fmt.Sprintf("rdap %s: %s", e.IP, e.Msg)
}

// Fetch asks the server about ip and caches the answer, which it also
// returns so that the caller can store it. It waits for a query slot under
// the rate limit (or ctx) and fails at once with ErrCircuitOpen while the
// circuit is open, here or, through the shared state, in another instance.
func (r *RDAP) Fetch(ctx context.Context, ip netip.Addr) (RDAPEntry, error) {
	ip = ip.Unmap()
	if open, until, cause := r.Open(); open {
		return RDAPEntry{}, fmt.Errorf("%w until %s after: %v", ErrCircuitOpen, until.UTC().Format(time.RFC3339), cause)
	}
	if err := r.wait(ctx); err != nil {
		return RDAPEntry{}, err
	}
	qctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
	defer cancel()
	e, err := r.query(qctx, ip)
	if err != nil {
		if ctx.Err() != nil {
			return RDAPEntry{}, ctx.Err() // we were stopped; not the server's fault
		}
		if until, opened := r.fail(err); opened {
			// Every instance stops, not only this one, and a restart
			// does not forget it.
			if perr := r.opt.Shared.PauseRDAP(ctx, r.server.String(), until, err.Error()); perr != nil {
				return RDAPEntry{}, errors.Join(err, fmt.Errorf("rdap: share the pause: %w", perr))
			}
		}
		return RDAPEntry{}, err
	}
	r.succeed()
	r.Add(e)
	return e, nil
}

// wait waits for this source's next query slot, reserving slots from the
// shared state when its own are spent or past. A slot is usable until the
// next one begins, so a source never queries in another's slot: in any
// second the instances together ask at most Rate+1 times. A pause found
// in the shared state opens the circuit here too.
func (r *RDAP) wait(ctx context.Context) error {
	now := r.opt.Now()
	at, ok := r.takeSlot(now)
	if !ok {
		res, err := r.opt.Shared.ReserveRDAP(ctx, r.server.String(), now, r.perReserve, r.interval)
		if err != nil {
			if ctx.Err() == context.Canceled {
				return ctx.Err()
			}
			return fmt.Errorf("rdap: reserve a query slot: %w", err)
		}
		if res.Paused(now) {
			cause := r.pausedBy(res)
			return fmt.Errorf("%w until %s after: %v", ErrCircuitOpen, res.PausedUntil.UTC().Format(time.RFC3339), cause)
		}
		r.smu.Lock()
		r.first, r.n, r.used = res.First, r.perReserve, 1
		r.smu.Unlock()
		at = res.First
	}
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("%w (the next slot is in %s)", ErrNoTime, d.Round(time.Millisecond))
	}
	if err := r.opt.Sleep(ctx, d); err != nil {
		if ctx.Err() == context.Canceled {
			return ctx.Err()
		}
		return fmt.Errorf("%w (%v)", ErrNoTime, err)
	}
	return nil
}

// takeSlot takes the next of this source's reserved slots that has not
// passed at now.
func (r *RDAP) takeSlot(now time.Time) (time.Time, bool) {
	r.smu.Lock()
	defer r.smu.Unlock()
	for r.used < r.n && !r.first.Add(time.Duration(r.used+1)*r.interval).After(now) {
		r.used++ // passed unused: it is gone
	}
	if r.used >= r.n {
		return time.Time{}, false
	}
	at := r.first.Add(time.Duration(r.used) * r.interval)
	r.used++
	return at, true
}

// pausedBy opens the circuit here for a pause another instance (or this
// one before a restart) put in the shared state, and returns its cause.
func (r *RDAP) pausedBy(res RDAPSlots) error {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	if res.PausedUntil.After(r.openUntil) {
		r.openUntil = res.PausedUntil
		r.lastErr = errors.New(res.Cause)
	}
	if r.lastErr == nil {
		r.lastErr = errors.New(res.Cause)
	}
	return r.lastErr
}

// Refresh reads the shared pause, so that Open answers for every
// instance (for a status line); it takes no query slot.
func (r *RDAP) Refresh(ctx context.Context) error {
	now := r.opt.Now()
	res, err := r.opt.Shared.ReserveRDAP(ctx, r.server.String(), now, 0, r.interval)
	if err != nil {
		return fmt.Errorf("rdap: read the shared state: %w", err)
	}
	if res.Paused(now) {
		r.pausedBy(res)
	}
	return nil
}

// fail counts a failed query and opens the circuit after too many in a
// row, or at once on a 429; it returns until when when it opened it.
func (r *RDAP) fail(err error) (time.Time, bool) {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	r.lastErr = err
	r.failures++
	var re *RDAPError
	rateLimited := errors.As(err, &re) && re.Status == http.StatusTooManyRequests
	if !rateLimited && r.failures < r.opt.Failures {
		return time.Time{}, false
	}
	d := r.opt.Cooldown << min(r.opened, 16)
	d = min(d, r.opt.MaxCooldown)
	if rateLimited && re.RetryAfter > d {
		d = min(re.RetryAfter, 24*time.Hour)
	}
	r.opened++
	r.failures = 0
	r.openUntil = r.opt.Now().Add(d)
	return r.openUntil, true
}

func (r *RDAP) succeed() {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	r.failures, r.opened, r.lastErr = 0, 0, nil
	r.openUntil = time.Time{}
}

func (r *RDAP) query(ctx context.Context, ip netip.Addr) (e RDAPEntry, err error) {
	defer func() {
		// The answer is the server's data, decoded by a library; a panic
		// on a hostile answer must be one failed query, not a dead daemon.
		if p := recover(); p != nil {
			err = &RDAPError{IP: ip, Msg: fmt.Sprintf("unreadable answer (%v)", p)}
		}
	}()
	req := (&rdap.Request{Type: rdap.IPRequest, Query: ip.String(), Server: r.server}).WithContext(ctx)
	resp, err := r.client.Do(req)
	now := r.opt.Now().UTC()
	if err != nil {
		var ce *rdap.ClientError
		if errors.As(err, &ce) && ce.Type == rdap.ObjectDoesNotExist {
			// The server knows no network here: nothing to cache beyond
			// the one address.
			return r.negative(ip, netipx.IPRangeFrom(ip, ip), "", now), nil
		}
		return RDAPEntry{}, httpError(ip, resp, err, ctx)
	}
	return r.entryFrom(resp.Object, ip, now)
}

// entryFrom reads a decoded answer about ip.
func (r *RDAP) entryFrom(obj any, ip netip.Addr, now time.Time) (RDAPEntry, error) {
	nw, ok := obj.(*rdap.IPNetwork)
	if !ok {
		return RDAPEntry{}, &RDAPError{IP: ip, Msg: fmt.Sprintf("answer is a %T, not an IP network", obj)}
	}
	rg := networkRange(nw, ip)
	ent, to := abuseEntity(nw.Entities, 0)
	if len(to) == 0 {
		return r.negative(ip, rg, nw.Handle, now), nil
	}
	return RDAPEntry{First: rg.From(), Last: rg.To(), Handle: clean(nw.Handle), Entity: clean(ent), To: to,
		Server: r.server.String(), Fetched: now, Expires: now.Add(r.opt.TTL)}, nil
}

// negative caches "no abuse contact" for the queried address's /24 (/48)
// at most: a registry's answer for space it does not hold can be a block as
// wide as the whole Internet, and that must not silence other networks.
func (r *RDAP) negative(ip netip.Addr, rg netipx.IPRange, handle string, now time.Time) RDAPEntry {
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	if pr := netipx.RangeOfPrefix(p); narrower(pr, rg) {
		rg = pr
	}
	return RDAPEntry{First: rg.From(), Last: rg.To(), Handle: clean(handle), Server: r.server.String(),
		Fetched: now, Expires: now.Add(r.opt.NegativeTTL)}
}

// networkRange is the network's range when it is readable and holds ip,
// else ip alone.
func networkRange(nw *rdap.IPNetwork, ip netip.Addr) netipx.IPRange {
	a, err1 := netip.ParseAddr(strings.TrimSpace(nw.StartAddress))
	b, err2 := netip.ParseAddr(strings.TrimSpace(nw.EndAddress))
	if err1 == nil && err2 == nil {
		if rg := netipx.IPRangeFrom(a.Unmap(), b.Unmap()); rg.IsValid() && rg.Contains(ip) {
			return rg
		}
	}
	return netipx.IPRangeFrom(ip, ip)
}

// abuseEntity finds the entity with role abuse, the shallowest first
// (registries put it at the top, as RIPE does, or under the organisation,
// as ARIN does), and the addresses of its vCard.
func abuseEntity(ents []rdap.Entity, depth int) (string, []string) {
	if depth > 6 {
		return "", nil
	}
	for _, e := range ents {
		if hasRole(e.Roles, "abuse") {
			if to := vcardEmails(e.VCard); len(to) > 0 {
				return e.Handle, to
			}
		}
	}
	for _, e := range ents {
		if h, to := abuseEntity(e.Entities, depth+1); len(to) > 0 {
			return h, to
		}
	}
	return "", nil
}

func hasRole(roles []string, want string) bool {
	for _, r := range roles {
		if strings.EqualFold(strings.TrimSpace(r), want) {
			return true
		}
	}
	return false
}

func vcardEmails(v *rdap.VCard) []string {
	if v == nil {
		return nil
	}
	var out []string
	for _, p := range v.Get("email") {
		for _, s := range p.Values() {
			// One bad value must not cost the good ones.
			if to, err := NormalizeAddresses([]string{s}); err == nil {
				out = append(out, to...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// clean keeps a handle printable and short: it is shown to staff.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

func httpError(ip netip.Addr, resp *rdap.Response, err error, ctx context.Context) error {
	if ctx.Err() != nil {
		return &RDAPError{IP: ip, Msg: "no answer in time"}
	}
	if resp != nil && len(resp.HTTP) > 0 {
		h := resp.HTTP[len(resp.HTTP)-1]
		if h.Response != nil {
			re := &RDAPError{IP: ip, Status: h.Response.StatusCode}
			switch {
			case h.Response.StatusCode == http.StatusTooManyRequests:
				re.Msg = "rate limited"
				re.RetryAfter = retryAfter(h.Response.Header.Get("Retry-After"), time.Now())
			case h.Error != nil:
				re.Msg = "unreadable answer: " + h.Error.Error()
			case h.Response.StatusCode >= 200 && h.Response.StatusCode < 300:
				re.Msg = "empty answer"
			default:
				re.Msg = http.StatusText(h.Response.StatusCode)
			}
			return re
		}
		if h.Error != nil {
			return &RDAPError{IP: ip, Msg: h.Error.Error()}
		}
	}
	return &RDAPError{IP: ip, Msg: err.Error()}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// capTransport cuts answers at a size, so that a hostile or broken server
// cannot fill memory (the RDAP client reads whole bodies).
type capTransport struct {
	base http.RoundTripper
	max  int64
}

func (t capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &capBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type capBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("answer larger than the limit")
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("answer larger than the limit")
	}
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }
