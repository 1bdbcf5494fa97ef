package flow

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
	"github.com/netsampler/goflow2/v2/utils"
)

// benchWorld is a constituency of 192.0.2.0/24-like space (the 10/8 here)
// and a watchlist of 2,000 C2 addresses; one flow in a hundred goes to one.
type benchWorld struct{}

func (benchWorld) Contains(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 10 }

func benchList() []reporter.Watchlist {
	r := rand.New(rand.NewPCG(1, 2))
	var l reporter.Watchlist
	l.Feed = "feodo"
	for i := 0; i < 2000; i++ {
		a := netip.AddrFrom4([4]byte{100, byte(64 + r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
		l.Entries = append(l.Entries, reporter.WatchEntry{Net: netip.PrefixFrom(a, 32), Identifier: "QakBot"})
	}
	return []reporter.Watchlist{l}
}

// benchRecs makes n records: half from the constituency, one in a hundred
// to a watched address, the rest between strangers.
func benchRecs(n int) []rec {
	r := rand.New(rand.NewPCG(3, 4))
	watched := benchList()[0].Entries
	out := make([]rec, n)
	for i := range out {
		src := netip.AddrFrom4([4]byte{byte(11 + r.IntN(2)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		if i%2 == 0 {
			src = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		}
		dst := netip.AddrFrom4([4]byte{byte(20 + r.IntN(100)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		if i%100 == 0 {
			dst = watched[r.IntN(len(watched))].Net.Addr()
		}
		out[i] = rec{src, dst, uint16(1024 + r.IntN(60000)), 443, 6, uint32(1 + r.IntN(100)), uint32(100 + r.IntN(100000))}
	}
	return out
}

const perPacket = 30 // records a datagram: v5's usual, and IPFIX's here

// benchPackets: 256 datagrams of 30 records, and any templates first.
func benchPackets(kind string) (setup, data [][]byte) {
	recs := benchRecs(256 * perPacket)
	now := time.Now()
	for i := 0; i < 256; i++ {
		rs := recs[i*perPacket : (i+1)*perPacket]
		switch kind {
		case "netflow-v5":
			data = append(data, netflowV5(now, 0, rs...))
		case "ipfix":
			data = append(data, ipfix(now, uint32(i+2), ipfixData(301, v4Template, rs...)))
		}
	}
	if kind == "ipfix" {
		setup = append(setup, ipfix(now, 1, ipfixTemplates()))
	}
	return setup, data
}

var benchSrc = netip.MustParseAddrPort("10.255.0.1:2055")

// BenchmarkDecode: one datagram of 30 flows per op, on one core (run with
// -cpu 1). goflow2-decode is goflow2's bare decode (its pipe with no
// producer: the datagram parsed, the records built); goflow2-produce adds
// its protobuf producer (what a goflow2 collector does before formatting);
// collector is ours: the allow-list, the same decoders, our records,
// matching against the watchlist and the constituency, aggregation.
// flows/s is the number to compare.
func BenchmarkDecode(b *testing.B) {
	for _, kind := range []string{"netflow-v5", "ipfix"} {
		setup, data := benchPackets(kind)
		for _, withProducer := range []bool{false, true} {
			name := kind + "/goflow2-decode"
			if withProducer {
				name = kind + "/goflow2-produce"
			}
			b.Run(name, func(b *testing.B) {
				cfgp := &utils.PipeConfig{}
				if withProducer {
					cfg, _ := (&protoproducer.ProducerConfig{}).Compile()
					cfgp.Producer, _ = protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
				}
				pipe := utils.NewFlowPipe(cfgp)
				now := time.Now()
				for _, s := range setup {
					if err := pipe.DecodeFlow(&utils.Message{Src: benchSrc, Payload: s, Received: now}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := pipe.DecodeFlow(&utils.Message{Src: benchSrc, Payload: data[i%len(data)], Received: now}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*perPacket)/b.Elapsed().Seconds(), "flows/s")
			})
		}
		b.Run(kind+"/collector", func(b *testing.B) {
			m := NewMatcher(benchWorld{}, time.Hour, 0)
			m.SetWatchlist(Compile(benchList()))
			dec, err := NewDecoder(Exporters{netip.MustParsePrefix("10.255.0.0/16")}, m, nil)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for _, s := range setup {
				dec.Decode(benchSrc, s, now)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dec.Decode(benchSrc, data[i%len(data)], now)
			}
			b.ReportMetric(float64(b.N*perPacket)/b.Elapsed().Seconds(), "flows/s")
			if s := dec.Stats(); s.DecodeErrors != 0 || s.Records != uint64(b.N*perPacket) {
				b.Fatalf("stats %+v after %d datagrams", s, b.N)
			}
			c := m.Counts()
			b.ReportMetric(float64(c.Open), "open-aggregates")
		})
	}
}

// BenchmarkMatch is the matcher alone, per flow.
func BenchmarkMatch(b *testing.B) {
	m := NewMatcher(benchWorld{}, time.Hour, 0)
	m.SetWatchlist(Compile(benchList()))
	recs := benchRecs(1 << 14)
	flows := make([]Flow, len(recs))
	now := time.Now()
	for i, r := range recs {
		flows[i] = Flow{Src: r.src, Dst: r.dst, SrcPort: r.srcPort, DstPort: r.dstPort, Proto: 6, Packets: 1, Bytes: 100, Received: now}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Match(&flows[i&(len(flows)-1)])
	}
}

// Memory stays flat in the number of flows: matching a flow that misses
// the watchlist, or that adds to an open aggregate, allocates nothing;
// only a new aggregate does.
func TestMatchAllocatesNothing(t *testing.T) {
	m := NewMatcher(constituency{}, time.Hour, 0)
	m.SetWatchlist(Compile(lists()))
	now := time.Now()
	miss := Flow{Src: local, Dst: stranger, Received: now}
	hit := Flow{Src: local, Dst: c2, DstPort: 443, Packets: 1, Received: now}
	m.Match(&hit)
	for name, f := range map[string]*Flow{"miss": &miss, "hit": &hit} {
		if n := testing.AllocsPerRun(1000, func() { m.Match(f) }); n != 0 {
			t.Errorf("%s: %v allocations a flow", name, n)
		}
	}
	if c := m.Counts(); c.Open != 1 {
		t.Errorf("open: %d", c.Open)
	}
}

// Decoding many datagrams leaves the heap where it was: goflow2's
// messages go back to its pool, and nothing of ours grows per flow.
func TestDecodeHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 100,000 datagrams")
	}
	m := NewMatcher(benchWorld{}, time.Hour, 0)
	m.SetWatchlist(Compile(benchList()))
	dec, err := NewDecoder(Exporters{netip.MustParsePrefix("10.255.0.0/16")}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, data := benchPackets("netflow-v5")
	now := time.Now()
	heap := func(n int) uint64 {
		for i := 0; i < n; i++ {
			dec.Decode(benchSrc, data[i%len(data)], now)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap(len(data)) // every aggregate the data makes is open now
	after := heap(100_000)
	// 3 million flows later: the same aggregates, the same heap, give or
	// take the runtime's own noise (well under the 3 MB a byte a flow
	// would be).
	if after > before+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over 3,000,000 flows", before, after)
	}
}
