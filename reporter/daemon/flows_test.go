package daemon_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

// v5 is a NetFlow v5 datagram of one record.
func v5(at time.Time, src, dst string, srcPort, dstPort uint16, packets, bytes uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, 5)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, 60_000)
	b = binary.BigEndian.AppendUint32(b, uint32(at.Unix()))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, 0, 0, 0, 0)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	b = append(b, 0, 0, 0, 0, 0, 1, 0, 2)
	b = binary.BigEndian.AppendUint32(b, packets)
	b = binary.BigEndian.AppendUint32(b, bytes)
	b = binary.BigEndian.AppendUint32(b, 59_000)
	b = binary.BigEndian.AppendUint32(b, 59_500)
	b = binary.BigEndian.AppendUint16(b, srcPort)
	b = binary.BigEndian.AppendUint16(b, dstPort)
	return append(b, 0, 0x18, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0)
}

// An aggregate open when the daemon stops is saved, restored by the next
// start, and closed into an event when its window ends, which reaches the
// ISP: a restart loses no flow.
func TestFlowAggregatesSurviveRestart(t *testing.T) {
	w := setup(t)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	w.reconfigure(t, "contacts:\n", "flows:\n  - {name: backbone, netflow: \""+addr+"\", exporters: [127.0.0.1], watch: [c2], window: 1h}\ncontacts:\n")
	w.drop(t)
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 11, 23, 6, 10, 0, 0, time.UTC)
	now.Store(&t0)
	clock := func() time.Time { return *now.Load() }
	run := func(d *daemon.Daemon) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	d := w.open(t, daemon.Options{Now: clock})
	stop := run(d)
	wait("the watchlist", func() bool { st, _ := d.FlowStatus("backbone"); return st.Indicators == 2 })
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 192.0.2.10 (ISP One) to 100.64.9.9, a QakBot C2 abroad.
	conn.Write(v5(t0, "192.0.2.10", "100.64.9.9", 50000, 443, 7, 700))
	wait("the aggregate", func() bool { st, _ := d.FlowStatus("backbone"); return st.Counts.Open == 1 })
	stop()
	d.Close()
	for _, m := range w.smtp.Messages() {
		if strings.Contains(string(m.Data), "qakbot") && strings.Contains(string(m.Data), "192.0.2.10") {
			t.Fatal("an event was mailed before its window closed")
		}
	}

	// The next start is after the window's end.
	t1 := time.Date(2026, 11, 23, 7, 0, 30, 0, time.UTC)
	now.Store(&t1)
	before := len(w.smtp.Messages())
	d2 := w.open(t, daemon.Options{Now: clock})
	stop = run(d2)
	wait("the flow's mail", func() bool {
		for _, m := range w.smtp.Messages()[before:] {
			if strings.Contains(string(m.Data), "abuse@isp-one.example") {
				return true
			}
		}
		return false
	})
	stop()
	rows, err := d2.Store().History(context.Background(), reporter.HistoryQuery{Feed: "backbone"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Event.IP.String() != "192.0.2.10" || rows[0].Event.ExtraValue("packets") != "7" ||
		rows[0].Event.ExtraValue("dst_ip") != "100.64.9.9" || !strings.EqualFold(rows[0].Event.Identifier, "qakbot") {
		t.Fatalf("history of the flow: %+v", rows)
	}
}
