package storetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed/shadowserver"
)

// BenchIngest measures the path a CERT's own Shadowserver reports take,
// where every row is inside the constituency: a scan_rdp report of 100,000
// rows parsed, enriched and stored by reporter.Ingester into a fresh store
// from open, with each batch size and number of writers asked for. It
// reports events/s. Each run starts on an empty store, where the indexes
// fit in the page cache; a day of 1,000,000 kept rows, where they do not,
// is examples/mkday -kept 1 through autoreporter ingest (README).
func BenchIngest(b *testing.B, open func(b *testing.B) reporter.Store, shapes []IngestShape) {
	const rows = 100000
	file := scanRDP(rows)
	for _, sh := range shapes {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", sh.Batch, sh.Writers), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			events := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := open(b)
				in := &reporter.Ingester{Geo: anyGeo{}, Constituency: anyGeo{}, Store: s, Log: slog.New(slog.DiscardHandler),
					Now: time.Now, BatchSize: sh.Batch, Writers: sh.Writers}
				b.StartTimer()
				st, err := in.Ingest(context.Background(), "shadowserver", &shadowserver.Parser{}, bytes.NewReader(file), "2026-11-23-scan_rdp-finland-geo.csv")
				if err != nil {
					b.Fatal(err)
				}
				if st.Stored != rows {
					b.Fatalf("%d events stored, want %d", st.Stored, rows)
				}
				events += st.Stored
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// IngestShape is a batch size and a number of writers (reporter.Ingester).
type IngestShape struct{ Batch, Writers int }

// anyGeo puts every address in one Finnish AS.
type anyGeo struct{}

func (anyGeo) Lookup(netip.Addr) (geo.Info, error) {
	return geo.Info{ASN: 64500, ASOrg: "Example ISP Oy", Country: "FI"}, nil
}
func (anyGeo) Contains(netip.Addr) bool { return true }

// scanRDP writes a Shadowserver scan_rdp report of n rows, one address
// each, in its published layout.
func scanRDP(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`"timestamp","ip","port","hostname","tag","handshake","asn","geo","region","city","rdp_protocol","cert_length","subject_common_name","naics","sic","sector"` + "\n")
	at := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for i := range n {
		a := benchAddr(i)
		fmt.Fprintf(&b, "\"%s\",\"%s\",3389,\"host-%d.dyn.isp.example\",\"rdp\",\"\",64500,\"FI\",\"UUSIMAA\",\"HELSINKI\",\"RDP\",2048,\"WIN-%d\",517311,0,\"Communications\"\n",
			at.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"), a, i, i)
	}
	return b.Bytes()
}
