package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	nmail "net/mail"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
)

// writePcap writes a capture (libpcap's format: a global header, then a
// record header and the frame for each packet) of one TCP connection
// between a constituency host and a C2 server, and one between two hosts
// nobody watches.
func writePcap(t *testing.T, path string, start time.Time) {
	t.Helper()
	type pkt struct {
		src, dst         string
		srcPort, dstPort uint16
		flags            byte
		payload          int
	}
	pkts := []pkt{
		{"192.0.2.10", "198.51.100.5", 51000, 443, 0x02, 0},   // SYN
		{"198.51.100.5", "192.0.2.10", 443, 51000, 0x12, 0},   // SYN-ACK
		{"192.0.2.10", "198.51.100.5", 51000, 443, 0x18, 300}, // the bot's request
		{"198.51.100.5", "192.0.2.10", 443, 51000, 0x18, 900}, // its orders
		{"192.0.2.10", "198.51.100.5", 51000, 443, 0x11, 0},   // FIN
		{"198.51.100.5", "192.0.2.10", 443, 51000, 0x11, 0},   // FIN
		{"192.0.2.11", "198.51.100.77", 40000, 80, 0x02, 0},   // nobody watches this one
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4) // microsecond timestamps
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535) // snaplen
	le.PutUint32(hdr[20:], 1)     // Ethernet
	b.Write(hdr)
	for i, p := range pkts {
		tcp := make([]byte, 20+p.payload)
		binary.BigEndian.PutUint16(tcp[0:], p.srcPort)
		binary.BigEndian.PutUint16(tcp[2:], p.dstPort)
		binary.BigEndian.PutUint32(tcp[4:], uint32(1000+i))
		tcp[12] = 5 << 4
		tcp[13] = p.flags
		binary.BigEndian.PutUint16(tcp[14:], 65535)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		ip[8], ip[9] = 64, 6
		src, dst := netip.MustParseAddr(p.src).As4(), netip.MustParseAddr(p.dst).As4()
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		frame := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0}, ip...)
		frame = append(frame, tcp...)
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at.Unix()))
		le.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// csvRows reads the header and rows of a mail's CSV attachments.
func csvRows(t *testing.T, raw []byte) (header []string, rows [][]string) {
	t.Helper()
	msg, err := nmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return header, rows
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(p.FileName(), ".csv") {
			continue
		}
		b, _ := io.ReadAll(p)
		dec, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		all, err := csv.NewReader(bytes.NewReader(dec)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header, rows = all[0], append(rows, all[1:]...)
	}
}

// A flow from a constituency host to a Feodo Tracker C2 server, exported
// by a real exporter (softflowd, reading a capture this test writes, as
// NetFlow v5 and as IPFIX), becomes one event in the ISP's next report,
// with the C2's malware family and the flow counts. The same flows sent to
// a collector whose allow-list does not name the exporter make nothing.
func TestFlowsFromSoftflowd(t *testing.T) {
	softflowd, err := exec.LookPath("softflowd")
	if err != nil {
		softflowd, err = exec.LookPath("/usr/sbin/softflowd") // not on every user's PATH
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("softflowd is not installed (apt-get install softflowd); CI must run this test")
		}
		t.Skip("softflowd is not installed: apt-get install softflowd")
	}
	dir := setup(t)
	os.RemoveAll(filepath.Join(dir, "spool"))
	os.MkdirAll(filepath.Join(dir, "feodo"), 0o755)
	// Feodo Tracker's ipblocklist.csv: the C2 is abroad (198.51.100.0/24
	// is US in this world), so ingest keeps no event of it, but the
	// watchlist keeps it.
	os.WriteFile(filepath.Join(dir, "feodo", "ipblocklist.csv"), []byte(`# abuse.ch Feodo Tracker
# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2026-11-20 10:00:00","198.51.100.5","443","online","2026-11-23","QakBot"
"2026-11-20 10:00:00","198.51.100.6","8080","online","2026-11-23","Emotet"
`), 0o644)
	smtp := smtptest.Start(t)
	backbone, edge, listen := freeUDP(t), freeUDP(t), freePort(t)
	conf := fmt.Sprintf(`cert: {name: CERT-T, from: ar@cert.example, fallback_contact: soc@cert.example}
constituency: {countries: [FI]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none}}
report: {schedule: "@every 1s"}
http: {listen: %q}
contacts:
  - {asn: 64500, to: [abuse@isp.example]}
feeds:
  - {name: feodo, format: feodo, schedule: "@every 1s", source: {spool: feodo}}
flows:
  - {name: backbone, netflow: %q, exporters: [127.0.0.1], watch: [feodo], window: 4s, repeat: 24h}
  - {name: edge, netflow: %q, exporters: [192.0.2.1], watch: [feodo], window: 4s}
`, smtp.Host, smtp.Port, listen, backbone, edge)
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(conf), 0o644)

	var log lockedBuffer
	cmd, exited := runDaemon(t, c, &log)
	waitFor(t, "the watchlists", &log, func() bool {
		return strings.Count(log.String(), "msg=\"watchlist loaded\"") >= 4 && strings.Contains(log.String(), "indicators=2")
	})

	pcap := filepath.Join(dir, "c2.pcap")
	writePcap(t, pcap, time.Now())
	export := func(version, to string) {
		t.Helper()
		// No -c: reading a capture, softflowd opens no control socket
		// unless one is named, and with one named (1.1.0) it may block
		// in accept() on it after the export instead of exiting.
		out, err := exec.Command(softflowd, "-d", "-r", pcap, "-v", version, "-n", to).CombinedOutput()
		if err != nil {
			t.Fatalf("softflowd -v %s: %v\n%s", version, err, out)
		}
	}
	export("5", backbone)
	export("10", backbone)
	export("5", edge)
	export("10", edge)

	get := func(path string) string {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// softflowd's v5 export is one datagram, its IPFIX one (the template
	// and the data): four reach each collector.
	waitFor(t, "the datagrams counted", &log, func() bool {
		m := get("/metrics")
		return strings.Contains(m, `autoreporter_flow_datagrams_total{flow="backbone"} 2`) &&
			strings.Contains(m, `autoreporter_flow_refused_total{flow="edge"} 2`)
	})
	waitFor(t, "the ISP's mail", &log, func() bool { return len(smtp.Messages()) >= 1 })
	// Another report pass or two: nothing more comes.
	time.Sleep(3 * time.Second)
	msgs := smtp.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "abuse@isp.example" {
		t.Fatalf("mails: %d, first to %v; log:\n%s", len(msgs), msgs[0].To, log.String())
	}
	header, rows := csvRows(t, msgs[0].Data)
	if len(rows) != 1 {
		t.Fatalf("events in the mail: %v", rows)
	}
	ev := map[string]string{}
	for i, h := range header {
		ev[h] = rows[0][i]
	}
	if ev["ip"] != "192.0.2.10" || ev["classification"] != "infected-system" || !strings.EqualFold(ev["identifier"], "QakBot") ||
		ev["feed"] != "backbone" || ev["dst_ip"] != "198.51.100.5" || ev["dst_port"] != "443" || ev["src_port"] != "51000" ||
		ev["protocol"] != "tcp" || ev["asn"] != "64500" {
		t.Errorf("event: %v", ev)
	}
	// Each export is two flow records (one a direction) of 3 packets
	// each; v5 and IPFIX may land in one window or two (then the second
	// window's event is the same infection, inside the repeat window).
	switch {
	case ev["flows"] == "4" && ev["packets"] == "12":
	case ev["flows"] == "2" && ev["packets"] == "6":
	default:
		t.Errorf("counts: flows %s packets %s bytes %s", ev["flows"], ev["packets"], ev["bytes"])
	}
	if strings.Contains(string(msgs[0].Data), "edge") {
		t.Error("the refused exporter's flows made an event")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(log.String(), "open aggregates saved") {
		t.Errorf("no save logged:\n%s", log.String())
	}
}
