package storetest

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// testWatchlists: a watched feed's list is replaced whole, read back as it
// was written, and only the feeds asked about come back; a flow
// collector's state is replaced whole and absent until saved.
func testWatchlists(t *testing.T, s reporter.Store) {
	first := reporter.Watchlist{Feed: "feodo", Updated: t0, Entries: []reporter.WatchEntry{
		{Net: netip.MustParsePrefix("203.0.113.5/32"), Identifier: "QakBot"},
		{Net: netip.MustParsePrefix("2001:db8::/32"), Identifier: "Emotet"},
	}}
	if err := s.ReplaceWatchlist(ctx, first); err != nil {
		t.Fatal(err)
	}
	tf := reporter.Watchlist{Feed: "threatfox", Updated: t0, Entries: []reporter.WatchEntry{
		{Net: netip.MustParsePrefix("198.18.0.9/32"), Port: 8443, Identifier: "Cobalt Strike ☃"},
	}}
	if err := s.ReplaceWatchlist(ctx, tf); err != nil {
		t.Fatal(err)
	}
	second := reporter.Watchlist{Feed: "feodo", Updated: t0.Add(time.Hour), Entries: []reporter.WatchEntry{
		{Net: netip.MustParsePrefix("203.0.113.6/32"), Identifier: "Dridex"},
	}}
	if err := s.ReplaceWatchlist(ctx, second); err != nil {
		t.Fatal(err)
	}
	got, err := s.Watchlists(ctx, []string{"feodo", "never-ingested"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Feed != "feodo" || !got[0].Updated.Equal(second.Updated) || len(got[0].Entries) != 1 || got[0].Entries[0] != second.Entries[0] {
		t.Fatalf("feodo after a second file: %+v, want only %+v", got, second)
	}
	got, err = s.Watchlists(ctx, []string{"threatfox", "feodo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Feed != "threatfox" || len(got[1].Entries) != 1 || got[1].Entries[0] != tf.Entries[0] {
		t.Fatalf("both lists: %+v", got)
	}
	up, err := s.WatchlistsUpdated(ctx, []string{"feodo", "threatfox", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 2 || !up["feodo"].Equal(t0.Add(time.Hour)) || !up["threatfox"].Equal(t0) {
		t.Fatalf("updated: %v", up)
	}
	if got, err := s.Watchlists(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no feeds asked: %v, %v", got, err)
	}

	if st, err := s.FlowState(ctx, "backbone"); err != nil || st != nil {
		t.Fatalf("state never saved: %q, %v; want nil", st, err)
	}
	for _, want := range [][]byte{[]byte(`{"open":[1,2]}`), {0, 1, 2, 0xff}, {}} {
		if err := s.SaveFlowState(ctx, "backbone", want); err != nil {
			t.Fatal(err)
		}
		st, err := s.FlowState(ctx, "backbone")
		if err != nil {
			t.Fatal(err)
		}
		if st == nil || !bytes.Equal(st, want) {
			t.Fatalf("state: %q, want %q", st, want)
		}
	}
	if st, err := s.FlowState(ctx, "other"); err != nil || st != nil {
		t.Fatalf("another flow's state: %q, %v", st, err)
	}
}
