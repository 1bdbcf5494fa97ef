package abuse

import (
	"context"
	"sync"
	"time"
)

// RDAPShared is the state of one RDAP server that every instance asking it
// shares (the store, when several instances run on one database): the
// rate limit as a sequence of query slots, and a pause. Two instances then
// ask at the configured rate together, not each, and a 429's Retry-After
// (or a circuit opened after failures) stops all of them, across restarts
// too.
//
// Times are the callers' clocks: instances are expected to keep them in
// step (NTP), as their rate is a query a second or so, not a millisecond.
type RDAPShared interface {
	// ReserveRDAP takes n query slots on server, interval apart, after the
	// last slot anyone took and not before now, unless the server is
	// paused at now; n = 0 only reads the pause. Slot i is First +
	// i*interval and may be used until the next one begins.
	ReserveRDAP(ctx context.Context, server string, now time.Time, n int, interval time.Duration) (RDAPSlots, error)
	// PauseRDAP stops every instance from asking server before until; a
	// pause that ends later already stays, with its cause.
	PauseRDAP(ctx context.Context, server string, until time.Time, cause string) error
}

// RDAPSlots is the answer to a reservation: the first slot taken, or,
// when the server is paused, until when and why (and no slot taken).
type RDAPSlots struct {
	First       time.Time
	PausedUntil time.Time
	Cause       string
}

// Paused reports whether the server is paused at now.
func (s RDAPSlots) Paused(now time.Time) bool { return now.Before(s.PausedUntil) }

// reserveSlots is the reservation rule every RDAPShared keeps, on the
// state of one server: the first slot is the later of next and now, and
// the next reservation starts n slots on. A paused server (pausedUntil
// after now) takes no slot. It returns the new next slot and the first
// slot taken.
func reserveSlots(next, pausedUntil, now time.Time, n int, interval time.Duration) (newNext, first time.Time, paused bool) {
	if now.Before(pausedUntil) {
		return next, time.Time{}, true
	}
	first = next
	if first.Before(now) {
		first = now
	}
	if n <= 0 {
		return next, first, false
	}
	return first.Add(time.Duration(n) * interval), first, false
}

// memShared is RDAPShared in one process's memory: the state of an RDAP
// source with no store to share it through (tests, lookups without a
// daemon).
type memShared struct {
	mu      sync.Mutex
	servers map[string]*memServer
}

type memServer struct {
	next, pausedUntil time.Time
	cause             string
}

// NewMemoryRDAPShared returns an RDAPShared kept in memory, shared by the
// RDAP sources of one process that are given it.
func NewMemoryRDAPShared() RDAPShared { return &memShared{servers: map[string]*memServer{}} }

func (m *memShared) get(server string) *memServer {
	s := m.servers[server]
	if s == nil {
		s = &memServer{}
		m.servers[server] = s
	}
	return s
}

func (m *memShared) ReserveRDAP(ctx context.Context, server string, now time.Time, n int, interval time.Duration) (RDAPSlots, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.get(server)
	next, first, paused := reserveSlots(s.next, s.pausedUntil, now, n, interval)
	if paused {
		return RDAPSlots{PausedUntil: s.pausedUntil, Cause: s.cause}, nil
	}
	s.next = next
	return RDAPSlots{First: first, PausedUntil: s.pausedUntil, Cause: s.cause}, nil
}

func (m *memShared) PauseRDAP(ctx context.Context, server string, until time.Time, cause string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.get(server)
	if until.After(s.pausedUntil) {
		s.pausedUntil, s.cause = until, cause
	}
	return nil
}
