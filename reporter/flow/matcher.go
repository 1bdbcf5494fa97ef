package flow

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// Membership is the constituency test (geo.Live answers it).
type Membership interface {
	Contains(ip netip.Addr) bool
}

// Aggregate is what one local address exchanged with one watched
// indicator in one window.
type Aggregate struct {
	Local      netip.Addr `json:"local"`
	Indicator  string     `json:"indicator"`
	Window     time.Time  `json:"window"` // the window's start
	Feed       string     `json:"feed"`   // the watched feed that lists the indicator
	Identifier string     `json:"identifier,omitempty"`
	// The first flow's remote side, ports and protocol.
	Remote     netip.Addr `json:"remote"`
	RemotePort uint16     `json:"remote_port,omitempty"`
	LocalPort  uint16     `json:"local_port,omitempty"`
	Proto      uint8      `json:"proto,omitempty"`
	Exporter   netip.Addr `json:"exporter"`
	Flows      uint64     `json:"flows"`
	Packets    uint64     `json:"packets"`
	Bytes      uint64     `json:"bytes"`
	First      time.Time  `json:"first"`
	Last       time.Time  `json:"last"`
}

type aggKey struct {
	local     netip.Addr
	indicator string
	window    int64
}

func (a *Aggregate) key() aggKey {
	return aggKey{a.Local, a.Indicator, a.Window.UnixNano()}
}

// WindowOf is the start of the window a flow received at t falls in:
// windows are aligned (an hour's start on the hour, UTC), so that an
// aggregate's window is the same after a restart.
func WindowOf(t time.Time, window time.Duration) time.Time {
	return t.UTC().Truncate(window)
}

// Closed reports whether the window that starts at start is over at now.
func Closed(start time.Time, window time.Duration, now time.Time) bool {
	return !now.Before(start.Add(window))
}

// Event is the aggregate as one event of the flow feed: the local host is
// the infected system, the malware family is the watched indicator's, the
// remote side and the counts are extra columns. Port is 0: the local
// port of a client is ephemeral, and one infection must keep one dedup key
// from window to window so that the repeat window holds.
func (a *Aggregate) Event(feed string) reporter.Event {
	ident := a.Identifier
	if ident == "" {
		ident = "unknown"
	}
	t := a.First
	if t.IsZero() {
		t = a.Window
	}
	extra := []reporter.Field{
		{Key: "dst_ip", Value: a.Remote.String()},
		{Key: "dst_port", Value: strconv.Itoa(int(a.RemotePort))},
		{Key: "src_port", Value: strconv.Itoa(int(a.LocalPort))},
		{Key: "indicator", Value: a.Indicator},
		{Key: "watchlist", Value: a.Feed},
		{Key: "flows", Value: strconv.FormatUint(a.Flows, 10)},
		{Key: "packets", Value: strconv.FormatUint(a.Packets, 10)},
		{Key: "bytes", Value: strconv.FormatUint(a.Bytes, 10)},
		{Key: "first_seen", Value: a.First.UTC().Format(time.RFC3339)},
		{Key: "last_seen", Value: a.Last.UTC().Format(time.RFC3339)},
	}
	if a.Exporter.IsValid() {
		extra = append(extra, reporter.Field{Key: "exporter", Value: a.Exporter.String()})
	}
	return reporter.Event{
		Time: t, Classification: reporter.InfectedSystem, Identifier: ident,
		IP: a.Local, Protocol: protoName(a.Proto), Extra: extra,
		Source: fmt.Sprintf("flow %s window %s", feed, a.Window.UTC().Format(time.RFC3339)),
	}
}

// Matcher matches flows against the watchlist and the constituency and
// keeps the open aggregates. It is safe for concurrent use: decoders on
// several sockets call Match while the daemon closes windows.
type Matcher struct {
	local  Membership
	window time.Duration
	// maxOpen caps the open aggregates, so that memory stays bounded
	// whatever the traffic; a flow that would open one more is counted
	// in Overflow and dropped.
	maxOpen int
	watch   atomic.Pointer[Table]

	mu   sync.Mutex
	open map[aggKey]*Aggregate

	matched, overflow atomic.Uint64
}

// NewMatcher makes a matcher with an empty watchlist.
func NewMatcher(local Membership, window time.Duration, maxOpen int) *Matcher {
	if maxOpen <= 0 {
		maxOpen = 1_000_000
	}
	m := &Matcher{local: local, window: window, maxOpen: maxOpen, open: map[aggKey]*Aggregate{}}
	m.watch.Store(&Table{})
	return m
}

// SetWatchlist swaps in a new table; flows matched from then on use it.
func (m *Matcher) SetWatchlist(t *Table) { m.watch.Store(t) }

// Watchlist is the table in use.
func (m *Matcher) Watchlist() *Table { return m.watch.Load() }

// Match adds a flow to its aggregate when one side is watched and the
// other is in the constituency, and reports whether it did.
func (m *Matcher) Match(f *Flow) bool {
	w := m.watch.Load()
	// The remote side is looked up first: the watchlist is small and
	// nearly every flow misses it, so the constituency is seldom asked.
	if e, ok := w.Lookup(f.Dst, f.DstPort); ok && m.local.Contains(f.Src) {
		m.add(f, e, f.Src, f.SrcPort, f.Dst, f.DstPort)
		return true
	}
	if e, ok := w.Lookup(f.Src, f.SrcPort); ok && m.local.Contains(f.Dst) {
		m.add(f, e, f.Dst, f.DstPort, f.Src, f.SrcPort)
		return true
	}
	return false
}

func (m *Matcher) add(f *Flow, e *Entry, local netip.Addr, lport uint16, remote netip.Addr, rport uint16) {
	win := WindowOf(f.Received, m.window)
	first, last := f.Start, f.End
	if first.IsZero() {
		first = f.Received
	}
	if last.IsZero() || last.Before(first) {
		last = first
	}
	k := aggKey{local, e.Indicator, win.UnixNano()}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.open[k]
	if a == nil {
		if len(m.open) >= m.maxOpen {
			m.overflow.Add(1)
			return
		}
		a = &Aggregate{Local: local, Indicator: e.Indicator, Window: win, Feed: e.Feed, Identifier: e.Identifier,
			Remote: remote, RemotePort: rport, LocalPort: lport, Proto: f.Proto, Exporter: f.Exporter, First: first, Last: last}
		m.open[k] = a
	}
	m.matched.Add(1)
	a.Flows++
	a.Packets += f.Packets
	a.Bytes += f.Bytes
	if first.Before(a.First) {
		a.First = first
	}
	if last.After(a.Last) {
		a.Last = last
	}
}

// TakeClosed removes and returns the aggregates whose window is over at
// now, oldest window first.
func (m *Matcher) TakeClosed(now time.Time) []Aggregate {
	m.mu.Lock()
	var out []Aggregate
	for k, a := range m.open {
		if Closed(a.Window, m.window, now) {
			out = append(out, *a)
			delete(m.open, k)
		}
	}
	m.mu.Unlock()
	sortAggregates(out)
	return out
}

// NextClose is when the first open window closes; false when none is open.
func (m *Matcher) NextClose() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	for _, a := range m.open {
		if end := a.Window.Add(m.window); next.IsZero() || end.Before(next) {
			next = end
		}
	}
	return next, !next.IsZero()
}

// Open returns a copy of the open aggregates.
func (m *Matcher) Open() []Aggregate {
	m.mu.Lock()
	out := make([]Aggregate, 0, len(m.open))
	for _, a := range m.open {
		out = append(out, *a)
	}
	m.mu.Unlock()
	sortAggregates(out)
	return out
}

// Restore adds saved aggregates to the open ones (at start, before
// flows arrive); one already open for the same key is summed with it.
func (m *Matcher) Restore(aggs []Aggregate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range aggs {
		k := a.key()
		if o := m.open[k]; o != nil {
			o.Flows += a.Flows
			o.Packets += a.Packets
			o.Bytes += a.Bytes
			if a.First.Before(o.First) {
				o.First = a.First
			}
			if a.Last.After(o.Last) {
				o.Last = a.Last
			}
			continue
		}
		a := a
		m.open[k] = &a
	}
}

// Counts are the matcher's running totals.
type Counts struct {
	Matched, Overflow uint64
	Open              int
}

// Counts returns the running totals.
func (m *Matcher) Counts() Counts {
	m.mu.Lock()
	n := len(m.open)
	m.mu.Unlock()
	return Counts{Matched: m.matched.Load(), Overflow: m.overflow.Load(), Open: n}
}

func sortAggregates(a []Aggregate) {
	slices.SortFunc(a, func(x, y Aggregate) int {
		if c := x.Window.Compare(y.Window); c != 0 {
			return c
		}
		if c := x.Local.Compare(y.Local); c != 0 {
			return c
		}
		switch {
		case x.Indicator < y.Indicator:
			return -1
		case x.Indicator > y.Indicator:
			return 1
		}
		return 0
	})
}

// stateVersion marks the encoding of saved state, so that a later layout
// can tell an old one.
const stateVersion = 1

type state struct {
	Version int         `json:"version"`
	Open    []Aggregate `json:"open"`
}

// EncodeState is the open aggregates as the store keeps them.
func EncodeState(open []Aggregate) ([]byte, error) {
	if open == nil {
		open = []Aggregate{}
	}
	return json.Marshal(state{Version: stateVersion, Open: open})
}

// DecodeState reads what EncodeState wrote; empty input is no aggregate.
func DecodeState(b []byte) ([]Aggregate, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("flow state: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("flow state: version %d, this build reads %d", s.Version, stateVersion)
	}
	return s.Open, nil
}
