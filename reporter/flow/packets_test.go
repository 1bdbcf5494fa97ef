package flow

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Hand-built datagrams, byte by byte from the specifications (RFC 3954
// for v9, RFC 7011 for IPFIX, sFlow.org's v5 for sFlow, Cisco's v5
// layout), so that the tests do not take goflow2's word for the formats.

type rec struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
	proto            uint8
	packets, bytes   uint32
}

type be []byte

func (b be) u8(v uint8) be   { return append(b, v) }
func (b be) u16(v uint16) be { return binary.BigEndian.AppendUint16(b, v) }
func (b be) u32(v uint32) be { return binary.BigEndian.AppendUint32(b, v) }
func (b be) addr(a netip.Addr) be {
	return append(b, a.AsSlice()...)
}

// netflowV5 is one v5 datagram; sampling is the header's interval (0: none).
func netflowV5(at time.Time, sampling uint16, recs ...rec) []byte {
	const uptime = 3_600_000 // the exporter has been up an hour
	b := be{}.u16(5).u16(uint16(len(recs))).u32(uptime).u32(uint32(at.Unix())).u32(uint32(at.Nanosecond())).
		u32(1).u8(0).u8(0).u16(sampling)
	for _, r := range recs {
		b = b.addr(r.src).addr(r.dst).u32(0).u16(1).u16(2).u32(r.packets).u32(r.bytes).
			u32(uptime - 2000).u32(uptime - 1000). // first and last: 2 s and 1 s ago
			u16(r.srcPort).u16(r.dstPort).u8(0).u8(0x18).u8(r.proto).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0)
	}
	return b
}

// v9/IPFIX fields: the IANA element ids.
const (
	ieOctets     = 1
	iePackets    = 2
	ieProto      = 4
	ieSrcPort    = 7
	ieSrcV4      = 8
	ieDstPort    = 11
	ieDstV4      = 12
	ieLast       = 21
	ieFirst      = 22
	ieSrcV6      = 27
	ieDstV6      = 28
	ieSampling   = 34
	ieSamplingPI = 305
)

var v4Template = [][2]uint16{{ieSrcV4, 4}, {ieDstV4, 4}, {ieSrcPort, 2}, {ieDstPort, 2}, {ieProto, 1}, {iePackets, 4}, {ieOctets, 4}, {ieFirst, 4}, {ieLast, 4}}
var v6Template = [][2]uint16{{ieSrcV6, 16}, {ieDstV6, 16}, {ieSrcPort, 2}, {ieDstPort, 2}, {ieProto, 1}, {iePackets, 4}, {ieOctets, 4}}

func pad4(b be, start int) be {
	for (len(b)-start)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// set wraps a flowset's body with its id and length.
func set(id uint16, body be) be {
	body = pad4(body, 0)
	return be{}.u16(id).u16(uint16(len(body) + 4)).append(body)
}

func (b be) append(o be) be { return append(b, o...) }

func templateBody(id uint16, fields [][2]uint16) be {
	b := be{}.u16(id).u16(uint16(len(fields)))
	for _, f := range fields {
		b = b.u16(f[0]).u16(f[1])
	}
	return b
}

func dataRecord(r rec, fields [][2]uint16, uptimeFirst, uptimeLast uint32) be {
	b := be{}
	for _, f := range fields {
		switch f[0] {
		case ieSrcV4, ieSrcV6:
			b = b.addr(r.src)
		case ieDstV4, ieDstV6:
			b = b.addr(r.dst)
		case ieSrcPort:
			b = b.u16(r.srcPort)
		case ieDstPort:
			b = b.u16(r.dstPort)
		case ieProto:
			b = b.u8(r.proto)
		case iePackets:
			b = b.u32(r.packets)
		case ieOctets:
			b = b.u32(r.bytes)
		case ieFirst:
			b = b.u32(uptimeFirst)
		case ieLast:
			b = b.u32(uptimeLast)
		}
	}
	return b
}

// netflowV9 is a v9 datagram of the given flowsets; count is the number
// of flowsets, as goflow2 reads it.
func netflowV9(at time.Time, seq uint32, sets ...be) []byte {
	b := be{}.u16(9).u16(uint16(len(sets))).u32(3_600_000).u32(uint32(at.Unix())).u32(seq).u32(7)
	for _, s := range sets {
		b = b.append(s)
	}
	return b
}

// v9Template is the template flowset (id 0) for template 256, plus an
// options template 257 whose data carries the sampling interval.
func v9Templates() []be {
	tmpl := set(0, templateBody(256, v4Template))
	// Options template (flowset id 1): template id, scope length, option
	// length, then scope (system, 4 bytes) and the option (34, 4 bytes).
	opt := set(1, be{}.u16(257).u16(4).u16(4).u16(1).u16(4).u16(ieSampling).u16(4))
	return []be{tmpl, opt}
}

func v9Sampling(rate uint32) be { return set(257, be{}.u32(0).u32(rate)) }

func v9Data(recs ...rec) be {
	body := be{}
	for _, r := range recs {
		body = body.append(dataRecord(r, v4Template, 3_600_000-2000, 3_600_000-1000))
	}
	return set(256, body)
}

// ipfix is one IPFIX message (RFC 7011): the header's length counts the
// whole message; templates are set 2, options templates set 3.
func ipfix(at time.Time, seq uint32, sets ...be) []byte {
	body := be{}
	for _, s := range sets {
		body = body.append(s)
	}
	return be{}.u16(10).u16(uint16(16 + len(body))).u32(uint32(at.Unix())).u32(seq).u32(9).append(body)
}

func ipfixTemplates() be {
	return set(2, templateBody(300, v6Template).append(templateBody(301, v4Template)))
}

// ipfixSampling is an options template 302 (scope: observation domain)
// and its data: samplingPacketInterval (305).
func ipfixSampling(rate uint32) []be {
	return []be{
		set(3, be{}.u16(302).u16(2).u16(1).u16(149).u16(4).u16(ieSamplingPI).u16(4)),
		set(302, be{}.u32(9).u32(rate)),
	}
}

func ipfixData(id uint16, fields [][2]uint16, recs ...rec) be {
	body := be{}
	for _, r := range recs {
		body = body.append(dataRecord(r, fields, 3_600_000-2000, 3_600_000-1000))
	}
	return set(id, body)
}

// ethIPv4TCP is a sampled frame's first bytes: Ethernet, IPv4, TCP.
func ethIPv4TCP(r rec, total uint16) []byte {
	b := be{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.u16(0x0800)
	b = b.u8(0x45).u8(0).u16(total - 14).u16(1).u16(0).u8(64).u8(r.proto).u16(0).addr(r.src).addr(r.dst)
	b = b.u16(r.srcPort).u16(r.dstPort).u32(1).u32(0).u8(0x50).u8(0x02).u16(65535).u16(0).u16(0)
	return b
}

// sflowV5 is one sFlow v5 datagram from agent with one flow sample per
// record, each a raw packet header of frame bytes.
func sflowV5(agent netip.Addr, rate uint32, frame uint16, recs ...rec) []byte {
	b := be{}.u32(5).u32(1).addr(agent).u32(0).u32(1).u32(3_600_000).u32(uint32(len(recs)))
	for i, r := range recs {
		hdr := ethIPv4TCP(r, frame)
		raw := be{}.u32(1).u32(uint32(frame)).u32(4).u32(uint32(len(hdr))).append(hdr)
		raw = pad4(raw, 0)
		rec := be{}.u32(1).u32(uint32(len(raw))).append(raw) // raw packet header record
		sample := be{}.u32(uint32(i + 1)).u32(3).u32(rate).u32(rate * uint32(i+1)).u32(0).u32(3).u32(4).u32(1).append(rec)
		b = b.u32(1).u32(uint32(len(sample))).append(sample) // flow sample
	}
	return b
}
