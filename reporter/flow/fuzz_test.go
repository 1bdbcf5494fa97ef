package flow

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"
)

// FuzzDecode feeds any datagram to the decoder, after templates of every
// kind it knows, and any bytes to the goflow2 stream reader: neither may
// panic (a panic inside goflow2's decoders is caught and counted, and
// that is checked too: it would be a bug to report), and no flow read
// may match without a watched side and a constituency side.
func FuzzDecode(f *testing.F) {
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	tmpl := v9Templates()
	sampling := ipfixSampling(4)
	seeds := [][]byte{
		netflowV5(now, 10, rec{local, c2, 1, 443, 6, 1, 100}),
		netflowV9(now, 1, tmpl[0], tmpl[1], v9Sampling(100)),
		netflowV9(now, 2, v9Data(rec{local, c2, 5, 443, 6, 3, 300})),
		ipfix(now, 1, ipfixTemplates(), sampling[0], sampling[1]),
		ipfix(now, 2, ipfixData(300, v6Template, rec{local6, c2v6, 40000, 443, 6, 2, 200})),
		sflowV5(netip.MustParseAddr("192.0.2.254"), 512, 1000, rec{local, c2, 50000, 443, 6, 0, 0}),
		goflow2Stream(f, netflowV5(now, 0, rec{local, c2, 5, 443, 6, 2, 100})),
		{}, {0, 5}, {0, 9, 0, 1}, {0, 10, 0, 16},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	src := netip.MustParseAddrPort("127.0.0.1:2055")
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMatcher(constituency{}, time.Hour, 0)
		m.SetWatchlist(Compile(lists()))
		dec, err := NewDecoder(Exporters{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		dec.Decode(src, seeds[1], now)
		dec.Decode(src, seeds[3], now)
		before := dec.Stats().DecodeErrors
		dec.Decode(src, b, now)
		_ = dec.ReadStream(context.Background(), bytes.NewReader(b))
		if got := dec.Stats().DecodeErrors; got > before+1 {
			t.Fatalf("one datagram, %d decode errors", got-before)
		}
		if dec.panics.Load() > 0 {
			t.Fatalf("a goflow2 decoder panicked on %x", b)
		}
		for _, a := range m.Open() {
			if !(constituency{}).Contains(a.Local) {
				t.Fatalf("aggregate for a local address outside the constituency: %+v", a)
			}
			if _, ok := m.Watchlist().Lookup(a.Remote, a.RemotePort); !ok {
				t.Fatalf("aggregate for a remote side nobody watches: %+v", a)
			}
		}
	})
}
