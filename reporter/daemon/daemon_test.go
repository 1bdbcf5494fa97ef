package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	nmail "net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/feed/csvfeed"
	"github.com/autoreporter/autoreporter/reporter/feed/ssapi"
	"github.com/autoreporter/autoreporter/reporter/feed/ssapi/ssapitest"
	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
	"github.com/autoreporter/autoreporter/reporter/store/pgtest"
)

const networks = `
192.0.2.0/24      64500  FI FI  ISP One Oy
198.51.100.0/24   64501  SE SE  Hosting AB
203.0.113.0/25    64502  FI FI  ISP Three Oy
203.0.113.128/25  64503  DE FI  Carrier GmbH
100.70.0.0/16     64504  FI FI  Cable Oy
100.64.0.0/16     64510  US US  Elsewhere Inc
2001:db8:1::/48   64500  FI FI  ISP One Oy
2001:db8:9::/48   64510  US US  Elsewhere Inc
`

const configTmpl = `
cert: {name: CERT-XX, from: autoreporter@cert.example, fallback_contact: soc@cert.example, report_prefix: CERT-XX}
constituency: {countries: [FI], country_source: located, asns: [64500], cidrs: [198.51.100.0/24], exclude: [198.51.100.7/32]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
store: {driver: sqlite, dsn: state.db}
mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none, timeout: 10s}}
report: {backoff: 1m}
feeds:
  - {name: shadowserver, format: shadowserver, source: {spool: spool/ss}, repeat: 24h}
  - name: c2
    format: csv
    source: {spool: spool/c2}
    csv: {columns: {ip: dst_ip, time: first_seen_utc, port: dst_port, identifier: malware}, classification: c2-server}
contacts:
  - {asn: 64500, to: [abuse@isp-one.example], language: fi}
  - {cidr: 198.51.100.0/24, to: [noc@isp-two.example]}
  - {asn: 64502, to: ["Abuse <ABUSE@isp-three.example>"]}
`

// Rows: inside for three ISPs and the fallback, outside, excluded, and
// broken. want maps each recipient to the addresses its CSV must hold.
var (
	rdp = `"timestamp","ip","port","hostname","tag","asn","geo","region","city"
"2026-11-22 01:00:00","192.0.2.10",3389,"a.example","rdp",1,"ZZ",,
"2026-11-22 01:00:01","100.64.0.1",3389,,"rdp",64500,"FI",,
"2026-11-22 01:00:02","198.51.100.5",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:03","198.51.100.7",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:04","203.0.113.4",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:05","203.0.113.200",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:06","2001:db8:1::7",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:07","2001:db8:9::7",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:08","999.0.0.1",3389,,"rdp",1,"FI",,
"2026-11-22 01:00:09","100.70.1.1",3389,,"rdp",1,"US",,
`
	sinkhole = `"timestamp","protocol","src_ip","src_port","src_asn","src_geo","dst_ip","dst_port","infection","family","tag","http_host"
"2026-11-22 02:00:00","tcp","192.0.2.11",40000,1,"US","203.0.113.250",80,"andromeda","andromeda","andromeda","c2.example"
"2026-11-22 02:00:01","tcp","100.64.5.5",40001,1,"FI","203.0.113.250",80,"mirai","mirai","mirai","c2.example"
"2026-11-22 02:00:02","tcp","198.51.100.9",40002,1,"US","203.0.113.250",80,"mirai","mirai","mirai","c2.example"
`
	c2 = `first_seen_utc,dst_ip,dst_port,malware
2026-11-20 10:00:00,203.0.113.5,443,QakBot
2026-11-20 10:00:00,100.64.9.9,443,QakBot
not-a-time,203.0.113.6,443,QakBot
`
	want = map[string][]string{
		"abuse@isp-one.example":   {"192.0.2.10", "192.0.2.11", "2001:db8:1::7"},
		"noc@isp-two.example":     {"198.51.100.5", "198.51.100.9"},
		"abuse@isp-three.example": {"203.0.113.4", "203.0.113.5"},
		"soc@cert.example":        {"100.70.1.1"},
	}
)

type world struct {
	dir  string
	cfg  *config.Config
	smtp *smtptest.Server
	now  time.Time
}

func setup(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), smtp: smtptest.Start(t), now: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)}
	nets, err := mmdbgen.Parse(strings.NewReader(networks), "networks")
	if err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteASN(filepath.Join(w.dir, "asn.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteCountry(filepath.Join(w.dir, "country.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(w.dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(configTmpl, w.smtp.Host, w.smtp.Port)), 0o644)
	if w.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) drop(t *testing.T) {
	t.Helper()
	for name, body := range map[string]string{
		"spool/ss/2026-11-22-scan_rdp-finland-geo.csv":             rdp,
		"spool/ss/2026-11-22-event4_sinkhole_http-finland-geo.csv": sinkhole,
		"spool/c2/c2.csv": c2,
	} {
		p := filepath.Join(w.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// open starts a daemon on the world's config and clock, closed when the
// test ends.
func (w *world) open(t *testing.T, opt daemon.Options) *daemon.Daemon {
	t.Helper()
	if opt.Now == nil {
		opt.Now = func() time.Time { return w.now }
	}
	d, err := daemon.New(context.Background(), w.cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// reconfigure replaces the config file with the test config edited by
// replacing old with new, and loads it.
func (w *world) reconfigure(t *testing.T, old, new string) {
	t.Helper()
	src := strings.Replace(fmt.Sprintf(configTmpl, w.smtp.Host, w.smtp.Port), old, new, 1)
	path := filepath.Join(w.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
}

func (w *world) runOnce(t *testing.T) daemon.Summary {
	t.Helper()
	d := w.open(t, daemon.Options{})
	defer d.Close()
	s, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received parses what the SMTP server got: recipient -> addresses in its CSV.
func received(t *testing.T, msgs []smtptest.Message) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range msgs {
		msg, err := nmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("unreadable mail: %v", err)
		}
		if len(m.To) != 1 {
			t.Errorf("envelope recipients %v", m.To)
		}
		hdrTo, _ := msg.Header.AddressList("To")
		if len(hdrTo) != 1 || hdrTo[0].Address != m.To[0] {
			t.Errorf("To header %v does not match envelope %v", hdrTo, m.To)
		}
		if !strings.HasPrefix(msg.Header.Get("Subject"), "[CERT-XX#2026112") {
			t.Errorf("subject %q", msg.Header.Get("Subject"))
		}
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// Named after the report: CERT-XX-20261123-0001.csv.
			if !strings.HasPrefix(p.FileName(), "CERT-XX-2026") || !strings.HasSuffix(p.FileName(), ".csv") {
				continue
			}
			rows, err := csv.NewReader(decode(t, p)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows[1:] {
				out[m.To[0]] = append(out[m.To[0]], r[1])
			}
		}
		sort.Strings(out[m.To[0]])
	}
	return out
}

func decode(t *testing.T, p *multipart.Part) io.Reader {
	b, _ := io.ReadAll(p)
	if p.Header.Get("Content-Transfer-Encoding") == "base64" {
		dec, err := decodeBase64(b)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(dec)
	}
	return bytes.NewReader(b)
}

func TestEndToEnd(t *testing.T) {
	w := setup(t)
	w.drop(t)
	s := w.runOnce(t)

	if s.Ingest.Rejected != 2 || s.Ingest.Kept != 8 || s.Ingest.Outside != 6 || s.Ingest.Rows != 16 {
		t.Errorf("ingest stats %+v", s.Ingest)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != len(want) {
		t.Fatalf("%d mails, want one per contact (%d)", len(msgs), len(want))
	}
	got := received(t, msgs)
	for to, ips := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("%s got %v, want %v", to, got[to], ips)
		}
	}
	// The spool folders were emptied into done/.
	if left, _ := filepath.Glob(filepath.Join(w.dir, "spool/ss/*.csv")); len(left) != 0 {
		t.Errorf("files left in spool: %v", left)
	}
	if done, _ := filepath.Glob(filepath.Join(w.dir, "spool/ss/done/*.csv")); len(done) != 2 {
		t.Errorf("done/: %v", done)
	}

	// The same files again, an hour later: nothing new is sent.
	w.now = w.now.Add(time.Hour)
	w.drop(t)
	s = w.runOnce(t)
	if n := len(w.smtp.Messages()); n != len(want) {
		t.Errorf("second run sent %d more mail(s)", n-len(want))
	}
	if s.Ingest.Stored != 0 {
		t.Errorf("second run stored %d events", s.Ingest.Stored)
	}

	// History knows what went where.
	d := w.open(t, daemon.Options{})
	h, err := d.Store().History(context.Background(), reporter.HistoryQuery{Contact: "noc@isp-two.example"})
	if err != nil || len(h) != 2 || h[0].Report.State != reporter.ReportSent {
		t.Errorf("history: %v %+v", err, h)
	}
	l, err := d.Lookup(context.Background(), netip.MustParseAddr("198.51.100.7"))
	if err != nil || l.Decision.In || l.InTable || !strings.Contains(strings.Join(l.Decision.Reasons, ";"), "excluded") {
		t.Errorf("lookup of the excluded address: %+v %v", l, err)
	}
}

func TestRepeatWindowExpires(t *testing.T) {
	w := setup(t)
	w.drop(t)
	w.runOnce(t)
	first := len(w.smtp.Messages())
	if first != len(want) {
		t.Fatalf("first run: %d mails", first)
	}
	// Same problems seen again two days later: the 24 h window has passed
	// for the Shadowserver feed, so they are reported again.
	w.now = w.now.Add(48 * time.Hour)
	for _, f := range []string{"2026-11-22-scan_rdp-finland-geo.csv", "2026-11-22-event4_sinkhole_http-finland-geo.csv"} {
		body := map[string]string{"2026-11-22-scan_rdp-finland-geo.csv": rdp, "2026-11-22-event4_sinkhole_http-finland-geo.csv": sinkhole}[f]
		body = strings.ReplaceAll(body, "2026-11-22 0", "2026-11-24 0")
		os.WriteFile(filepath.Join(w.dir, "spool/ss", f), []byte(body), 0o644)
	}
	w.runOnce(t)
	got := received(t, w.smtp.Messages()[first:])
	for to, ips := range want {
		if to == "abuse@isp-three.example" {
			ips = ips[:1] // its c2 event was not seen again
		}
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("after the window %s got %v, want %v", to, got[to], ips)
		}
	}
}

func TestFailedSendIsRetried(t *testing.T) {
	w := setup(t)
	w.drop(t)
	w.smtp.FailNext(100)
	s := w.runOnce(t)
	if s.Report.Deliver.Failed != len(want) || len(w.smtp.Messages()) != 0 {
		t.Fatalf("deliveries: %+v, %d received", s.Report.Deliver, len(w.smtp.Messages()))
	}
	// Before the backoff has passed nothing is tried.
	w.smtp.FailNext(0)
	w.now = w.now.Add(30 * time.Second)
	if s := w.runOnce(t); s.Report.Deliver.Sent != 0 {
		t.Errorf("retried before the backoff: %+v", s.Report.Deliver)
	}
	w.now = w.now.Add(2 * time.Minute)
	s = w.runOnce(t)
	if s.Report.Deliver.Sent != len(want) {
		t.Errorf("retry: %+v", s.Report.Deliver)
	}
	got := received(t, w.smtp.Messages())
	for to, ips := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("%s got %v, want %v", to, got[to], ips)
		}
	}
}

func TestSchemaFallback(t *testing.T) {
	w := setup(t)
	w.cfg.Feeds[0].Schema = filepath.Join(w.dir, "missing-reports.json")
	w.drop(t)
	var logs bytes.Buffer
	d := w.open(t, daemon.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	s, err := d.RunOnce(context.Background())
	if err != nil || s.Ingest.Kept != 8 {
		t.Fatalf("run without schema: %v %+v", err, s.Ingest)
	}
	if !strings.Contains(logs.String(), "schema unavailable") {
		t.Errorf("no warning about the missing schema:\n%s", logs.String())
	}
}

// A URL feed with an ETag is fetched once, then answered 304, also after a
// restart (a new daemon on the same store).
func TestURLFeedConditionalGet(t *testing.T) {
	var full, conditional atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Auth-Key") != "k3y" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.Header.Get("If-None-Match") == `"c2-v1"` {
			conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"c2-v1"`)
		io.WriteString(w, c2)
	}))
	defer srv.Close()
	w := setup(t)
	t.Setenv("TEST_AUTH_KEY", "k3y")
	w.reconfigure(t, "source: {spool: spool/c2}",
		`source: {url: "`+srv.URL+`/feeds/ipblocklist.csv", headers: {Auth-Key: "${TEST_AUTH_KEY}"}, retries: 0}`)
	for run := 1; run <= 3; run++ { // each run is a fresh daemon: a restart
		s := w.runOnce(t)
		if run == 1 && (s.Ingest.Kept != 1 || s.Ingest.Rejected != 1) {
			t.Errorf("run 1 ingest: %+v", s.Ingest)
		}
		if run > 1 && len(s.Files) != 0 { // unchanged: nothing found, nothing read
			t.Errorf("run %d: %+v", run, s.Files)
		}
		w.now = w.now.Add(time.Hour)
	}
	if full.Load() != 1 || conditional.Load() != 2 {
		t.Errorf("full fetches %d, conditional %d; want 1 and 2", full.Load(), conditional.Load())
	}
	got := received(t, w.smtp.Messages())
	if fmt.Sprint(got["abuse@isp-three.example"]) != "[203.0.113.5]" || len(got) != 1 {
		t.Errorf("mails: %v", got)
	}
	states, err := daemon.FeedStates(context.Background(), w.cfg, w.open(t, daemon.Options{}).Store())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.Feed == "c2" && (st.ETag != `"c2-v1"` || st.Rows != 3 || st.Rejected != 1 || st.LastSuccess.IsZero() || st.LastError != "") {
			t.Errorf("c2 state: %+v", st)
		}
	}
}

func TestBlocklistFeed(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "contacts:",
		"  - {name: drop, format: blocklist, source: {spool: spool/drop}, blocklist: {identifier: spamhaus-drop}}\n"+
			"  - {name: feodo, format: json, source: {spool: spool/feodo}, json: {fields: {ip: ip_address, port: port, identifier: malware}, classification: c2-server}}\ncontacts:")
	os.MkdirAll(filepath.Join(w.dir, "spool/drop"), 0o755)
	os.WriteFile(filepath.Join(w.dir, "spool/drop/drop.txt"), []byte("; DROP\n192.0.2.128/25 ; SBL1\n100.64.0.0/16 ; SBL2\n"), 0o644)
	os.MkdirAll(filepath.Join(w.dir, "spool/feodo"), 0o755)
	os.WriteFile(filepath.Join(w.dir, "spool/feodo/ipblocklist.json"), []byte(`[{"ip_address": "203.0.113.7", "port": 443, "malware": "QakBot"}, {"ip_address": "100.64.3.3", "port": 443, "malware": "QakBot"}]`), 0o644)
	s := w.runOnce(t)
	if s.Ingest.Kept != 2 || s.Ingest.Outside != 2 {
		t.Fatalf("ingest %+v", s.Ingest)
	}
	got := received(t, w.smtp.Messages())
	if fmt.Sprint(got) != "map[abuse@isp-one.example:[192.0.2.128] abuse@isp-three.example:[203.0.113.7]]" {
		t.Errorf("mails: %v", got)
	}
}

func TestShadowserverAPI(t *testing.T) {
	listed := func(id, day, typ string, body string) ssapitest.Report {
		return ssapitest.Report{Listed: ssapi.Listed{ID: id, Type: typ, Report: "finland", Timestamp: day,
			File: day + "-" + typ + "-finland-geo.csv"}, Body: []byte(body)}
	}
	srv := ssapitest.New("the-key", "the-secret",
		listed("r1", "2026-11-22", "scan_rdp", rdp),
		listed("r2", "2026-11-22", "event4_sinkhole_http", sinkhole),
		listed("r0", "2026-11-10", "scan_rdp", rdp), // outside the window
	)
	defer srv.Close()
	srv.SetStatus("r2", http.StatusBadGateway)
	w := setup(t)
	t.Setenv("TEST_SS_KEY", "the-key")
	t.Setenv("TEST_SS_SECRET", "the-secret")
	w.reconfigure(t, "source: {spool: spool/ss}", `source: {retries: 0, shadowserver_api: {key: "${TEST_SS_KEY}", secret: "${TEST_SS_SECRET}", days: 3, reports: [finland], url: "`+srv.API()+`", download_url: "`+srv.Download()+`"}}`)

	// Run 1: r1 is ingested, r2 fails to download and is not marked.
	s := w.runOnce(t)
	if s.Ingest.Kept != 5 || len(s.Files) != 2 {
		t.Errorf("run 1: %+v %+v", s.Ingest, s.Files)
	}
	if err := s.Files[1].Err; err == nil || !strings.Contains(err.Error(), "502") || strings.Contains(err.Error(), "the-secret") {
		t.Errorf("failed download: %v", err)
	}
	if got := srv.LastList()["date"]; got != "2026-11-21:2026-11-23" {
		t.Errorf("window: %v", got)
	}
	// Run 2, a restart: r2 now answers and is the only download.
	srv.SetStatus("r2", 0)
	w.now = w.now.Add(time.Hour)
	s = w.runOnce(t)
	if len(s.Files) != 1 || s.Files[0].File != "2026-11-22-event4_sinkhole_http-finland-geo.csv" || s.Files[0].Err != nil || s.Ingest.Kept != 2 {
		t.Errorf("run 2: %+v %+v", s.Ingest, s.Files)
	}
	// Run 3: nothing new is listed, nothing is downloaded.
	w.now = w.now.Add(time.Hour)
	if s = w.runOnce(t); len(s.Files) != 0 {
		t.Errorf("run 3 fetched again: %+v", s.Files)
	}
	if d := srv.Downloads(); d["r1"] != 1 || d["r2"] != 1 || d["r0"] != 0 {
		t.Errorf("downloads: %v", d)
	}
	if srv.Lists() != 3 {
		t.Errorf("lists: %d", srv.Lists())
	}
	got := received(t, w.smtp.Messages())
	for _, to := range []string{"abuse@isp-one.example", "noc@isp-two.example"} {
		if len(got[to]) == 0 {
			t.Errorf("no mail to %s: %v", to, got)
		}
	}
	states, err := daemon.FeedStates(context.Background(), w.cfg, w.open(t, daemon.Options{}).Store())
	if err != nil {
		t.Fatal(err)
	}
	if st := states[0]; st.Feed != "shadowserver" || st.LastError != "" || st.LastSuccess.IsZero() {
		t.Errorf("state: %+v", st)
	}
}

// Every csv preset the config accepts is one the parser knows, and the
// abuse.ch layouts go end to end.
func TestPresetFeeds(t *testing.T) {
	w := setup(t)
	var feeds strings.Builder
	for _, p := range csvfeed.Presets() {
		fmt.Fprintf(&feeds, "  - {name: %s, format: %s, source: {spool: spool/%s}}\n", p, p, p)
	}
	w.reconfigure(t, "contacts:", feeds.String()+"contacts:")
	files := map[string]string{
		"feodo/ipblocklist.csv": "# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n" +
			"\"2026-11-19 10:00:00\",\"203.0.113.7\",\"443\",\"online\",\"2026-11-22\",\"QakBot\"\n",
		"threatfox/recent.csv": "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n" +
			"\"2026-11-20 10:00:00\", \"1\", \"192.0.2.80:8443\", \"ip:port\", \"botnet_cc\", \"win.cobalt_strike\", \"BEACON,CobaltStrike\", \"Cobalt Strike\", \"\", \"100\", \"None\", \"c2\", \"0\", \"x\"\n",
		"urlhaus/csv_recent.txt": "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n" +
			"\"1\",\"2026-11-22 08:00:00\",\"http://198.51.100.44:8080/i\",\"online\",\"\",\"malware_download\",\"elf\",\"https://urlhaus.abuse.ch/url/1/\",\"x\"\n" +
			"\"2\",\"2026-11-22 08:00:00\",\"http://dropper.example/i\",\"online\",\"\",\"malware_download\",\"elf\",\"https://urlhaus.abuse.ch/url/2/\",\"x\"\n",
	}
	for name, body := range files {
		p := filepath.Join(w.dir, "spool", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	s := w.runOnce(t)
	if s.Ingest.Kept != 3 || s.Ingest.NoAddress != 1 || s.Ingest.Rejected != 0 {
		t.Fatalf("ingest %+v", s.Ingest)
	}
	got := received(t, w.smtp.Messages())
	if fmt.Sprint(got) != "map[abuse@isp-one.example:[192.0.2.80] abuse@isp-three.example:[203.0.113.7] noc@isp-two.example:[198.51.100.44]]" {
		t.Errorf("mails: %v", got)
	}
}

// The done-when of hot reload: the .mmdb files are replaced under a running
// daemon, its answers change, and no lookup fails meanwhile.
func TestGeoReloadUnderRunningDaemon(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "geo: {asn_db: asn.mmdb, country_db: country.mmdb}", "geo: {asn_db: asn.mmdb, country_db: country.mmdb, reload: 10ms}")
	d := w.open(t, daemon.Options{Now: time.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	ip := netip.MustParseAddr("192.0.2.10")
	before, err := d.Lookup(ctx, ip)
	if err != nil || before.Info.ASN != 64500 || !before.Decision.In {
		t.Fatalf("before: %+v %v", before, err)
	}
	nets, _ := mmdbgen.Parse(strings.NewReader(strings.Replace(networks, "192.0.2.0/24      64500  FI FI  ISP One Oy", "192.0.2.0/24 64999 SE SE Moved AB", 1)), "v2")
	if err := mmdbgen.WriteASN(filepath.Join(w.dir, "asn.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteCountry(filepath.Join(w.dir, "country.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	var lookups, failed int
	var after daemon.Lookup
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		l, err := d.Lookup(ctx, ip)
		lookups++
		if err != nil {
			failed++
			continue
		}
		// The two files are replaced one after the other, as geoipupdate
		// does: a reload may see the new ASN file with the old country one.
		if l.Info.ASN == 64999 && l.Info.Country == "SE" {
			after = l
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if failed != 0 || after.Info.ASN != 64999 || after.Info.Country != "SE" || after.Decision.In || after.InTable {
		t.Errorf("%d of %d lookups failed; after the swap: %+v", failed, lookups, after)
	}
}

// An import made by another process (`contacts import`) is picked up by a
// running daemon at its next ingest pass.
func TestRIPEImportPickedUp(t *testing.T) {
	w := setup(t)
	running := w.open(t, daemon.Options{})
	ip := netip.MustParseAddr("100.64.200.1")
	if l, _ := running.Lookup(context.Background(), ip); l.Contact.Source != "fallback" {
		t.Fatalf("before the import: %+v", l.Contact)
	}
	res, err := w.open(t, daemon.Options{}).ImportRIPE(context.Background(), "../../abuse/ripe/testdata/dumps")
	if err != nil || res.Previous != nil || res.Diff.Added != 8 {
		t.Fatalf("import: %+v %v", res.Diff, err)
	}
	if _, err := running.IngestFeed(context.Background(), w.cfg.Feeds[0]); err != nil {
		t.Fatal(err)
	}
	l, _ := running.Lookup(context.Background(), ip)
	if l.Contact.Key() != "abuse@sahko.example" || !strings.HasPrefix(l.Contact.Source, "ripe inetnum 100.64.0.0 - 100.64.255.255") {
		t.Errorf("after the import: %+v", l.Contact)
	}
}

// run does one pass at start: with hourly schedules, a file already in the
// spool is ingested and mailed within seconds, not an hour later; ingest
// goes before the report, so the mail carries the file's events.
func TestRunPassAtStart(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1m, schedule: \"@hourly\"}")
	for i := range w.cfg.Feeds {
		w.cfg.Feeds[i].Schedule = "@hourly"
	}
	w.drop(t)
	d := w.open(t, daemon.Options{Now: time.Now, Settle: true})
	// The files have sat in the spool for a while: settled.
	old := time.Now().Add(-time.Minute)
	filepath.WalkDir(filepath.Join(w.dir, "spool"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	for time.Since(start) < 10*time.Second && len(w.smtp.Messages()) < len(want) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := received(t, w.smtp.Messages())
	if len(got) != len(want) {
		t.Fatalf("after %s: mails to %v, want %d recipients", time.Since(start).Round(time.Millisecond), got, len(want))
	}
	for to, ips := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("%s got %v, want %v", to, got[to], ips)
		}
	}
}

// Rows dated years ago are not mailed as news: feeds[].max_age closes them
// as too-old, and the summary says how many.
func TestMaxAge(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "source: {spool: spool/ss}, repeat: 24h}", "source: {spool: spool/ss}, repeat: 24h, max_age: 3d}")
	w.drop(t)
	old := strings.SplitN(rdp, "\n", 2)[0] + "\n" +
		"\"2019-09-04 15:45:51\",\"192.0.2.99\",3389,,\"rdp\",1,\"FI\",,\n" +
		"\"2026-11-20 07:00:00\",\"192.0.2.98\",3389,,\"rdp\",1,\"FI\",,\n" // 2 days 23 h: kept
	if err := os.WriteFile(filepath.Join(w.dir, "spool/ss/2026-11-22-scan_rdp-old.csv"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s := w.runOnce(t)
	if n := s.Report.Plan.Reasons[reporter.TooOld]; n != 1 {
		t.Errorf("%d events too old, want 1 (%v)", n, s.Report.Plan.Reasons)
	}
	got := received(t, w.smtp.Messages())
	if fmt.Sprint(got["abuse@isp-one.example"]) != "[192.0.2.10 192.0.2.11 192.0.2.98 2001:db8:1::7]" {
		t.Errorf("isp-one got %v", got["abuse@isp-one.example"])
	}
}

// /metrics counts what a pass did; /healthz answers; /readyz says why not
// ready (a feed failing longer than http.feed_failing).
func TestHTTPEndpoints(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1m}\nhttp: {listen: \"127.0.0.1:0\", feed_failing: 1h, max_backlog: 100}")
	w.drop(t)
	d := w.open(t, daemon.Options{})
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	for _, want := range []string{
		`autoreporter_rows_total{feed="shadowserver",outcome="kept"} 7`,
		`autoreporter_rows_total{feed="shadowserver",outcome="outside"} 5`,
		`autoreporter_rows_total{feed="c2",outcome="kept"} 1`,
		`autoreporter_rows_total{feed="c2",outcome="rejected"} 1`,
		`autoreporter_events_stored_total{feed="shadowserver"} 7`,
		`autoreporter_rows_rejected_total{feed="c2",reason="time: timestamp is in no known format"} 1`,
		`autoreporter_reports_created_total 4`,
		`autoreporter_deliveries_total{result="sent"} 4`,
		`autoreporter_events_decided_total{reason="send"} 8`,
		`autoreporter_backlog_events 0`,
		`autoreporter_reports_unsent 0`,
		`autoreporter_geo_database_age_seconds`,
		`autoreporter_send_seconds_count 4`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
	// The c2 feed has failed for two hours.
	st := reporter.FeedState{Feed: "c2", LastError: "HTTP 503", LastErrorAt: w.now.Add(-2 * time.Hour), LastAttempt: w.now}
	if err := d.Store().SaveFeedState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	code, body = get("/readyz")
	if code != 503 || !strings.Contains(body, `"ready":false`) || !strings.Contains(body, `"name":"feed c2","ok":false,"detail":"failing since 2026-11-23T04:00:00Z: HTTP 503"`) {
		t.Errorf("/readyz with a failing feed: %d %s", code, body)
	}
}

// A gzipped Shadowserver report is classified by its type, and the plain
// copy that follows is not mailed again. A report type nobody knows is
// held back, never mailed as "undetermined"; once the schema knows it, the
// next pass classifies and sends its events.
func TestReportTypesThroughCompressionAndSchema(t *testing.T) {
	w := setup(t)
	spool := filepath.Join(w.dir, "spool", "ss")
	os.MkdirAll(spool, 0o755)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(rdp))
	zw.Close()
	os.WriteFile(filepath.Join(spool, "2026-11-22-scan_rdp-sweden-geo.csv.gz"), gz.Bytes(), 0o644)
	unknown := "timestamp,src_ip,src_port,infection\n2026-11-22 03:00:00,192.0.2.77,5555,newbot\n"
	os.WriteFile(filepath.Join(spool, "2026-11-22-event4_newthing-finland-geo.csv"), []byte(unknown), 0o644)
	s := w.runOnce(t)
	if s.Report.Plan.Reasons[reporter.Unclassified] != 1 {
		t.Errorf("the unknown type's event was not held: %v", s.Report.Plan.Reasons)
	}
	msgs := w.smtp.Messages()
	for _, m := range msgs {
		if bytes.Contains(m.Data, []byte("undetermined")) {
			t.Errorf("a mail says undetermined:\n%s", m.Data)
		}
	}
	got := received(t, msgs)
	if fmt.Sprint(got["abuse@isp-one.example"]) != "[192.0.2.10 2001:db8:1::7]" {
		t.Fatalf("the gzipped report: %v", got)
	}
	if !bytes.Contains(msgs[0].Data, []byte("vulnerable-system")) {
		t.Errorf("the gzipped report was not classified by its type:\n%s", msgs[0].Data)
	}
	// The plain copy of the same report: the same keys, nothing new to tell.
	os.WriteFile(filepath.Join(spool, "2026-11-22-scan_rdp-sweden-geo.csv"), []byte(rdp), 0o644)
	w.runOnce(t)
	if n := len(w.smtp.Messages()); n != len(msgs) {
		t.Errorf("the plain copy sent %d more mails", n-len(msgs))
	}
	// A schema that knows the type: the held event is classified and sent.
	schema := filepath.Join(w.dir, "reports.json")
	os.WriteFile(schema, []byte(`{"event4_newthing": {"name": "event4_newthing", "classification.taxonomy": "malicious-code",
		"classification.type": "infected-system", "fields": ["timestamp", "src_ip", "src_port", "infection"]}}`), 0o644)
	w.reconfigure(t, "source: {spool: spool/ss}, repeat: 24h}", "source: {spool: spool/ss}, repeat: 24h, schema: reports.json}")
	s = w.runOnce(t)
	if s.Report.Plan.Reasons[reporter.Unclassified] != 0 || len(s.Report.Plan.Reports) != 1 {
		t.Fatalf("after the schema: %v %+v", s.Report.Plan.Reasons, s.Report.Plan.Reports)
	}
	last := w.smtp.Messages()[len(w.smtp.Messages())-1]
	if !bytes.Contains(last.Data, []byte("infected-system")) || !bytes.Contains(last.Data, []byte("newbot")) {
		t.Errorf("the classified event's mail:\n%s", last.Data)
	}
}

// A stop lets the job under way finish within shutdown_grace: every mail
// of the pass leaves and is recorded, and a restart sends nothing again.
// Past the grace the job is cut short, Run says so, and a restart sends
// what is left, each Message-ID once but for the mail that was on the wire.
func TestStopWithinAndPastGrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace string
		cut   bool
	}{{"within", "10s", false}, {"past", "100ms", true}} {
		t.Run(tt.name, func(t *testing.T) {
			w := setup(t)
			w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1m}\nshutdown_grace: "+tt.grace)
			w.drop(t)
			w.smtp.Delay(300 * time.Millisecond)
			d := w.open(t, daemon.Options{Now: time.Now})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- d.Run(ctx) }()
			for len(w.smtp.Messages()) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			cancel() // SIGTERM with three mails to go
			err := <-done
			if tt.cut != (err != nil) || (err != nil && !strings.Contains(err.Error(), `job "report" was cut short`)) {
				t.Fatalf("Run: %v", err)
			}
			if !tt.cut && len(w.smtp.Messages()) != len(want) {
				t.Errorf("%d mails within the grace, want all %d", len(w.smtp.Messages()), len(want))
			}
			w.smtp.Delay(0)
			if _, err := w.open(t, daemon.Options{Now: time.Now}).RunOnce(context.Background()); err != nil { // the restart
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, m := range w.smtp.Messages() {
				msg, _ := nmail.ReadMessage(bytes.NewReader(m.Data))
				seen[msg.Header.Get("Message-Id")]++
			}
			twice := 0
			for _, n := range seen {
				if n > 1 {
					twice++
				}
			}
			if len(seen) != len(want) || twice > 1 || (!tt.cut && twice > 0) {
				t.Errorf("after the restart: %d Message-IDs, %d delivered twice: %v", len(seen), twice, seen)
			}
		})
	}
}

// With hourly schedules, a spool file that was still being written at a
// pass is taken once it has settled, and a mail that failed is sent again
// after report.backoff: neither waits for the next hour.
func TestWakeBeforeTheSchedule(t *testing.T) {
	for _, tt := range []struct {
		name    string
		settled bool // the files sat in the spool before the start
		fail    int  // sends that fail first
	}{{"unsettled file", false, 0}, {"failed send", true, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			w := setup(t)
			w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1s, schedule: \"@hourly\"}")
			for i := range w.cfg.Feeds {
				w.cfg.Feeds[i].Schedule = "@hourly"
				w.cfg.Feeds[i].Settle = config.DurationOf(1500 * time.Millisecond)
			}
			w.drop(t)
			if tt.settled {
				old := time.Now().Add(-time.Minute)
				filepath.WalkDir(filepath.Join(w.dir, "spool"), func(p string, e os.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						os.Chtimes(p, old, old)
					}
					return nil
				})
			}
			w.smtp.FailNext(tt.fail)
			d := w.open(t, daemon.Options{Now: time.Now, Settle: true})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			start := time.Now()
			go func() { done <- d.Run(ctx) }()
			// Either way the mails go out within seconds: a file still
			// being written at start belongs to the start pass, whose
			// report follows the file once it settles.
			reached := func() bool { return len(w.smtp.Messages()) == len(want) }
			for time.Since(start) < 15*time.Second && !reached() {
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !reached() {
				t.Fatalf("after %s: not done; it must not wait for the hour (%d mails)", time.Since(start).Round(time.Millisecond), len(w.smtp.Messages()))
			}
		})
	}
}

// A report too large for one mail goes out in parts under mail.max_size,
// each a whole mail with its own CSV, every event in exactly one part, all
// in one thread. A send that fails after the first part resumes at the
// second: no part is sent twice.
func TestReportInParts(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "report: {backoff: 1m}", "report: {backoff: 1s}")
	w.cfg.Mail.MaxBytes = 64 << 10
	var b strings.Builder
	b.WriteString(strings.SplitN(rdp, "\n", 2)[0] + "\n")
	n := 0
	for i := 0; i < 8; i++ {
		for j := 1; j < 255; j++ {
			fmt.Fprintf(&b, "\"2026-11-22 01:%02d:00\",\"192.0.2.%d\",%d,\"host-%d-%d.example.fi\",\"rdp\",1,\"FI\",,\n", i, j, 3389+i, i, j)
			n++
		}
	}
	os.MkdirAll(filepath.Join(w.dir, "spool/ss"), 0o755)
	os.WriteFile(filepath.Join(w.dir, "spool/ss/2026-11-22-scan_rdp-big.csv"), []byte(b.String()), 0o644)
	w.smtp.FailNext(0)
	d := w.open(t, daemon.Options{})
	// The relay fails the second mail: part 1 left, part 2 did not.
	w.smtp.FailAt(2)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour) // past the backoff
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := w.smtp.Messages()
	seen := map[string]int{}
	ids := map[string]bool{}
	var parts int
	for _, m := range msgs {
		if len(m.Data) > 64<<10 {
			t.Errorf("a mail of %d bytes, over mail.max_size", len(m.Data))
		}
		msg, _ := nmail.ReadMessage(bytes.NewReader(m.Data))
		if ids[msg.Header.Get("Message-Id")] {
			t.Errorf("%s sent twice", msg.Header.Get("Message-Id"))
		}
		ids[msg.Header.Get("Message-Id")] = true
		subj := msg.Header.Get("Subject")
		if !strings.Contains(subj, " of ") {
			t.Fatalf("subject %q", subj)
		}
		parts++
		if !strings.Contains(msg.Header.Get("References"), "<thread.") {
			t.Errorf("not in the thread: %q", msg.Header.Get("References"))
		}
	}
	got := received(t, msgs)
	for _, ip := range got["abuse@isp-one.example"] {
		seen[ip]++
	}
	total := 0
	for _, c := range seen {
		total += c
	}
	if total != n {
		t.Errorf("%d events in %d parts, want each of %d once", total, parts, n)
	}
	if parts < 3 {
		t.Errorf("%d parts; 2,032 events do not fit 64 KB in fewer than 3", parts)
	}
}

// A strict relay (RFC 5321 envelope) that refuses one of two recipients:
// the other gets the mail and the report records the refusal. A relay that
// cannot be reached ends the pass's sending at the first report.
func TestRelayFaults(t *testing.T) {
	w := setup(t)
	srv := smtptest.StartStrict(t, smtptest.Faults{Refuse: map[string]bool{"gone@isp-one.example": true}})
	w.reconfigure(t, fmt.Sprintf("mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none, timeout: 10s}}", w.smtp.Host, w.smtp.Port),
		fmt.Sprintf("mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none, timeout: 10s}}", srv.Host, srv.Port))
	w.reconfigure(t, "- {asn: 64500, to: [abuse@isp-one.example], language: fi}", "- {asn: 64500, to: [abuse@isp-one.example, gone@isp-one.example], language: fi}")
	w.cfg.Mail.SMTP.Host, w.cfg.Mail.SMTP.Port = srv.Host, srv.Port
	w.drop(t)
	s := w.runOnce(t)
	if s.Report.Deliver.Sent != 4 || len(srv.Malformed()) > 0 {
		t.Fatalf("sent %+v; malformed commands %v", s.Report.Deliver, srv.Malformed())
	}
	d := w.open(t, daemon.Options{})
	h, err := d.Store().History(context.Background(), reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.10")})
	if err != nil || len(h) != 1 || h[0].Report.State != reporter.ReportSent || !strings.Contains(h[0].Report.LastError, "gone@isp-one.example: 550") {
		t.Errorf("history: %v %+v", err, h)
	}
	// The relay goes away: one report costs an attempt, the rest wait.
	w.cfg.Mail.SMTP.Port = 1
	w.now = w.now.Add(48 * time.Hour)
	os.WriteFile(filepath.Join(w.dir, "spool/ss/2026-11-25-scan_rdp.csv"), []byte(strings.ReplaceAll(rdp, "2026-11-22", "2026-11-25")), 0o644)
	s = w.runOnce(t)
	if s.Report.Deliver.Failed != 1 || s.Report.Unsent != len(s.Report.Plan.Reports) || s.Report.Unsent < 3 {
		t.Errorf("with the relay down: %+v, %d unsent; one attempt, then the pass stops", s.Report.Deliver, s.Report.Unsent)
	}
}

// The whole path on PostgreSQL: changing store.driver and store.dsn is
// all it takes.
func TestEndToEndPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	w := setup(t)
	w.reconfigure(t, "store: {driver: sqlite, dsn: state.db}", fmt.Sprintf("store: {driver: postgres, dsn: %q}", dsn))
	w.drop(t)
	s := w.runOnce(t)
	if s.Ingest.Kept != 8 || len(s.Report.Plan.Reports) != 4 || s.Report.Deliver.Sent != 4 {
		t.Fatalf("run: %+v %+v", s.Ingest, s.Report.Deliver)
	}
	got := received(t, w.smtp.Messages())
	for to, ips := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("%s got %v, want %v", to, got[to], ips)
		}
	}
	// Again: nothing new to tell.
	w.drop(t)
	if s := w.runOnce(t); s.Report.Deliver.Sent != 0 || s.Ingest.Stored != 0 {
		t.Errorf("second run: %+v %+v", s.Ingest, s.Report.Deliver)
	}
	h, err := w.open(t, daemon.Options{}).Store().History(context.Background(), reporter.HistoryQuery{CIDR: netip.MustParsePrefix("192.0.2.0/24")})
	if err != nil || len(h) != 2 {
		t.Errorf("history on PostgreSQL: %v %d", err, len(h))
	}
}

// TestRetention: past store.retention, a purge removes the reports that
// were sent and their events, and says so; a dry run counts the same.
func TestRetention(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "store: {driver: sqlite, dsn: state.db}", "store: {driver: sqlite, dsn: state.db, retention: 2d, purge_batch: 2}")
	w.drop(t)
	s := w.runOnce(t)
	if len(s.Report.Plan.Reports) != len(want) {
		t.Fatalf("%d reports", len(s.Report.Plan.Reports))
	}
	stored := s.Ingest.Stored
	ctx := context.Background()
	d := w.open(t, daemon.Options{})
	if res, err := d.Purge(ctx, false); err != nil || res.Removed.Reports+res.Removed.Events != 0 {
		t.Fatalf("a purge the day the reports were sent: %+v (%v)", res.Removed, err)
	}
	w.now = w.now.Add(72 * time.Hour)
	d = w.open(t, daemon.Options{})
	dry, err := d.Purge(ctx, true)
	if err != nil || dry.Removed.Reports != len(want) || dry.Removed.Events != stored || !dry.Before.Equal(w.now.Add(-48*time.Hour)) {
		t.Fatalf("dry run: %+v (%v), want %d reports and %d events before %v", dry, err, len(want), stored, w.now.Add(-48*time.Hour))
	}
	if h, err := d.Store().History(ctx, reporter.HistoryQuery{}); err != nil || len(h) != stored {
		t.Fatalf("a dry run removed something: %d rows (%v)", len(h), err)
	}
	res, err := d.Purge(ctx, false)
	if err != nil || !res.Done || res.Removed.Reports != dry.Removed.Reports || res.Removed.Events != dry.Removed.Events {
		t.Fatalf("purge: %+v (%v), want what the dry run counted: %+v", res, err, dry.Removed)
	}
	if res.Batches < stored/2 {
		t.Errorf("%d batches of at most 2 rows removed %d events", res.Batches, stored)
	}
	if h, err := d.Store().History(ctx, reporter.HistoryQuery{}); err != nil || len(h) != 0 {
		t.Errorf("history after the purge: %d rows (%v)", len(h), err)
	}
}

// TestRetentionOff: without store.retention nothing is purged, and the
// purge says why.
func TestRetentionOff(t *testing.T) {
	w := setup(t)
	d := w.open(t, daemon.Options{})
	if _, err := d.Purge(context.Background(), false); !errors.Is(err, daemon.ErrNoRetention) || !strings.Contains(err.Error(), "store.retention") {
		t.Errorf("purge without retention: %v", err)
	}
}

// What an owner asks of its mails with contacts set (a display name, a
// cap on events per mail) applies at once, and outlives the process that
// set it: it is in the store.
func TestStoredOverrideMailPrefs(t *testing.T) {
	w := setup(t)
	w.drop(t)
	d := w.open(t, daemon.Options{})
	if _, err := d.SetOverride(context.Background(), abuse.Override{ASN: 64500, To: []string{"Abuse Desk <Abuse@ISP-one.example>"},
		MaxEvents: 1, By: "test", Set: w.now}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	s := w.runOnce(t) // a new process: the preferences come from the store
	if s.Report.Deliver.Failed != 0 {
		t.Fatalf("%+v", s.Report.Deliver)
	}
	parts := 0
	for _, m := range w.smtp.Messages() {
		if m.To[0] != "abuse@isp-one.example" {
			continue
		}
		parts++
		msg, _ := nmail.ReadMessage(bytes.NewReader(m.Data))
		if got := msg.Header.Get("To"); got != `"Abuse Desk" <abuse@isp-one.example>` {
			t.Errorf("To: %q", got)
		}
		if !strings.Contains(msg.Header.Get("Subject"), " of 3)") {
			t.Errorf("subject %q: not one part of three", msg.Header.Get("Subject"))
		}
	}
	if parts != 3 {
		t.Errorf("%d mails to isp-one, want 3: one event each", parts)
	}
}

// mail.smtp.connections sends that many reports at once over connections
// of their own: the same mails, each once.
func TestSendOverSeveralConnections(t *testing.T) {
	w := setup(t)
	w.reconfigure(t, "tls: none, timeout: 10s}}", "tls: none, timeout: 10s, connections: 3}}")
	if w.cfg.Mail.SMTP.Connections != 3 {
		t.Fatalf("connections %d", w.cfg.Mail.SMTP.Connections)
	}
	w.drop(t)
	s := w.runOnce(t)
	if s.Report.Deliver.Sent != len(want) || s.Report.Deliver.Failed != 0 {
		t.Fatalf("%+v", s.Report.Deliver)
	}
	got := received(t, w.smtp.Messages())
	for to, ips := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ips) {
			t.Errorf("%s got %v, want %v", to, got[to], ips)
		}
	}
	if len(w.smtp.Messages()) != len(want) {
		t.Errorf("%d mails, want %d", len(w.smtp.Messages()), len(want))
	}
}

// A spool entry the daemon leaves alone (a dot-file, a symlink) is named
// in the log once, not at every pass.
func TestSkippedSpoolEntryLoggedOnce(t *testing.T) {
	w := setup(t)
	w.drop(t)
	os.WriteFile(filepath.Join(w.dir, "spool/ss/.hidden.csv"), []byte("x"), 0o644)
	os.Symlink("/etc/hostname", filepath.Join(w.dir, "spool/ss/link.csv"))
	var log bytes.Buffer
	d := w.open(t, daemon.Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
	for range 3 {
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{".hidden.csv", "link.csv"} {
		if n := strings.Count(log.String(), name); n != 1 {
			t.Errorf("%s named %d times in three passes, want once:\n%s", name, n, log.String())
		}
	}
}
