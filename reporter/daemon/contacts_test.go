package daemon_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/abuse/rdaptest"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

// cableAnswer is a RIPE-shaped RDAP answer for Cable Oy's /16, the one
// network of the test world that no override names.
func cableAnswer() []byte {
	b := string(rdaptest.Fixture("ripe-ip.json"))
	b = strings.NewReplacer("192.0.2.0 - 192.0.2.255", "100.70.0.0 - 100.70.255.255", `"192.0.2.0"`, `"100.70.0.0"`,
		`"192.0.2.255"`, `"100.70.255.255"`, "Abuse@ISP-One.example", "abuse@cable.example").Replace(b)
	return []byte(b)
}

func waiting(s daemon.Summary) int { return s.Report.Plan.Reasons[reporter.WaitingContact] }

func withRDAP(t *testing.T, w *world, srv *rdaptest.Server, extra string) {
	t.Helper()
	w.reconfigure(t, "report: {backoff: 1m}", fmt.Sprintf("report: {backoff: 1m}\nrdap: {server: %q, timeout: 200ms, max_wait: 6h%s}", srv.URL, extra))
}

// The done-when of RDAP: a banning server does not stall ingest, the events
// wait with their contact pending and go out when the server answers; the
// other owners' reports are not held back meanwhile.
func TestRDAPPendingContacts(t *testing.T) {
	w := setup(t)
	srv := rdaptest.New(t)
	srv.Set("100.70.0.0/16", rdaptest.Answer{Status: 429, RetryAfter: "600", Body: []byte(`{"errorCode":429}`)})
	withRDAP(t, w, srv, "")
	w.drop(t)

	s := w.runOnce(t)
	if s.Ingest.Kept != 8 || s.Ingest.Stored != 8 {
		t.Fatalf("ingest: %+v", s.Ingest)
	}
	c := s.Report.Contacts
	if waiting(s) != 1 || c.Queries != 0 || !strings.Contains(c.Stopped, "circuit open") {
		t.Errorf("first pass: %+v, %d waiting", c, waiting(s))
	}
	got := received(t, w.smtp.Messages())
	if len(got) != 3 || got["soc@cert.example"] != nil {
		t.Errorf("first pass sent to %v; the three ISPs only, Cable Oy's event waits", got)
	}
	if srv.Hits(netip.Addr{}) != 1 {
		t.Errorf("%d RDAP queries; one 429 must stop the pass", srv.Hits(netip.Addr{}))
	}

	// The server answers now; the next pass resolves and sends.
	srv.Set("100.70.0.0/16", rdaptest.Answer{Body: cableAnswer()})
	w.now = w.now.Add(time.Hour)
	s = w.runOnce(t)
	if c := s.Report.Contacts; c.Queries != 1 || waiting(s) != 0 {
		t.Errorf("second pass: %+v, %d waiting", c, waiting(s))
	}
	got = received(t, w.smtp.Messages())
	if fmt.Sprint(got["abuse@cable.example"]) != "[100.70.1.1]" {
		t.Errorf("after RDAP answered: %v", got)
	}
	d := w.open(t, daemon.Options{})
	h, err := d.Store().History(context.Background(), reporter.HistoryQuery{Contact: "abuse@cable.example"})
	if err != nil || len(h) != 1 || !strings.HasPrefix(h[0].Event.Contact.Source, "rdap 100.70.0.0 - 100.70.255.255 100.70.0.0-100.70.255.255 (abuse AR12345-RIPE") {
		t.Fatalf("history: %v %+v", err, h)
	}
	// The answer is cached in the store: a new process answers the whole
	// network without asking.
	hits := srv.Hits(netip.Addr{})
	ct, err := d.Contact(context.Background(), netip.MustParseAddr("100.70.200.1"), 0)
	if err != nil || ct.Key() != "abuse@cable.example" || srv.Hits(netip.Addr{}) != hits {
		t.Errorf("cached answer: %+v %v (%d more queries)", ct, err, srv.Hits(netip.Addr{})-hits)
	}

	// Eight days on the answer has expired and the server is down: a new
	// event of that network goes out at once on the expired answer.
	srv.Set("100.70.0.0/16", rdaptest.Answer{Status: 503, Body: []byte("down")})
	w.now = w.now.Add(8 * 24 * time.Hour)
	p := filepath.Join(w.dir, "spool/ss/2026-12-01-scan_rdp-finland-geo.csv")
	if err := os.WriteFile(p, []byte(strings.SplitN(rdp, "\n", 2)[0]+"\n\"2026-12-01 01:00:00\",\"100.70.2.2\",3389,,\"rdp\",1,\"FI\",,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = w.runOnce(t)
	if c := s.Report.Contacts; c.Stale != 1 || c.Failed != 1 || waiting(s) != 0 {
		t.Errorf("expired answer, server down: %+v", c)
	}
	h, _ = d.Store().History(context.Background(), reporter.HistoryQuery{IP: netip.MustParseAddr("100.70.2.2")})
	if len(h) != 1 || h[0].Report.Contact.Key() != "abuse@cable.example" || !strings.Contains(h[0].Event.Contact.Source, "stale since 2026-11-30") {
		t.Errorf("stale answer in history: %+v", h)
	}
}

// A server that never answers in time costs each pass its timeout, not the
// ingest; after rdap.max_wait the events go to the fallback contact.
func TestRDAPMaxWait(t *testing.T) {
	w := setup(t)
	srv := rdaptest.New(t)
	srv.Set("100.70.0.0/16", rdaptest.Answer{Delay: 5 * time.Second, Body: cableAnswer()})
	withRDAP(t, w, srv, "")
	w.drop(t)
	s := w.runOnce(t)
	if c := s.Report.Contacts; waiting(s) != 1 || c.Failed != 1 {
		t.Errorf("first pass: %+v, %d waiting", c, waiting(s))
	}
	w.now = w.now.Add(7 * time.Hour)
	s = w.runOnce(t)
	if c := s.Report.Contacts; c.Fallback != 1 || waiting(s) != 0 {
		t.Errorf("after max_wait: %+v", c)
	}
	got := received(t, w.smtp.Messages())
	if fmt.Sprint(got["soc@cert.example"]) != "[100.70.1.1]" {
		t.Errorf("fallback after max_wait: %v", got)
	}
	d := w.open(t, daemon.Options{})
	h, _ := d.Store().History(context.Background(), reporter.HistoryQuery{Contact: "soc@cert.example"})
	if len(h) != 1 || h[0].Event.Contact.Source != "fallback (no RDAP answer in 7h0m0s)" || !h[0].Report.Contact.Fallback {
		t.Errorf("history: %+v", h)
	}
}

// Overrides set at run time win over the config and the imports, are
// picked up by a running daemon, can inhibit an owner until a date, and
// can be removed.
func TestOverridesFromStore(t *testing.T) {
	w := setup(t)
	running := w.open(t, daemon.Options{})
	admin := w.open(t, daemon.Options{}) // `contacts set` in another process
	ctx := context.Background()

	if _, err := admin.SetOverride(ctx, abuse.Override{ASN: 64502, Inhibit: true, Until: w.now.Add(24 * time.Hour), By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetOverride(ctx, abuse.Override{CIDR: netip.MustParsePrefix("198.51.100.0/25"), To: []string{"Desk <Desk@ISP-Two.example>"}, Language: "fi"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []abuse.Override{
		{ASN: 1},                    // neither addresses nor inhibit
		{ASN: 1, To: []string{"x"}}, // not an address
		{ASN: 1, To: []string{"a@b.example"}, Language: "svenska"},
	} {
		if _, err := admin.SetOverride(ctx, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	w.drop(t)
	s, err := running.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, w.smtp.Messages())
	if got["abuse@isp-three.example"] != nil {
		t.Errorf("inhibited owner got mail: %v", got["abuse@isp-three.example"])
	}
	if fmt.Sprint(got["desk@isp-two.example"]) != "[198.51.100.5 198.51.100.9]" || got["noc@isp-two.example"] != nil {
		t.Errorf("the /25 override did not win over the config's /24: %v", got)
	}
	if inhibited := s.Report.Plan.Reasons[reporter.Inhibited]; inhibited != 2 {
		t.Errorf("%d events skipped as inhibited, want 2 (203.0.113.4 and .5)", inhibited)
	}

	// Removed: the config's rule answers again.
	if ok, err := admin.UnsetOverride(ctx, "cidr 198.51.100.0/25"); !ok || err != nil {
		t.Fatalf("unset: %v %v", ok, err)
	}
	if _, err := running.Report(ctx, true); err != nil { // a pass
		t.Fatal(err)
	}
	if c, _ := running.Contact(ctx, netip.MustParseAddr("198.51.100.5"), 0); c.Key() != "noc@isp-two.example" {
		t.Errorf("after unset and a pass: %+v", c)
	}
	// The inhibit ends with its date.
	w.now = w.now.Add(25 * time.Hour)
	if c, _ := running.Contact(ctx, netip.MustParseAddr("203.0.113.4"), 0); c.Inhibit != "" || c.Key() != "abuse@isp-three.example" {
		t.Errorf("after the inhibit ended: %+v", c)
	}
}

// A pass asks no more than its budget and the rate limit allow; what is
// left waits for the next pass.
func TestRDAPBudget(t *testing.T) {
	w := setup(t)
	srv := rdaptest.New(t) // knows nothing: every answer is a 404
	withRDAP(t, w, srv, ", rate: 0.001, budget: 200ms")
	p := filepath.Join(w.dir, "spool/ss/2026-11-22-scan_rdp-finland-geo.csv")
	os.MkdirAll(filepath.Dir(p), 0o755)
	rows := strings.SplitN(rdp, "\n", 2)[0] + "\n" +
		"\"2026-11-22 01:00:00\",\"100.70.1.1\",3389,,\"rdp\",1,\"FI\",,\n" +
		"\"2026-11-22 01:00:00\",\"100.70.2.2\",3389,,\"rdp\",1,\"FI\",,\n"
	if err := os.WriteFile(p, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	s := w.runOnce(t)
	c := s.Report.Contacts
	if c.Queries != 1 || waiting(s) != 1 || c.Failed != 0 || !strings.Contains(c.Stopped, "rdap.budget of 200ms spent") {
		t.Errorf("pass: %+v", c)
	}
	if srv.Hits(netip.Addr{}) != 1 {
		t.Errorf("%d queries; the rate limit allows one in the budget", srv.Hits(netip.Addr{}))
	}
	// The 404 is an answer: no abuse contact there, so the fallback.
	if got := received(t, w.smtp.Messages()); fmt.Sprint(got["soc@cert.example"]) != "[100.70.1.1]" {
		t.Errorf("mails: %v", got)
	}
}

// The contact is decided at report time: an inhibit set between ingest and
// the report pass stops the mail, and a corrected address for the same
// rule does not tell the owner again what it was told inside the window.
func TestContactChangedAfterIngest(t *testing.T) {
	w := setup(t)
	running := w.open(t, daemon.Options{})
	admin := w.open(t, daemon.Options{})
	ctx := context.Background()
	w.drop(t)
	if _, _, err := running.IngestAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetOverride(ctx, abuse.Override{ASN: 64502, Inhibit: true, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	// A typo in the config's address for AS64500 is fixed at run time.
	if _, err := admin.SetOverride(ctx, abuse.Override{ASN: 64500, To: []string{"abuse@isp-one.example"}, Language: "fi"}); err != nil {
		t.Fatal(err)
	}
	s, err := running.Report(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, w.smtp.Messages())
	if got["abuse@isp-three.example"] != nil || s.Plan.Reasons[reporter.Inhibited] != 2 {
		t.Errorf("an inhibit set after ingest did not stop the mail: %v, %v", got["abuse@isp-three.example"], s.Plan.Reasons)
	}
	if fmt.Sprint(got["abuse@isp-one.example"]) != fmt.Sprint(want["abuse@isp-one.example"]) {
		t.Fatalf("isp-one: %v", got["abuse@isp-one.example"])
	}
	// The address of the same rule changes; the same hosts are seen again
	// an hour later, inside the 24 h window: nothing is sent again.
	if _, err := admin.SetOverride(ctx, abuse.Override{ASN: 64500, To: []string{"abuse-desk@isp-one.example"}, Language: "fi"}); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	again := strings.ReplaceAll(rdp, "2026-11-22 01:", "2026-11-22 02:")
	if err := os.WriteFile(filepath.Join(w.dir, "spool/ss/2026-11-22-scan_rdp-finland-geo-2.csv"), []byte(again), 0o644); err != nil {
		t.Fatal(err)
	}
	n := len(w.smtp.Messages())
	s2 := w.runOnce(t)
	if len(w.smtp.Messages()) != n {
		t.Errorf("a corrected address re-sent events told an hour ago: %v", received(t, w.smtp.Messages()[n:]))
	}
	if s2.Report.Plan.Reasons[reporter.RepeatWindow] == 0 {
		t.Errorf("no event held back as reported-recently: %v", s2.Report.Plan.Reasons)
	}
}
