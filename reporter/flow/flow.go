// Package flow turns live traffic into events: NetFlow v5, v9 and IPFIX
// (one UDP port, the version read from each packet) and sFlow v5, decoded
// by goflow2's decoders, or goflow2's own protobuf stream from collectors
// that run goflow2 itself. A flow with one side in the constituency and the
// other in a watchlist (the entries of feeds such as Feodo Tracker's C2
// servers, compiled into a range table) adds to an aggregate per local
// address, watched indicator and window; a closed window becomes one
// infected-system event, which then goes the way every feed's event goes:
// enrichment, contact, repeat window, report, history.
//
// The hot path decides early and allocates late: the exporter is checked
// against the allow-list before anything is decoded, each side of a flow is
// looked up in the watchlist (small) before the constituency is asked, and
// only a match takes a lock.
package flow

import (
	"net/netip"
	"time"

	flowpb "github.com/netsampler/goflow2/v2/pb"
)

// Flow is one decoded flow record, with its counts already scaled by the
// exporter's sampling rate.
type Flow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Packets, Bytes   uint64
	// Start and End are the exporter's clock; zero when it gave none.
	Start, End time.Time
	// Received is when the collector got it: windows follow this clock,
	// not the exporter's, so a skewed or replaying exporter cannot hold a
	// window open or reopen a closed one.
	Received time.Time
	Exporter netip.Addr
}

// fromProto reads goflow2's message into f. It reports false for a record
// without two addresses (an sFlow counter sample, a non-IP frame).
func fromProto(m *flowpb.FlowMessage, f *Flow) bool {
	src, ok1 := netip.AddrFromSlice(m.SrcAddr)
	dst, ok2 := netip.AddrFromSlice(m.DstAddr)
	if !ok1 || !ok2 {
		return false
	}
	f.Src, f.Dst = src.Unmap(), dst.Unmap()
	f.SrcPort, f.DstPort = uint16(m.SrcPort), uint16(m.DstPort)
	f.Proto = uint8(m.Proto)
	rate := m.SamplingRate
	if rate == 0 {
		rate = 1
	}
	f.Packets, f.Bytes = m.Packets*rate, m.Bytes*rate
	f.Start, f.End = nsTime(m.TimeFlowStartNs), nsTime(m.TimeFlowEndNs)
	f.Received = nsTime(m.TimeReceivedNs)
	f.Exporter = netip.Addr{}
	if a, ok := netip.AddrFromSlice(m.SamplerAddress); ok {
		f.Exporter = a.Unmap()
	}
	return true
}

func nsTime(ns uint64) time.Time {
	if ns == 0 || ns > 1<<62 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}

// protoName names an IP protocol as events name it.
func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "ipv6-icmp"
	case 132:
		return "sctp"
	}
	return ""
}
