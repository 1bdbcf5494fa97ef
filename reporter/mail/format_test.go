package mail

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// Golden mails for each format: the attachment as CSV (report.en.eml, in
// TestGolden), inline, zipped, one CSV per report type, and with JSON.
func TestGoldenFormats(t *testing.T) {
	for _, tt := range []struct {
		name          string
		format        string
		perType, json bool
	}{
		{"inline", abuse.FormatInline, false, false},
		{"zip", abuse.FormatZip, false, true},
		{"pertype", abuse.FormatCSV, true, false},
		{"json", abuse.FormatCSV, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := builder(t)
			b.PerType, b.JSON = tt.perType, tt.json
			rep, evs := fixture("en")
			evs[2].ReportType = "scan_rdp"
			evs[0].ReportType, evs[1].ReportType = "event4_sinkhole_http", "event4_sinkhole_http"
			rep.Contact.Format = tt.format
			msg, err := b.Build(rep, evs)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "report.en."+tt.name+".eml", msg.Raw)
			again, _ := b.Build(rep, evs)
			if !bytes.Equal(again.Raw, msg.Raw) {
				t.Error("two builds of one report differ: a resend would not be the same mail")
			}
		})
	}
}

// One CSV per report type: each holds its type's events and only its
// type's own columns; the text names every file.
func TestPerTypeCSV(t *testing.T) {
	b := builder(t)
	b.PerType = true
	rep, evs := fixture("en")
	evs[0].ReportType, evs[1].ReportType, evs[2].ReportType = "event4_sinkhole_http", "event4_sinkhole_http", "scan_rdp"
	msg, err := b.Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	_, parts := parse(t, msg.Raw)
	sink, rdp := parts["CERT-XX-20261123-0001-event4_sinkhole_http.csv"], parts["CERT-XX-20261123-0001-scan_rdp.csv"]
	if len(parts) != 2 || sink == nil || rdp == nil {
		t.Fatalf("attachments %v", keys(parts))
	}
	rows, err := csv.NewReader(bytes.NewReader(sink)).ReadAll()
	if err != nil || len(rows) != 3 || !strings.HasSuffix(strings.Join(rows[0], ","), "country,dst_ip,http_agent") {
		t.Errorf("sinkhole CSV: %v %q", err, rows)
	}
	rows, err = csv.NewReader(bytes.NewReader(rdp)).ReadAll()
	if err != nil || len(rows) != 2 || !strings.HasSuffix(strings.Join(rows[0], ","), "country,tag") || rows[1][1] != "192.0.2.12" {
		t.Errorf("scan_rdp CSV: %v %q", err, rows)
	}
	if body := bodyText(t, msg.Raw); !strings.Contains(body, "CERT-XX-20261123-0001-event4_sinkhole_http.csv, CERT-XX-20261123-0001-scan_rdp.csv") {
		t.Errorf("the text does not name both files:\n%s", body)
	}
	// A hostile report type does not make a hostile file name.
	evs[2].ReportType = "../../x\r\nBcc: a@b"
	msg, err = b.Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	if _, parts = parse(t, msg.Raw); parts["CERT-XX-20261123-0001-.._.._x_Bcc_a_b.csv"] == nil {
		t.Errorf("attachments %v", keys(parts))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// manyEvents are n events across a few report types, each unique by ip and
// port, with the varied values real feeds have.
func manyEvents(n int) []reporter.Event {
	evs := make([]reporter.Event, n)
	for i := range evs {
		evs[i] = reporter.Event{Time: t0.Add(-time.Duration(i) * time.Second), Feed: "shadowserver", Classification: "vulnerable-system",
			Identifier: []string{"rdp", "telnet", "smb"}[i%3], ReportType: []string{"scan_rdp", "scan_telnet", "scan_smb"}[i%3],
			IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: 1024 + i%50000, Protocol: "tcp",
			ASN: 64500, ASOrg: "Example ISP One Oy", Country: "FI", Hostname: fmt.Sprintf("dsl-%d.pool.isp-one.example", i*7919%100003),
			Extra: []reporter.Field{{Key: "tag", Value: "tag" + fmt.Sprint(i%17)}, {Key: "naics", Value: fmt.Sprint(517000 + i%300)}}}
	}
	return evs
}

// memTransport keeps what it is given.
type memTransport struct{ msgs []*Message }

func (m *memTransport) Deliver(_ context.Context, _ string, msg *Message) ([]string, error) {
	m.msgs = append(m.msgs, msg)
	return nil, nil
}

// A zip contact's report is cut on its compressed size: fewer parts than
// as CSV, every part under the limit, every event in exactly one part.
func TestZipParts(t *testing.T) {
	const limit = 256 << 10
	evs := manyEvents(30000)
	send := func(format string) []*Message {
		b := builder(t)
		b.JSON = true
		tr := &memTransport{}
		m := &Mailer{Builder: b, Transport: tr, Limits: func(reporter.Report) Limits { return Limits{MaxBytes: limit} }}
		rep, _ := fixture("en")
		rep.Contact.Format = format
		if _, err := m.Send(context.Background(), rep, reporter.Events(evs), nil); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return tr.msgs
	}
	csvParts, zipParts := send(abuse.FormatCSV), send(abuse.FormatZip)
	if len(zipParts)*3 > len(csvParts) {
		t.Errorf("%d zipped parts, %d as CSV: the zip does not pay", len(zipParts), len(csvParts))
	}
	seen := map[string]int{}
	for i, msg := range zipParts {
		if len(msg.Raw) > limit {
			t.Errorf("part %d is %d bytes, over %d", i+1, len(msg.Raw), limit)
		}
		_, parts := parse(t, msg.Raw)
		name := fmt.Sprintf("CERT-XX-20261123-0001-part%d.zip", i+1)
		if len(zipParts) == 1 {
			name = "CERT-XX-20261123-0001.zip"
		}
		z, err := zip.NewReader(bytes.NewReader(parts[name]), int64(len(parts[name])))
		if err != nil || len(parts) != 1 {
			t.Fatalf("part %d: %s: %v (attachments %v)", i+1, name, err, keys(parts))
		}
		if len(z.File) != 2 || !strings.HasSuffix(z.File[0].Name, ".csv") || !strings.HasSuffix(z.File[1].Name, ".json") {
			t.Fatalf("part %d: zip holds %v", i+1, z.File)
		}
		f, err := z.File[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		for _, r := range rows[1:] {
			seen[r[1]+":"+r[2]]++
		}
	}
	if len(seen) != len(evs) {
		t.Errorf("%d distinct events in the zips, want %d", len(seen), len(evs))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s in %d parts", k, n)
		}
	}
	t.Logf("30,000 events under %d KB: %d parts as CSV, %d zipped; sizes %d %d %d", limit>>10, len(csvParts), len(zipParts), len(zipParts[0].Raw), len(zipParts[1].Raw), len(csvParts[0].Raw))
}
