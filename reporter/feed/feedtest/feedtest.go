// Package feedtest is a reporter.Sink that records what a parser emits, for
// the parsers' tests, fuzz targets and benchmarks.
package feedtest

import (
	"net/netip"

	"github.com/autoreporter/autoreporter/reporter"
)

// Reject is a recorded rejected row.
type Reject struct {
	Line   int
	Reason string
}

// Sink records everything. With Keep set, only addresses it accepts become
// events; without, all do.
type Sink struct {
	KeepFunc func(netip.Addr) bool
	Events   []reporter.Event
	Rejects  []Reject
	Outside  int
	NoAddr   int
	// Discard drops events after counting them, for benchmarks.
	Discard bool
	Count   int
}

func (s *Sink) Keep(ip netip.Addr) bool {
	if s.KeepFunc != nil && !s.KeepFunc(ip) {
		s.Outside++
		return false
	}
	return true
}

func (s *Sink) Event(e *reporter.Event) error {
	s.Count++
	if !s.Discard {
		s.Events = append(s.Events, *e)
	}
	return nil
}

func (s *Sink) Reject(line int, reason, raw string) {
	s.Rejects = append(s.Rejects, Reject{line, reason})
}

func (s *Sink) NoAddress(line int) { s.NoAddr++ }
