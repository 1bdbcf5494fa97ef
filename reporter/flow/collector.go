package flow

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
	"golang.org/x/time/rate"
)

// Exporters is the allow-list of exporters: addresses or networks. Flows
// from anyone else are dropped before they are decoded, and counted: a
// collector on a routable address must not let a stranger make events.
type Exporters []netip.Prefix

// Allows reports whether the exporter at a is on the list.
func (e Exporters) Allows(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range e {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Stats are a collector's running totals, for metrics and the log.
type Stats struct {
	Packets      uint64 // datagrams received
	Refused      uint64 // from an exporter not on the allow-list, dropped undecoded
	DecodeErrors uint64 // datagrams goflow2 could not decode (or not all of)
	Records      uint64 // flow records decoded
}

// Decoder decodes datagrams with goflow2's decoders (NetFlow v5, v9,
// IPFIX and sFlow v5, told apart by their first bytes) and hands each flow
// record to the matcher. It is safe for concurrent use.
//
// The records are read by a producer of our own, not goflow2's protobuf
// producer: that one maps every field of every record through fmt.Sprintf
// and a protobuf message, which costs ten times the decoding, for the
// seven fields a match needs. sFlow, one sampled packet a record, still
// goes through goflow2's producer, which parses the sampled headers.
type Decoder struct {
	exporters Exporters
	matcher   *Matcher
	sflow     producer.ProducerInterface
	log       *slog.Logger
	sometimes rate.Sometimes // decode errors: the first few, then one a minute

	mu      sync.RWMutex
	sources map[netip.AddrPort]*source // v9 and IPFIX state per exporter address and port

	packets, refused, decodeErrors, records atomic.Uint64
	panics                                  atomic.Uint64
}

// source is what one exporter's datagrams need to be read: its templates
// (RFC 3954 and 7011 scope them to the exporter and its observation
// domain) and the sampling rate its options records announced.
type source struct {
	templates netflow.NetFlowTemplateSystem
	mu        sync.Mutex
	sampling  map[uint64]uint32 // version<<32 | observation domain
}

func (s *source) rate(version uint16, domain uint32, announced uint32, found bool) uint32 {
	k := uint64(version)<<32 | uint64(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	if found {
		s.sampling[k] = announced
		return announced
	}
	return s.sampling[k]
}

// NewDecoder makes a decoder that feeds m.
func NewDecoder(exporters Exporters, m *Matcher, log *slog.Logger) (*Decoder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := (&protoproducer.ProducerConfig{}).Compile()
	if err != nil {
		return nil, fmt.Errorf("goflow2 producer: %w", err)
	}
	sf, err := protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
	if err != nil {
		return nil, fmt.Errorf("goflow2 producer: %w", err)
	}
	return &Decoder{exporters: exporters, matcher: m, sflow: sf, log: log, sources: map[netip.AddrPort]*source{},
		sometimes: rate.Sometimes{First: 5, Interval: time.Minute}}, nil
}

// Decode takes one datagram from src, received at t. Refused and
// undecodable datagrams are counted (and the latter logged, sampled);
// neither is an error to the caller, who goes on reading.
func (d *Decoder) Decode(src netip.AddrPort, payload []byte, t time.Time) {
	d.packets.Add(1)
	if !d.exporters.Allows(src.Addr()) {
		d.refused.Add(1)
		return
	}
	n, err := d.decode(src, payload, t)
	d.records.Add(uint64(n))
	if err != nil {
		total := d.decodeErrors.Add(1)
		d.sometimes.Do(func() {
			msg := "flow datagram not decoded; counting them, logging one a minute"
			if errors.Is(err, netflow.ErrorTemplateNotFound) {
				// Normal for a while after a start: v9 and IPFIX
				// exporters resend templates every few minutes.
				msg = "flow datagram not decoded (in full): its template has not come yet"
			}
			d.log.Warn(msg, "exporter", src.String(), "errors", total, slog.Any("err", err))
		})
	}
}

// decode reads one datagram and matches its records, returning how many
// it read. A panic in a decoder (a datagram nobody foresaw) is one more
// decode error, not the end of the listener.
func (d *Decoder) decode(src netip.AddrPort, payload []byte, t time.Time) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.panics.Add(1)
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	if len(payload) < 4 {
		return 0, fmt.Errorf("datagram of %d bytes", len(payload))
	}
	if binary.BigEndian.Uint32(payload) == 5 {
		return d.decodeSFlow(src, payload, t)
	}
	switch v := binary.BigEndian.Uint16(payload); v {
	case 5:
		return d.decodeV5(src, payload, t)
	case 9, 10:
		return d.decodeNetFlow(src, v, payload, t)
	default:
		return 0, fmt.Errorf("not NetFlow v5, v9, IPFIX or sFlow v5 (first bytes %x)", payload[:4])
	}
}

func (d *Decoder) source(src netip.AddrPort) *source {
	d.mu.RLock()
	s := d.sources[src]
	d.mu.RUnlock()
	if s != nil {
		return s
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s = d.sources[src]; s == nil {
		s = &source{templates: netflow.CreateTemplateSystem(), sampling: map[uint64]uint32{}}
		d.sources[src] = s
	}
	return s
}

// checkV5 refuses a NetFlow v5 datagram whose record count does not match
// its length. goflow2 makes as many records as the header counts and
// leaves those the datagram lacks zero (flows from 0.0.0.0), and would
// allocate 3 MB for a count of 65535 in a 24-byte datagram.
func checkV5(b []byte) error {
	if len(b) < 4 || b[0] != 0 || b[1] != 5 {
		return nil
	}
	count := int(b[2])<<8 | int(b[3])
	if len(b) != 24+48*count {
		return fmt.Errorf("NetFlow v5 datagram of %d bytes counts %d records (%d bytes)", len(b), count, 24+48*count)
	}
	return nil
}

func v4(a netflowlegacy.IPAddress) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

func (d *Decoder) decodeV5(src netip.AddrPort, payload []byte, t time.Time) (int, error) {
	if err := checkV5(payload); err != nil {
		return 0, err
	}
	var p netflowlegacy.PacketNetFlowV5
	if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(payload), &p); err != nil {
		return 0, err
	}
	rate := uint64(p.SamplingInterval & 0x3fff) // the top two bits are the mode
	if rate == 0 {
		rate = 1
	}
	base := time.Unix(int64(p.UnixSecs), int64(p.UnixNSecs)).UTC()
	exp := src.Addr().Unmap()
	var f Flow
	for i := range p.Records {
		r := &p.Records[i]
		f = Flow{Src: v4(r.SrcAddr), Dst: v4(r.DstAddr), SrcPort: r.SrcPort, DstPort: r.DstPort, Proto: r.Proto,
			Packets: uint64(r.DPkts) * rate, Bytes: uint64(r.DOctets) * rate, Received: t, Exporter: exp,
			// First and Last are the exporter's uptime in ms; uint32
			// arithmetic survives the uptime's wrap.
			Start: base.Add(-time.Duration(p.SysUptime-r.First) * time.Millisecond),
			End:   base.Add(-time.Duration(p.SysUptime-r.Last) * time.Millisecond)}
		d.matcher.Match(&f)
	}
	return len(p.Records), nil
}

// Information elements read from v9 and IPFIX records (RFC 3954 section
// 8, IANA's IPFIX registry; the numbers are shared).
const (
	fOctets        = 1
	fPackets       = 2
	fProto         = 4
	fSrcPort       = 7
	fSrcV4         = 8
	fDstPort       = 11
	fDstV4         = 12
	fLastSwitched  = 21
	fFirstSwitched = 22
	fOutOctets     = 23
	fOutPackets    = 24
	fSrcV6         = 27
	fDstV6         = 28
	fSampling      = 34
	fOctetsTotal   = 85
	fPacketsTotal  = 86
	fStartSec      = 150
	fEndSec        = 151
	fStartMilli    = 152
	fEndMilli      = 153
)

func unum(v []byte) uint64 {
	var n uint64
	for _, b := range v {
		n = n<<8 | uint64(b)
	}
	return n
}

func (d *Decoder) decodeNetFlow(src netip.AddrPort, version uint16, payload []byte, t time.Time) (int, error) {
	if err := checkTemplates(version, payload); err != nil {
		return 0, err
	}
	s := d.source(src)
	buf := bytes.NewBuffer(payload[2:])
	var sets []any
	var domain, exportSec, uptime uint32
	var err error
	if version == 9 {
		var p netflow.NFv9Packet
		err = netflow.DecodeMessageNetFlow(buf, s.templates, &p)
		sets, domain, exportSec, uptime = p.FlowSets, p.SourceId, p.UnixSeconds, p.SystemUptime
	} else {
		var p netflow.IPFIXPacket
		err = netflow.DecodeMessageIPFIX(buf, s.templates, &p)
		sets, domain, exportSec = p.FlowSets, p.ObservationDomainId, p.ExportTime
	}
	// The sets decoded before an error (a data set whose template has
	// not come yet, most often) are read: goflow2's own pipe drops the
	// whole datagram.
	var announced uint32
	found := false
	for _, set := range sets {
		if o, ok := set.(netflow.OptionsDataFlowSet); ok {
			for _, r := range o.Records {
				for _, v := range r.OptionsValues {
					if b, ok := v.Value.([]byte); ok && !v.PenProvided && (v.Type == 305 || v.Type == 50 || v.Type == fSampling) {
						announced, found = uint32(unum(b)), true
					}
				}
			}
		}
	}
	rate := uint64(s.rate(version, domain, announced, found))
	if rate == 0 {
		rate = 1
	}
	base := time.Unix(int64(exportSec), 0).UTC()
	exp := src.Addr().Unmap()
	n := 0
	var f Flow
	for _, set := range sets {
		data, ok := set.(netflow.DataFlowSet)
		if !ok {
			continue
		}
		for _, r := range data.Records {
			f = Flow{Received: t, Exporter: exp, Start: base, End: base}
			recRate := rate
			for _, v := range r.Values {
				b, ok := v.Value.([]byte)
				if !ok || v.PenProvided {
					continue
				}
				switch v.Type {
				case fSrcV4, fSrcV6:
					f.Src, _ = netip.AddrFromSlice(b)
				case fDstV4, fDstV6:
					f.Dst, _ = netip.AddrFromSlice(b)
				case fSrcPort:
					f.SrcPort = uint16(unum(b))
				case fDstPort:
					f.DstPort = uint16(unum(b))
				case fProto:
					f.Proto = uint8(unum(b))
				case fOctets, fOutOctets, fOctetsTotal:
					if f.Bytes == 0 {
						f.Bytes = unum(b)
					}
				case fPackets, fOutPackets, fPacketsTotal:
					if f.Packets == 0 {
						f.Packets = unum(b)
					}
				case fSampling:
					if r := unum(b); r > 0 {
						recRate = r
					}
				case fFirstSwitched, fLastSwitched:
					if version != 9 {
						break // IPFIX's sysUpTime needs systemInitTimeMilliseconds
					}
					at := base.Add(-time.Duration(uptime-uint32(unum(b))) * time.Millisecond)
					if v.Type == fFirstSwitched {
						f.Start = at
					} else {
						f.End = at
					}
				case fStartSec:
					f.Start = time.Unix(int64(unum(b)), 0).UTC()
				case fEndSec:
					f.End = time.Unix(int64(unum(b)), 0).UTC()
				case fStartMilli:
					f.Start = time.UnixMilli(int64(unum(b))).UTC()
				case fEndMilli:
					f.End = time.UnixMilli(int64(unum(b))).UTC()
				}
			}
			if !f.Src.IsValid() || !f.Dst.IsValid() {
				continue
			}
			f.Src, f.Dst = f.Src.Unmap(), f.Dst.Unmap()
			f.Packets *= recRate
			f.Bytes *= recRate
			n++
			d.matcher.Match(&f)
		}
	}
	return n, err
}

func (d *Decoder) decodeSFlow(src netip.AddrPort, payload []byte, t time.Time) (int, error) {
	var p sflow.Packet
	if err := sflow.DecodeMessageVersion(bytes.NewBuffer(payload), &p); err != nil {
		return 0, err
	}
	set, err := d.sflow.Produce(&p, &producer.ProduceArgs{Src: src, TimeReceived: t, SamplerAddress: src.Addr()})
	defer d.sflow.Commit(set)
	n := 0
	var f Flow
	for _, m := range set {
		pm, ok := m.(*protoproducer.ProtoProducerMessage)
		if !ok || !fromProto(&pm.FlowMessage, &f) {
			continue
		}
		if !f.Exporter.IsValid() {
			f.Exporter = src.Addr().Unmap()
		}
		n++
		d.matcher.Match(&f)
	}
	return n, err
}

// Stats returns the running totals.
func (d *Decoder) Stats() Stats {
	return Stats{Packets: d.packets.Load(), Refused: d.refused.Load(), DecodeErrors: d.decodeErrors.Load(), Records: d.records.Load()}
}

// Listener reads datagrams from one UDP socket into a decoder.
type Listener struct {
	conn *net.UDPConn
	dec  *Decoder
	now  func() time.Time
}

// Listen binds addr (host:port; port 0 picks one, see Addr).
func Listen(ctx context.Context, addr string, dec *Decoder, now func() time.Time) (*Listener, error) {
	if now == nil {
		now = time.Now
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	conn := pc.(*net.UDPConn)
	// Exporters send in bursts (a router's cache expiring); a larger
	// receive buffer rides them out. The kernel caps what it grants.
	_ = conn.SetReadBuffer(8 << 20)
	return &Listener{conn: conn, dec: dec, now: now}, nil
}

// Addr is the bound address.
func (l *Listener) Addr() netip.AddrPort {
	return l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Serve reads until ctx is done, then closes the socket. One goroutine
// reads and decodes, in arrival order: a v9 or IPFIX template must be
// decoded before the data that follows it.
func (l *Listener) Serve(ctx context.Context) error {
	var once sync.Once
	stop := context.AfterFunc(ctx, func() { once.Do(func() { l.conn.Close() }) })
	defer stop()
	defer once.Do(func() { l.conn.Close() })
	buf := make([]byte, 65535)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read %s: %w", l.Addr(), err)
		}
		if n == 0 {
			continue
		}
		l.dec.Decode(src, buf[:n], l.now().UTC())
	}
}
