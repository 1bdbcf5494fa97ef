package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// WatchEntry is one entry of a watched feed: an address, a network, or an
// address and port, whose traffic with the constituency the flow collectors
// (reporter/flow) report as an infected system.
type WatchEntry struct {
	Net  netip.Prefix `json:"n"`           // one address is a /32 or a /128
	Port int          `json:"p,omitempty"` // 0: any port
	// Identifier is the malware family the feed names ("QakBot").
	Identifier string `json:"i,omitempty"`
}

// EncodeWatchEntries is how the stores keep a list: one value, written
// and read whole, as the list is replaced whole.
func EncodeWatchEntries(entries []WatchEntry) ([]byte, error) {
	if entries == nil {
		entries = []WatchEntry{}
	}
	return json.Marshal(entries)
}

// DecodeWatchEntries reads what EncodeWatchEntries wrote.
func DecodeWatchEntries(b []byte) ([]WatchEntry, error) {
	var out []WatchEntry
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("watchlist entries: %w", err)
	}
	return out, nil
}

// Watchlist is what a watched feed lists: every entry of the last file it
// ingested, inside the constituency or not. A C2 server is almost always
// abroad, so the events the feed stores (the constituency's share) cannot
// serve as the list.
type Watchlist struct {
	Feed    string
	Updated time.Time // when its file was ingested
	Entries []WatchEntry
}

// WatchStore keeps the watched feeds' lists and the flow collectors' open
// aggregates, so that both survive a restart and instances sharing a
// PostgreSQL database see one another's ingests.
type WatchStore interface {
	// ReplaceWatchlist replaces a feed's entries with those of its latest
	// file: the abuse.ch lists are published whole each time.
	ReplaceWatchlist(ctx context.Context, w Watchlist) error
	// Watchlists returns the lists of the named feeds that have one.
	Watchlists(ctx context.Context, feeds []string) ([]Watchlist, error)
	// WatchlistsUpdated returns when each named feed's list was replaced,
	// a cheap question asked to notice another instance's ingest.
	WatchlistsUpdated(ctx context.Context, feeds []string) (map[string]time.Time, error)
	// SaveFlowState replaces a flow collector's saved state (its open
	// aggregates, encoded by reporter/flow).
	SaveFlowState(ctx context.Context, flow string, state []byte) error
	// FlowState returns it; nil when none was saved.
	FlowState(ctx context.Context, flow string) ([]byte, error)
}

// watchCollector gathers a watched feed's entries during ingest.
type watchCollector struct {
	entries []WatchEntry
	seen    map[WatchEntry]bool
}

func (w *watchCollector) add(e *Event, ports bool) {
	net := netip.PrefixFrom(e.IP, e.IP.BitLen())
	// A blocklist's CIDR entry is one event for the network.
	if n := e.ExtraValue("network"); n != "" {
		if p, err := netip.ParsePrefix(n); err == nil {
			net = p.Masked()
		}
	}
	we := WatchEntry{Net: net, Identifier: e.Identifier}
	if ports {
		we.Port = e.Port
	}
	if w.seen == nil {
		w.seen = map[WatchEntry]bool{}
	}
	if w.seen[we] {
		return
	}
	w.seen[we] = true
	w.entries = append(w.entries, we)
}
