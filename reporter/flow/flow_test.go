package flow

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/netsampler/goflow2/v2/format/binary"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
	"github.com/netsampler/goflow2/v2/utils"
)

var (
	local    = netip.MustParseAddr("192.0.2.10")
	local6   = netip.MustParseAddr("2001:db8:1::10")
	c2       = netip.MustParseAddr("100.64.0.5")    // Feodo: any port
	c2v6     = netip.MustParseAddr("2001:db8:9::5") // Feodo, IPv6
	tfx      = netip.MustParseAddr("100.65.0.9")    // ThreatFox: port 8443 only
	stranger = netip.MustParseAddr("100.66.0.1")
)

// constituency is 192.0.2.0/24 and 2001:db8:1::/48.
type constituency struct{}

func (constituency) Contains(a netip.Addr) bool {
	return netip.MustParsePrefix("192.0.2.0/24").Contains(a) || netip.MustParsePrefix("2001:db8:1::/48").Contains(a)
}

func lists() []reporter.Watchlist {
	return []reporter.Watchlist{
		{Feed: "feodo", Entries: []reporter.WatchEntry{
			{Net: netip.PrefixFrom(c2, 32), Identifier: "QakBot"},
			{Net: netip.PrefixFrom(c2v6, 128), Identifier: "Emotet"},
		}},
		{Feed: "threatfox", Entries: []reporter.WatchEntry{
			{Net: netip.PrefixFrom(tfx, 32), Port: 8443, Identifier: "Cobalt Strike"},
			{Net: netip.PrefixFrom(c2, 32), Identifier: "listed second"},
		}},
	}
}

func TestTable(t *testing.T) {
	tb := Compile(append(lists(), reporter.Watchlist{Feed: "drop", Entries: []reporter.WatchEntry{
		{Net: netip.MustParsePrefix("100.67.0.0/16"), Identifier: "net"},
		{Net: netip.MustParsePrefix("100.67.1.0/24"), Identifier: "inner"},
		{Net: netip.MustParsePrefix("100.67.1.7/32"), Port: 25, Identifier: "mail"},
		{Net: netip.MustParsePrefix("::ffff:100.68.0.1/128"), Identifier: "mapped"},
	}}))
	for _, tt := range []struct {
		name string
		addr string
		port uint16
		want string // indicator; "" for no match
		id   string
	}{
		{"address, any port", "100.64.0.5", 80, "100.64.0.5", "QakBot"},
		{"first listing wins", "100.64.0.5", 443, "100.64.0.5", "QakBot"},
		{"ip:port on its port", "100.65.0.9", 8443, "100.65.0.9:8443", "Cobalt Strike"},
		{"ip:port on another port", "100.65.0.9", 443, "", ""},
		{"IPv6", "2001:db8:9::5", 443, "2001:db8:9::5", "Emotet"},
		{"next address", "100.64.0.6", 80, "", ""},
		{"outer network", "100.67.200.1", 1, "100.67.0.0/16", "net"},
		{"inner network", "100.67.1.1", 1, "100.67.1.0/24", "inner"},
		{"inner network after the port entry", "100.67.1.8", 1, "100.67.1.0/24", "inner"},
		{"port entry inside networks", "100.67.1.7", 25, "100.67.1.7:25", "mail"},
		{"its other ports: the network", "100.67.1.7", 80, "100.67.1.0/24", "inner"},
		{"outer network after the inner", "100.67.2.0", 1, "100.67.0.0/16", "net"},
		{"mapped IPv4 entry", "100.68.0.1", 1, "100.68.0.1", "mapped"},
		{"nothing", "8.8.8.8", 53, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := tb.Lookup(netip.MustParseAddr(tt.addr), tt.port)
			if tt.want == "" {
				if ok {
					t.Fatalf("matched %+v", e)
				}
				return
			}
			if !ok || e.Indicator != tt.want || e.Identifier != tt.id {
				t.Fatalf("got %+v %v, want %s (%s)", e, ok, tt.want, tt.id)
			}
		})
	}
	if tb.Len() != 7 {
		t.Errorf("Len %d, want 7 (the duplicate dropped)", tb.Len())
	}
}

func TestWindows(t *testing.T) {
	h := time.Hour
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		received  time.Time
		window    time.Duration
		wantStart time.Time
	}{
		{"start of the hour", t0, h, t0},
		{"inside", t0.Add(59*time.Minute + 59*time.Second), h, t0},
		{"next", t0.Add(h), h, t0.Add(h)},
		{"other zone, same instant", t0.Add(30 * time.Minute).In(time.FixedZone("x", 3*3600+1800)), h, t0},
		{"five minutes", t0.Add(7 * time.Minute), 5 * time.Minute, t0.Add(5 * time.Minute)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := WindowOf(tt.received, tt.window); !got.Equal(tt.wantStart) {
				t.Errorf("WindowOf: %s, want %s", got, tt.wantStart)
			}
		})
	}
	for _, tt := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"open", t0.Add(59 * time.Minute), false},
		{"closes at its end", t0.Add(h), true},
		{"after", t0.Add(2 * h), true},
	} {
		t.Run("Closed/"+tt.name, func(t *testing.T) {
			if got := Closed(t0, h, tt.now); got != tt.want {
				t.Errorf("Closed at %s: %v", tt.now, got)
			}
		})
	}
}

func TestAggregateEvent(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := Aggregate{Local: local, Indicator: "100.64.0.5", Window: t0, Feed: "feodo", Identifier: "QakBot",
		Remote: c2, RemotePort: 443, LocalPort: 51234, Proto: 6, Exporter: netip.MustParseAddr("127.0.0.1"),
		Flows: 3, Packets: 30, Bytes: 4500, First: t0.Add(time.Minute), Last: t0.Add(9 * time.Minute)}
	e := a.Event("backbone")
	if e.Classification != reporter.InfectedSystem || e.Identifier != "QakBot" || e.IP != local || e.Port != 0 ||
		e.Protocol != "tcp" || !e.Time.Equal(a.First) {
		t.Fatalf("event: %+v", e)
	}
	for k, v := range map[string]string{"dst_ip": "100.64.0.5", "dst_port": "443", "src_port": "51234", "flows": "3",
		"packets": "30", "bytes": "4500", "watchlist": "feodo", "indicator": "100.64.0.5", "exporter": "127.0.0.1",
		"first_seen": "2026-11-23T10:01:00Z", "last_seen": "2026-11-23T10:09:00Z"} {
		if got := e.ExtraValue(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// The next window's event of the same infection has the same key: the
	// repeat window applies across windows.
	b := a
	b.Window, b.First, b.LocalPort = t0.Add(time.Hour), t0.Add(61*time.Minute), 40000
	if e2 := b.Event("backbone"); e2.Key() != e.Key() {
		t.Error("the next window's event has another dedup key")
	}
}

// collect runs a decoder behind a real UDP listener on loopback.
type collect struct {
	t       *testing.T
	m       *Matcher
	dec     *Decoder
	l       *Listener
	conn    net.Conn
	sent    uint64
	now     time.Time
	stopped chan struct{}
}

func newCollect(t *testing.T, allow ...string) *collect {
	t.Helper()
	var ex Exporters
	for _, a := range allow {
		ex = append(ex, netip.MustParsePrefix(a))
	}
	c := &collect{t: t, now: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), stopped: make(chan struct{})}
	c.m = NewMatcher(constituency{}, time.Hour, 0)
	c.m.SetWatchlist(Compile(lists()))
	var logs bytes.Buffer
	var err error
	if c.dec, err = NewDecoder(ex, c.m, nil); err != nil {
		t.Fatal(err)
	}
	_ = logs
	ctx, cancel := context.WithCancel(context.Background())
	if c.l, err = Listen(ctx, "127.0.0.1:0", c.dec, func() time.Time { return c.now }); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.stopped)
		if err := c.l.Serve(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-c.stopped })
	if c.conn, err = net.Dial("udp", c.l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// send sends datagrams one at a time, each after the last was taken, so
// that a template is decoded before its data.
func (c *collect) send(dgrams ...[]byte) {
	c.t.Helper()
	for _, d := range dgrams {
		if _, err := c.conn.Write(d); err != nil {
			c.t.Fatal(err)
		}
		c.sent++
		for deadline := time.Now().Add(10 * time.Second); c.dec.Stats().Packets < c.sent; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				c.t.Fatalf("the listener took %d of %d datagrams", c.dec.Stats().Packets, c.sent)
			}
		}
	}
}

func (c *collect) open() map[string]Aggregate {
	out := map[string]Aggregate{}
	for _, a := range c.m.Open() {
		out[a.Local.String()+" "+a.Indicator] = a
	}
	return out
}

var lo = "127.0.0.1/32"

func TestNetFlowV5(t *testing.T) {
	c := newCollect(t, lo)
	at := c.now.Add(-time.Minute)
	c.send(netflowV5(at, 0x4000|10, // sampling mode 1, interval 10
		rec{local, c2, 51000, 443, 6, 10, 1500},  // out to the C2
		rec{c2, local, 443, 51000, 6, 8, 6000},   // its answer: the same aggregate
		rec{local, stranger, 51001, 80, 6, 5, 5}, // nobody watched
		rec{stranger, c2, 1, 443, 6, 5, 5},       // not ours
	))
	got := c.open()
	a, ok := got["192.0.2.10 100.64.0.5"]
	if len(got) != 1 || !ok {
		t.Fatalf("aggregates: %+v", got)
	}
	if a.Flows != 2 || a.Packets != 180 || a.Bytes != 75000 || a.Identifier != "QakBot" || a.Feed != "feodo" ||
		a.RemotePort != 443 || a.LocalPort != 51000 || a.Proto != 6 || a.Exporter.String() != "127.0.0.1" {
		t.Errorf("aggregate: %+v", a)
	}
	// The exporter's clock: first 2 s before its export, last 1 s.
	if !a.First.Equal(at.Add(-2*time.Second)) || !a.Last.Equal(at.Add(-time.Second)) {
		t.Errorf("first %s last %s, export at %s", a.First, a.Last, at)
	}
	if !a.Window.Equal(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("window %s", a.Window)
	}
	if s := c.dec.Stats(); s.Records != 4 || s.Refused != 0 || s.DecodeErrors != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestNetFlowV9TemplateThenData(t *testing.T) {
	c := newCollect(t, lo)
	// Data before its template is a decode error, counted, and lost.
	c.send(netflowV9(c.now, 1, v9Data(rec{local, c2, 5, 443, 6, 1, 1})))
	if s := c.dec.Stats(); s.DecodeErrors != 1 || len(c.m.Open()) != 0 {
		t.Fatalf("data before template: %+v, %d open", s, len(c.m.Open()))
	}
	tmpl := v9Templates()
	c.send(netflowV9(c.now, 2, tmpl[0], tmpl[1], v9Sampling(100)))
	c.send(netflowV9(c.now, 3, v9Data(rec{local, c2, 5, 443, 6, 3, 300}, rec{local, tfx, 6, 8443, 6, 1, 100})))
	got := c.open()
	if len(got) != 2 {
		t.Fatalf("aggregates: %+v", got)
	}
	if a := got["192.0.2.10 100.64.0.5"]; a.Flows != 1 || a.Packets != 300 || a.Bytes != 30000 {
		t.Errorf("scaled by the options' sampling interval: %+v", a)
	}
	if a := got["192.0.2.10 100.65.0.9:8443"]; a.Identifier != "Cobalt Strike" || a.Feed != "threatfox" {
		t.Errorf("ip:port entry: %+v", a)
	}
}

func TestIPFIX(t *testing.T) {
	c := newCollect(t, lo)
	sampling := ipfixSampling(4)
	c.send(ipfix(c.now, 1, ipfixTemplates(), sampling[0], sampling[1]))
	c.send(ipfix(c.now, 2,
		ipfixData(300, v6Template, rec{local6, c2v6, 40000, 443, 6, 2, 200}),
		ipfixData(301, v4Template, rec{c2, local, 443, 51000, 6, 1, 60}, rec{tfx, local, 443, 1, 6, 1, 60}),
	))
	got := c.open()
	if len(got) != 2 {
		t.Fatalf("aggregates: %+v", got)
	}
	if a := got["2001:db8:1::10 2001:db8:9::5"]; a.Packets != 8 || a.Bytes != 800 || a.Identifier != "Emotet" {
		t.Errorf("IPv6: %+v", a)
	}
	if a := got["192.0.2.10 100.64.0.5"]; a.LocalPort != 51000 || a.RemotePort != 443 || a.Remote != c2 {
		t.Errorf("inbound side: %+v", a)
	}
}

func TestSFlow(t *testing.T) {
	c := newCollect(t, lo)
	agent := netip.MustParseAddr("192.0.2.254")
	c.send(sflowV5(agent, 512, 1000, rec{local, c2, 50000, 443, 6, 0, 0}, rec{local, c2, 50000, 443, 6, 0, 0}))
	got := c.open()
	a, ok := got["192.0.2.10 100.64.0.5"]
	if len(got) != 1 || !ok {
		t.Fatalf("aggregates: %+v", got)
	}
	// Each sample is one packet of 1000 bytes standing for 512.
	if a.Flows != 2 || a.Packets != 1024 || a.Bytes != 1024000 || a.Exporter != agent {
		t.Errorf("aggregate: %+v", a)
	}
}

func TestExportersRefused(t *testing.T) {
	for _, allow := range [][]string{{"192.0.2.1/32"}, nil} {
		c := newCollect(t, allow...)
		c.send(netflowV5(c.now, 0, rec{local, c2, 1, 443, 6, 1, 1}), []byte("not a flow"))
		if s := c.dec.Stats(); s.Refused != 2 || s.Records != 0 || s.DecodeErrors != 0 || len(c.m.Open()) != 0 {
			t.Errorf("allow %v: %+v, %d open", allow, s, len(c.m.Open()))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	c := newCollect(t, lo)
	v5 := netflowV5(c.now, 0, rec{local, c2, 1, 443, 6, 1, 1})
	c.send([]byte("not a flow"), []byte{0, 5}, v5[:30], v5[:len(v5)-1],
		be{}.u32(5).u32(9).u32(0)) // sFlow with an agent address of IP version 9
	if s := c.dec.Stats(); s.DecodeErrors != 5 || s.Records != 0 || len(c.m.Open()) != 0 {
		t.Errorf("stats: %+v", s)
	}
}

// TestMatcherWindows: aggregates close at their window's end, not before;
// saved and restored, they close as they would have.
func TestMatcherWindows(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := NewMatcher(constituency{}, time.Hour, 0)
	m.SetWatchlist(Compile(lists()))
	f := Flow{Src: local, Dst: c2, SrcPort: 1, DstPort: 443, Proto: 6, Packets: 1, Bytes: 10, Received: t0.Add(10 * time.Minute)}
	m.Match(&f)
	f.Received = t0.Add(70 * time.Minute)
	m.Match(&f)
	if next, ok := m.NextClose(); !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("next close %s %v", next, ok)
	}
	if got := m.TakeClosed(t0.Add(59 * time.Minute)); len(got) != 0 {
		t.Fatalf("closed early: %+v", got)
	}
	state, err := EncodeState(m.Open())
	if err != nil {
		t.Fatal(err)
	}
	restored, err := DecodeState(state)
	if err != nil {
		t.Fatal(err)
	}
	m2 := NewMatcher(constituency{}, time.Hour, 0)
	m2.Restore(restored)
	for _, mm := range []*Matcher{m, m2} {
		got := mm.TakeClosed(t0.Add(time.Hour))
		if len(got) != 1 || !got[0].Window.Equal(t0) || got[0].Flows != 1 {
			t.Fatalf("closed at the hour: %+v", got)
		}
		if left := mm.Open(); len(left) != 1 || !left[0].Window.Equal(t0.Add(time.Hour)) {
			t.Fatalf("left open: %+v", left)
		}
	}
	if _, err := DecodeState([]byte(`{"version":99}`)); err == nil {
		t.Error("a state of another version was read")
	}
}

func TestMaxOpen(t *testing.T) {
	m := NewMatcher(constituency{}, time.Hour, 1)
	m.SetWatchlist(Compile(lists()))
	now := time.Now()
	for _, f := range []Flow{{Src: local, Dst: c2, Received: now}, {Src: local, Dst: c2, Received: now}, {Src: netip.MustParseAddr("192.0.2.11"), Dst: c2, Received: now}} {
		m.Match(&f)
	}
	if c := m.Counts(); c.Open != 1 || c.Matched != 2 || c.Overflow != 1 {
		t.Errorf("counts: %+v", c)
	}
}

// sliceTransport collects what goflow2's format writes, as its file
// transport would with -transport.file.sep= (nothing between messages).
type sliceTransport struct{ buf bytes.Buffer }

func (s *sliceTransport) Send(key, data []byte) error { s.buf.Write(data); return nil }

// goflow2Stream is what a goflow2 collector writes with -format=bin for
// the datagrams, made by goflow2's own pipe, producer and formatter.
func goflow2Stream(t testing.TB, dgrams ...[]byte) []byte {
	cfg, err := (&protoproducer.ProducerConfig{}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
	if err != nil {
		t.Fatal(err)
	}
	out := &sliceTransport{}
	pipe := utils.NewFlowPipe(&utils.PipeConfig{Producer: prod, Format: &binary.BinaryDriver{}, Transport: out})
	src := netip.MustParseAddrPort("192.0.2.1:9995")
	for _, d := range dgrams {
		if err := pipe.DecodeFlow(&utils.Message{Src: src, Payload: d, Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return out.buf.Bytes()
}

func TestGoflow2Stream(t *testing.T) {
	now := time.Now().UTC()
	stream := goflow2Stream(t, netflowV5(now, 0, rec{local, c2, 5, 443, 6, 2, 100}, rec{local, stranger, 5, 80, 6, 1, 1}),
		netflowV5(now, 2, rec{c2, local, 443, 5, 6, 3, 300}))
	for _, tt := range []struct {
		name  string
		allow []string
		want  uint64 // flows in the aggregate
	}{
		{"allowed", []string{"192.0.2.1/32"}, 2},
		{"refused", []string{"127.0.0.1/32"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ex Exporters
			for _, a := range tt.allow {
				ex = append(ex, netip.MustParsePrefix(a))
			}
			m := NewMatcher(constituency{}, time.Hour, 0)
			m.SetWatchlist(Compile(lists()))
			dec, err := NewDecoder(ex, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.ReadStream(context.Background(), bytes.NewReader(stream)); err != nil {
				t.Fatal(err)
			}
			open := m.Open()
			if tt.want == 0 {
				if len(open) != 0 || dec.Stats().Refused != 3 {
					t.Fatalf("refused exporter: %+v %+v", open, dec.Stats())
				}
				return
			}
			if len(open) != 1 || open[0].Flows != 2 || open[0].Packets != 2+6 || open[0].Bytes != 100+600 {
				t.Fatalf("aggregates: %+v", open)
			}
		})
	}
	// A stream that cannot be read (here a length no varint ends) says
	// which goflow2 flag makes one that can.
	m := NewMatcher(constituency{}, time.Hour, 0)
	dec, _ := NewDecoder(Exporters{netip.MustParsePrefix("0.0.0.0/0")}, m, nil)
	withSep := append(append([]byte{}, stream[:len(stream)/3]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if err := dec.ReadStream(context.Background(), bytes.NewReader(withSep)); err == nil || !strings.Contains(err.Error(), "-transport.file.sep=") {
		t.Errorf("broken stream: %v", err)
	}
}
