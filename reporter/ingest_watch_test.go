package reporter_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed/csvfeed"
)

type fakeGeo struct{}

func (fakeGeo) Lookup(netip.Addr) (geo.Info, error) { return geo.Info{ASN: 64500, Country: "FI"}, nil }

type inside struct{}

func (inside) Contains(a netip.Addr) bool { return netip.MustParsePrefix("192.0.2.0/24").Contains(a) }

type memStore struct {
	events []reporter.Event
	lists  map[string]reporter.Watchlist
}

func (m *memStore) InsertEvents(_ context.Context, ev []reporter.Event) (int, error) {
	m.events = append(m.events, ev...)
	return len(ev), nil
}
func (m *memStore) AddRejects(context.Context, []reporter.Reject) error { return nil }
func (m *memStore) ReplaceWatchlist(_ context.Context, w reporter.Watchlist) error {
	m.lists[w.Feed] = w
	return nil
}

// A watched feed's every row goes into its watchlist, abroad or not,
// while only the constituency's rows become events; ThreatFox's ip:port
// keeps its port, Feodo's port is left out; a file that lists nothing
// leaves the list as it was.
func TestIngestWatchedFeed(t *testing.T) {
	st := &memStore{lists: map[string]reporter.Watchlist{}}
	in := &reporter.Ingester{Geo: fakeGeo{}, Constituency: inside{}, Store: st, Log: slog.New(slog.DiscardHandler),
		Now:   func() time.Time { return time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC) },
		Watch: &reporter.IngestWatch{Store: st, Feeds: map[string]bool{"feodo": false, "threatfox": true}}}
	feodo, _ := csvfeed.Preset("feodo")
	stats, err := in.Ingest(context.Background(), "feodo", feodo, strings.NewReader(`# Feodo Tracker
"2026-11-20 10:00:00","100.64.0.5","443","online","2026-11-23","QakBot"
"2026-11-20 10:00:00","100.64.0.5","8080","online","2026-11-23","QakBot"
"2026-11-20 10:00:00","192.0.2.9","447","online","2026-11-23","Emotet"
`), "ipblocklist.csv")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Kept != 1 || stats.Outside != 2 || len(st.events) != 1 || st.events[0].IP.String() != "192.0.2.9" {
		t.Errorf("stats %+v, events %+v", stats, st.events)
	}
	l := st.lists["feodo"]
	want := []reporter.WatchEntry{
		{Net: netip.MustParsePrefix("100.64.0.5/32"), Identifier: "qakbot"},
		{Net: netip.MustParsePrefix("192.0.2.9/32"), Identifier: "emotet"},
	}
	if len(l.Entries) != len(want) || l.Entries[0] != want[0] || l.Entries[1] != want[1] || l.Updated.IsZero() {
		t.Errorf("feodo's list: %+v", l)
	}

	tf, _ := csvfeed.Preset("threatfox")
	if _, err := in.Ingest(context.Background(), "threatfox", tf, strings.NewReader(`# ThreatFox
"2026-11-20 10:00:00", "1", "100.65.0.9:8443", "ip:port", "botnet_cc", "win.cobalt_strike", "", "Cobalt Strike", "", "100", "", "", "0", "x"
"2026-11-20 10:00:00", "2", "evil.example", "domain", "botnet_cc", "win.x", "", "X", "", "100", "", "", "0", "x"
`), "full.csv"); err != nil {
		t.Fatal(err)
	}
	if l := st.lists["threatfox"]; len(l.Entries) != 1 || l.Entries[0].Port != 8443 || l.Entries[0].Net.String() != "100.65.0.9/32" {
		t.Errorf("threatfox's list: %+v", l)
	}

	if _, err := in.Ingest(context.Background(), "feodo", feodo, strings.NewReader("# nothing today\n"), "empty.csv"); err != nil {
		t.Fatal(err)
	}
	if len(st.lists["feodo"].Entries) != 2 {
		t.Errorf("an empty file replaced the list: %+v", st.lists["feodo"])
	}
}
