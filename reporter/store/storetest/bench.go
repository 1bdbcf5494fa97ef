package storetest

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// BenchInsertEvents measures InsertEvents the way ingest calls it: batches
// of new events (1,000 is the ingest's default; 10,000 shows what a bigger
// batch buys), and a batch ingested again, all of it already stored. Each
// sub-benchmark gets a fresh store from open and reports events/s.
//
// One million events: -bench 'InsertEvents/new/batch=10000$' -benchtime 100x.
func BenchInsertEvents(b *testing.B, open func(b *testing.B) reporter.Store) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("new/batch=%d", size), func(b *testing.B) {
			s := open(b)
			batch := benchEvents(size)
			b.ReportAllocs()
			b.ResetTimer()
			next := 0
			for b.Loop() {
				for j := range batch {
					batch[j].IP = benchAddr(next)
					next++
				}
				n, err := s.InsertEvents(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				if n != len(batch) {
					b.Fatalf("%d new events, want %d", n, len(batch))
				}
			}
			b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "events/s")
		})
	}
	b.Run("again/batch=1000", func(b *testing.B) {
		s := open(b)
		batch := benchEvents(1000)
		if _, err := s.InsertEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			n, err := s.InsertEvents(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			if n != 0 {
				b.Fatalf("%d new events, want 0", n)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
	})
}

// benchAddr spreads events over 10.0.0.0/8 and 2001:db8::/32, one address
// per event, one in eight IPv6.
func benchAddr(i int) netip.Addr {
	if i%8 == 7 {
		var a [16]byte
		copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8})
		a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// benchEvents makes a batch that looks like a Shadowserver scan report:
// every column filled, six extra columns.
func benchEvents(n int) []reporter.Event {
	at := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	out := make([]reporter.Event, n)
	for i := range out {
		out[i] = reporter.Event{
			Time: at.Add(time.Duration(i) * time.Second), Feed: "shadowserver-scan-rdp", Classification: reporter.VulnerableSystem,
			Identifier: "rdp", IP: benchAddr(i), Port: 3389, Protocol: "tcp", ASN: 64500 + uint32(i%50),
			ASOrg: "Example ISP Oy", Country: "FI", Hostname: "host-" + strconv.Itoa(i) + ".dyn.isp.example",
			Extra: []reporter.Field{
				{Key: "tag", Value: "rdp"}, {Key: "naics", Value: "517311"}, {Key: "sector", Value: "Communications"},
				{Key: "rdp_protocol", Value: "RDP"}, {Key: "cert_length", Value: "2048"},
				{Key: "subject_common_name", Value: "WIN-" + strconv.Itoa(i)},
			},
			ReportType: "scan_rdp", Source: "2026-11-22-scan_rdp-fi.csv:" + strconv.Itoa(i+2), Ingested: at.Add(time.Hour),
		}
	}
	return out
}
