package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/autoreporter/autoreporter/abuse/rdaptest"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

const cfg = `
cert: {name: CERT-T, from: ar@cert.example, fallback_contact: soc@cert.example}
constituency: {countries: [FI], exclude: [192.0.2.7]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
feeds:
  - {name: ss, format: shadowserver, source: {spool: spool}}
contacts:
  - {asn: 64500, to: [abuse@isp.example]}
`

func setup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	nets, _ := mmdbgen.Parse(strings.NewReader("192.0.2.0/24 64500 FI FI ISP Oy\n198.51.100.0/24 64501 US US Other Inc\n"), "n")
	if err := mmdbgen.WriteASN(filepath.Join(dir, "asn.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	mmdbgen.WriteCountry(filepath.Join(dir, "country.mmdb"), nets)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.MkdirAll(filepath.Join(dir, "spool"), 0o755)
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv"), []byte(
		"timestamp,ip,port,tag\n2026-11-22 01:00:00,192.0.2.1,23,telnet\n2026-11-22 01:00:00,192.0.2.7,23,telnet\n2026-11-22 01:00:00,198.51.100.1,23,telnet\n2026-11-22 01:00:00,1.2.3.999,23,telnet\n"), 0o644)
	return dir
}

func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunOnceAndHistory(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	code, out, errs := cli("run", "--once", "--config", c)
	if code != 0 {
		t.Fatalf("run --once: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"4 read, 1 kept", "2 outside, 1 rejected", "rejected 1: ip: not an IP address\n",
		"mails:   1 written to " + filepath.Join(dir, "var/outbox")} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "var/outbox/*.eml")); len(m) != 1 {
		t.Errorf("outbox: %v", m)
	}
	code, out, _ = cli("feeds", "--config", c)
	if code != 0 || !strings.Contains(out, "ss  ") || !strings.Contains(out, "4     1") {
		t.Errorf("feeds: %d\n%s", code, out)
	}
	code, out, _ = cli("history", "--config", c, "--asn", "AS64500")
	if code != 0 || !strings.Contains(out, "192.0.2.1 ") || !strings.Contains(out, "abuse@isp.example") {
		t.Errorf("history: %d\n%s", code, out)
	}
	code, out, _ = cli("rejects", "--config", c, "--feed", "ss")
	if code != 0 || !strings.Contains(out, "2026-11-22-scan_telnet-x.csv  5 ") || !strings.Contains(out, `"2026-11-22 01:00:00,1.2.3.999,23,telnet"`) {
		t.Errorf("rejects: %d\n%s", code, out)
	}
	code, out, _ = cli("rejects", "--config", c, "--summary", "--json")
	if code != 0 || !strings.Contains(out, `"reason":"ip: not an IP address","rows":1`) {
		t.Errorf("rejects --summary: %d\n%s", code, out)
	}
	code, out, errs = cli("rejects", "--config", c, "--feed", "other")
	if code != 0 || out != "STORED  FEED  FILE  LINE  REASON  RAW\n" || !strings.Contains(errs, "no rejected rows") {
		t.Errorf("rejects of a feed with none: %d %q %q", code, out, errs)
	}
	code, out, _ = cli("history", "--config", c, "--json", "--ip", "198.51.100.1")
	if code != 0 || out != "" {
		t.Errorf("history of an address never reported: %d %q", code, out)
	}

	// Paging: one row at a time, each page's stderr says how to go on,
	// and the pages together are the whole listing.
	_, whole, _ := cli("history", "--config", c, "--json")
	var paged []string
	pages := 0
	args := []string{"history", "--config", c, "--json", "--limit", "1"}
	for range 20 {
		pages++
		code, out, errs = cli(args...)
		if code != 0 {
			t.Fatalf("history page: %d %s", code, errs)
		}
		paged = append(paged, strings.SplitAfter(out, "\n")...)
		_, next, ok := strings.Cut(errs, "add --before ")
		if !ok {
			break
		}
		args = []string{"history", "--config", c, "--json", "--limit", "1", "--before", strings.TrimSpace(next)}
	}
	if got := strings.Join(paged, ""); got != whole || whole == "" || pages != strings.Count(whole, "\n")+1 {
		t.Errorf("pages of one row:\n%s\nwant the whole listing:\n%s", got, whole)
	}
	for _, bad := range [][]string{{"--before", "x"}, {"--before", "3"}, {"--limit", "0"}} {
		if code, _, errs := cli(append([]string{"history", "--config", c}, bad...)...); code != 2 {
			t.Errorf("history %v: exit %d, want 2 (%s)", bad, code, errs)
		}
	}
}

func TestLookup(t *testing.T) {
	c := filepath.Join(setup(t), "config.yaml")
	code, out, _ := cli("lookup", "--config", c, "192.0.2.7", "192.0.2.1")
	if code != 0 {
		t.Fatal(out)
	}
	for _, want := range []string{"excluded by 192.0.2.7/32", "no: not reported", "yes: reported", "AS64500 ISP Oy", "override asn 64500"} {
		if !strings.Contains(out, want) {
			t.Errorf("lookup output lacks %q:\n%s", want, out)
		}
	}
	// Unknown is "-", never "AS0" or "located: located".
	code, out, _ = cli("lookup", "--config", c, "10.1.1.1", "192.0.2.1")
	if code != 0 || !strings.Contains(out, "no rule matches (located in -, registered in -, ASN -)") || strings.Contains(out, "AS0") ||
		!strings.Contains(out, "country matches (country_source located; located in FI, registered in FI)") {
		t.Errorf("lookup of unknowns:\n%s", out)
	}
	if code, _, errs := cli("lookup", "--config", c, "nope"); code != 1 || !strings.Contains(errs, `"nope"`) {
		t.Errorf("bad address: %d %s", code, errs)
	}
}

func TestErrorsAndUsage(t *testing.T) {
	if code, _, _ := cli("frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--config", "x.yaml", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"report", "now"}, 2, `unexpected argument "now"`},
		{[]string{"feeds", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"lookup"}, 2, "missing arguments"},
		{[]string{"run", "-h"}, 0, "Usage: autoreporter run [--once | --job NAME [--wait]]"},
		{[]string{"status", "-h"}, 0, "Usage: autoreporter status [--json]"},
		{[]string{"ingest", "-h"}, 0, "Example:\n  autoreporter ingest --feed shadowserver"},
		{[]string{"history", "-h"}, 0, "--config defaults to $AUTOREPORTER_CONFIG, or ./config.yaml"},
		{[]string{"contacts", "-h"}, 0, "import ripe DIR"},
		{[]string{"contacts", "set", "-h"}, 0, "Usage: autoreporter contacts set CIDR|ASN"},
		{[]string{"contacts", "frob"}, 2, `unknown subcommand "frob"`},
		{[]string{"resend"}, 2, "name the reports (REF...) or --failed-since"},
	} {
		code, out, errs := cli(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("%v: exit %d, want %d; output lacks %q:\n%s%s", tt.args, code, tt.code, tt.want, out, errs)
		}
	}
	if code, out, _ := cli("--help"); code != 0 || !strings.Contains(out, "check-config") {
		t.Errorf("help: %d", code)
	}
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(strings.Replace(cfg, "countries: [FI]", "countries: [FI], asns: [x]", 1)), 0o644)
	code, _, errs := cli("check-config", "--config", c)
	if code != 1 || !strings.Contains(errs, `constituency.asns[0]: "x" is not an AS number`) {
		t.Errorf("check-config: %d %s", code, errs)
	}
}

func TestContacts(t *testing.T) {
	c := filepath.Join(setup(t), "config.yaml")
	dumps := filepath.Join("..", "..", "abuse", "ripe", "testdata", "dumps")
	code, out, errs := cli("contacts", "import", "ripe", dumps, "--config", c)
	if code != 0 || !strings.Contains(out, "kept:    8 ranges (5 with an abuse contact") || !strings.Contains(out, "changes: first import") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = cli("contacts", "import", "ripe", dumps, "--config", c)
	if code != 0 || !strings.Contains(out, "changes: 0 ranges added, 0 removed, 0 with a changed mailbox, 8 unchanged") {
		t.Errorf("re-import: %d\n%s", code, out)
	}
	code, out, _ = cli("contacts", "lookup", "--config", c, "192.0.2.9", "100.64.200.1", "AS64501", "203.0.113.1")
	for _, want := range []string{
		"192.0.2.9     abuse@isp.example",
		"override asn 64500",
		"100.64.200.1  abuse@sahko.example",
		"ripe inetnum 100.64.0.0 - 100.64.255.255 (abuse-c AR3-RIPE)",
		"AS64501       abuse@kaapeli.example, noc@kaapeli.example  ripe aut-num AS64501 (abuse-c AR2-RIPE)",
		"203.0.113.1   soc@cert.example",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("contacts lookup lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli("contacts", "list", "--config", c)
	if code != 0 || !strings.Contains(out, "asn 64500") || !strings.Contains(out, "RIPE: 8 ranges (5 with an abuse contact)") {
		t.Errorf("contacts list: %d\n%s", code, out)
	}
	// Outside the constituency lookup says nothing is reported (contacts
	// lookup above says where reports would go).
	code, out, _ = cli("lookup", "--config", c, "100.64.200.1")
	if code != 0 || !strings.Contains(out, "contact        - (outside the constituency: nothing is reported)") {
		t.Errorf("lookup outside the constituency: %d\n%s", code, out)
	}
	if code, _, errs := cli("contacts", "import", "ripe", t.TempDir(), "--config", c); code != 1 || !strings.Contains(errs, "ripe.db.role.gz is missing") {
		t.Errorf("empty folder: %d %s", code, errs)
	}
	if code, _, errs := cli("contacts", "lookup", "--config", c, "nonsense"); code != 1 || !strings.Contains(errs, `"nonsense" is neither`) {
		t.Errorf("bad query: %d %s", code, errs)
	}
}

func TestLookupDelegatedStats(t *testing.T) {
	dir := setup(t)
	os.WriteFile(filepath.Join(dir, "delegated-ripencc-latest"), []byte("2|ripencc|20261122|2|19830705|20261122|+0100\n"+
		"ripencc|FI|ipv4|198.51.100.0|256|20100101|allocated\nripencc|US|asn|64501|1|20100101|allocated\n"), 0o644)
	c := filepath.Join(dir, "config.yaml")
	src, _ := os.ReadFile(c)
	os.WriteFile(c, []byte(strings.Replace(string(src), "exclude: [192.0.2.7]", "exclude: [192.0.2.7], delegated: delegated-ripencc-latest", 1)), 0o644)
	code, out, errs := cli("lookup", "--config", c, "198.51.100.1")
	if code != 0 || !strings.Contains(out, "yes: reported") || !strings.Contains(out, "registered to the constituency in the RIR's delegated stats") {
		t.Errorf("lookup: %d\n%s\n%s", code, out, errs)
	}
	os.Remove(filepath.Join(dir, "delegated-ripencc-latest"))
	if code, _, errs := cli("lookup", "--config", c, "198.51.100.1"); code != 1 || !strings.Contains(errs, "constituency.delegated") {
		t.Errorf("missing file: %d %s", code, errs)
	}
}

func TestContactsSetUnset(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	code, out, errs := cli("contacts", "set", "192.0.2.0/25", "--to", `"Abuse Desk, NOC" <Desk@ISP.example>,noc@isp.example`, "--lang", "fi",
		"--format", "inline", "--note", "ticket 42", "--by", "alice", "--max-events", "500", "--sign", "none", "--config", c)
	if code != 0 || !strings.Contains(out, "set override cidr 192.0.2.0/25: to desk@isp.example, noc@isp.example; language fi, format inline, "+
		"at most 500 events a mail, signed none, desk@isp.example as \"Abuse Desk, NOC\", note \"ticket 42\"") {
		t.Fatalf("set: %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli("contacts", "set", "AS64500", "--inhibit", "--until", "30d", "--config", c)
	if code != 0 || !strings.Contains(out, "set override asn 64500: no addresses; inhibited (events kept, nothing sent), until 20") {
		t.Fatalf("set inhibit: %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli("contacts", "lookup", "--config", c, "192.0.2.1", "192.0.2.200")
	for _, want := range []string{
		"192.0.2.1    desk@isp.example, noc@isp.example  override cidr 192.0.2.0/25 (set by alice 20",
		// The store's ASN rule comes before the config's for the same ASN.
		"192.0.2.200  -                                  override asn 64500 (set",
		"inhibited by override asn 64500 until 20",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("lookup lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli("contacts", "list", "--config", c)
	for _, want := range []string{"cidr 192.0.2.0/25", "contacts set by alice", "asn 64500", "config", "RDAP: off"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	// 192.0.2.1 is under the /25 (the most specific rule wins over the
	// inhibited ASN): one mail, inline.
	code, out, _ = cli("run", "--once", "--config", c)
	if code != 0 || !strings.Contains(out, "mails:   1 written") {
		t.Errorf("run: %d\n%s", code, out)
	}
	mails, _ := filepath.Glob(filepath.Join(dir, "var", "outbox", "*.eml"))
	if len(mails) != 1 {
		t.Fatalf("outbox: %v", mails)
	}
	raw, _ := os.ReadFile(mails[0])
	if !bytes.Contains(raw, []byte("----- begin CERT-T-2026")) || bytes.Contains(raw, []byte("filename=")) {
		t.Errorf("the override's inline format was not used:\n%s", raw)
	}
	// The display name set with the override is in the To header.
	if !bytes.Contains(raw, []byte(`To: "Abuse Desk, NOC" <desk@isp.example>, <noc@isp.example>`)) {
		t.Errorf("the display name was not kept:\n%s", raw)
	}
	// An event of the inhibited ASN outside the /25 is kept, not sent.
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-23-scan_telnet-x.csv"), []byte("timestamp,ip,port,tag\n2026-11-23 01:00:00,192.0.2.200,23,telnet\n"), 0o644)
	code, out, _ = cli("run", "--once", "--config", c)
	if code != 0 || !strings.Contains(out, "mails:   0 written") || !strings.Contains(out, "1 inhibited") {
		t.Errorf("run with the owner inhibited: %d\n%s", code, out)
	}
	code, out, _ = cli("contacts", "unset", "AS64500", "--config", c)
	if code != 0 || !strings.Contains(out, "removed override asn 64500") {
		t.Errorf("unset: %d %s", code, out)
	}
	code, out, _ = cli("contacts", "lookup", "--config", c, "192.0.2.200")
	if code != 0 || !strings.Contains(out, "abuse@isp.example  override asn 64500") || strings.Contains(out, "inhibited") {
		t.Errorf("after unset the config's rule answers: %s", out)
	}
	for _, bad := range [][]string{
		{"contacts", "unset", "AS64500"},        // nothing set any more
		{"contacts", "set", "AS1"},              // no --to, no --inhibit
		{"contacts", "set", "AS1", "--to", "x"}, // not an address
		{"contacts", "set", "AS1", "--inhibit", "--until", "2001-01-01"},
		{"contacts", "set", "AS1", "--inhibit", "--format", "pdf"},
		{"contacts", "set", "nonsense", "--inhibit"},
	} {
		if code, _, errs := cli(append(bad, "--config", c)...); code != 1 || errs == "" {
			t.Errorf("%v: %d %q", bad, code, errs)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"contacts", "set", "AS1", "--to", "ok@isp.example,not-an-email"}, `--to: "not-an-email" is not an email address`},
		{[]string{"contacts", "set", "10.0.0.1/8", "--inhibit"}, "10.0.0.1/8 has host bits set: its network is 10.0.0.0/8"},
		{[]string{"contacts", "set", "AS1", "--to", "a@isp.example", "--lang", "xx"}, `--lang: language "xx" has no template; there are: en, fi`},
		{[]string{"contacts", "set", "AS1", "--to", "a@isp.example", "--sign", "pgp-mime"}, "--sign: pgp-mime: no key loaded for the signing method"},
		{[]string{"contacts", "set", "AS1", "--to", "a@isp.example", "--sign", "rot13"}, `--sign: `},
		{[]string{"contacts", "set", "AS1", "--to", "a@isp.example", "--max-events", "-1"}, "--max-events: -1 is negative"},
	} {
		if code, out, errs := cli(append(tt.args, "--config", c)...); code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: %d %q %q, want %q", tt.args, code, out, errs, tt.want)
		}
	}
}

func TestRDAPFromTheCLI(t *testing.T) {
	dir := setup(t)
	srv := rdaptest.New(t)
	srv.Set("192.0.2.0/24", rdaptest.Answer{Status: 503, Body: []byte("maintenance")})
	c := filepath.Join(dir, "config.yaml")
	// No override: 192.0.2.1 is RDAP's to answer.
	conf := strings.Replace(cfg, "contacts:\n  - {asn: 64500, to: [abuse@isp.example]}\n", "rdap: {server: "+srv.URL+", timeout: 10s}\n", 1)
	os.WriteFile(c, []byte(conf), 0o644)

	code, out, errs := cli("run", "--once", "--config", c)
	if code != 0 || !strings.Contains(out, "mails:   0 written") || !strings.Contains(out, "held:    1 event waits for a later pass (1 waiting-for-contact)") ||
		!strings.Contains(out, "rdap:    0 queries, 1 failed") {
		t.Fatalf("first run: %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli("contacts", "pending", "--config", c)
	if code != 0 || !strings.Contains(out, "192.0.2.1  64500  1") || !strings.Contains(out, "1 address(es) wait for RDAP; RDAP: "+srv.URL+", 0 networks cached") {
		t.Errorf("pending: %d\n%s", code, out)
	}
	srv.Set("192.0.2.0/24", rdaptest.Answer{Body: rdaptest.Fixture("ripe-ip.json")})
	code, out, _ = cli("run", "--once", "--config", c)
	if code != 0 || !strings.Contains(out, "mails:   1 written") || !strings.Contains(out, "rdap:    1 query, 0 failed") ||
		!strings.Contains(out, "backlog: 0 events held, 0 reports waiting") {
		t.Errorf("second run: %d\n%s", code, out)
	}
	code, out, _ = cli("lookup", "--config", c, "192.0.2.99")
	if code != 0 || !strings.Contains(out, "contact         abuse@isp-one.example") ||
		!strings.Contains(out, "contact source  rdap 192.0.2.0 - 192.0.2.255 192.0.2.0-192.0.2.255 (abuse AR12345-RIPE") {
		t.Errorf("lookup: %d\n%s", code, out)
	}
	if srv.Hits(netip.Addr{}) != 2 {
		t.Errorf("%d RDAP queries; the cache in the store answers the lookup", srv.Hits(netip.Addr{}))
	}
}

func TestIngestErrors(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	code, out, errs := cli("ingest", "--feed", "nope", "--config", c, filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv"))
	if code != 2 || out != "" || !strings.Contains(errs, `no feed named "nope"`) || !strings.Contains(errs, "the feeds are: ss") {
		t.Errorf("unknown feed: %d %q %q", code, out, errs)
	}
	code, out, errs = cli("ingest", "--feed", "ss", "--config", c, filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv"), filepath.Join(dir, "missing.csv"))
	if code != 3 || !strings.Contains(out, "2026-11-22-scan_telnet-x.csv: 4 rows, 1 kept") || !strings.Contains(errs, "missing.csv") {
		t.Errorf("one file of two missing: exit %d (want 3)\n%s%s", code, out, errs)
	}
}

// A report that failed does not silence the owner: its hosts are reported
// again when they are seen again, and resend sends the failed one.
func TestFailedReportAndResend(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	// Nothing listens on port 1: every send fails, and one attempt is all.
	os.WriteFile(c, []byte(cfg+"mail: {mode: smtp, smtp: {host: 127.0.0.1, port: 1, tls: none, timeout: 2s}}\nreport: {max_attempts: 1}\n"), 0o644)
	code, out, _ := cli("run", "--once", "--config", c)
	if code != 3 || !strings.Contains(out, "mails:   0 sent, 1 failed (gave up after report.max_attempts; autoreporter resend sends them again)") {
		t.Fatalf("run with a dead relay: exit %d (want 3)\n%s", code, out)
	}
	// The relay works again (the outbox stands for it); the host is seen again.
	os.WriteFile(c, []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-23-scan_telnet-x.csv"), []byte("timestamp,ip,port,tag\n2026-11-23 01:00:00,192.0.2.1,23,telnet\n"), 0o644)
	code, out, _ = cli("run", "--once", "--config", c)
	if code != 0 || !strings.Contains(out, "reports: 1 report created for 1 event") || !strings.Contains(out, "mails:   1 written") {
		t.Errorf("a failed report held back the owner's next one: %d\n%s", code, out)
	}
	code, out, errs := cli("resend", "--failed-since", "1d", "--config", c)
	if code != 0 || !strings.Contains(out, "requeued CERT-T#") || !strings.Contains(out, "mails:   1 written to") {
		t.Errorf("resend: %d\n%s%s", code, out, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "var/outbox/*.eml")); len(m) != 2 {
		t.Errorf("outbox after resend: %v", m)
	}
	code, _, errs = cli("resend", "CERT-T#20000101-0001", "--config", c)
	if code != 1 || !strings.Contains(errs, "no report CERT-T#20000101-0001") {
		t.Errorf("resend of an unknown ref: %d %s", code, errs)
	}
}

// feeds counts every file, not only the last; re-ingesting a file keeps its
// rejected rows once.
func TestFeedTotalsAndRejectsOnce(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	f := filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv")
	for i := 0; i < 2; i++ {
		if code, out, errs := cli("ingest", "--feed", "ss", "--config", c, f); code != 0 {
			t.Fatalf("ingest: %d %s%s", code, out, errs)
		}
	}
	code, out, _ := cli("rejects", "--summary", "--json", "--config", c)
	if code != 0 || !strings.Contains(out, `"rows":1`) {
		t.Errorf("rejects counted twice: %s", out)
	}
	if code, out, _ = cli("run", "--once", "--config", c); code != 0 {
		t.Fatal(out)
	}
	code, out, _ = cli("feeds", "--config", c)
	// The two ingests and the run's file count.
	if code != 0 || !regexp.MustCompile(`ss\s+shadowserver\s+\S+spool\s+20\S+\s+3\s+12\s+3\s+0\s+-`).MatchString(out) {
		t.Errorf("feeds: %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-23-scan_telnet-x.csv.gz"), []byte("not gzip"), 0o644)
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-23-scan_ssh-x.csv"), []byte("timestamp,ip\n2026-11-22 01:00:00,192.0.2.3\n"), 0o644)
	if code, out, _ = cli("run", "--once", "--config", c); code != 3 {
		t.Errorf("a failed file: exit %d, want 3\n%s", code, out)
	}
	code, out, _ = cli("feeds", "--config", c)
	if code != 0 || !regexp.MustCompile(`ss\s+shadowserver\s+\S+spool\s+20\S+\s+4\s+13\s+3\s+0\s+20\S+Z "2026-11-23-scan_telnet-x.csv.gz: name says compressed`).MatchString(out) ||
		strings.Count(out, "2026-11-23-scan_telnet-x.csv.gz") != 1 {
		t.Errorf("feeds after a failed file: %d\n%s", code, out)
	}
}

// TestMain lets a test run this binary as a subprocess: with
// AUTOREPORTER_TEST_MAIN=1 the test binary is autoreporter.
func TestMain(m *testing.M) {
	if os.Getenv("AUTOREPORTER_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Two run --once at once on one SQLite file and one spool: neither breaks
// (migrations, claims, planning), and every event is reported once.
func TestTwoProcessesOneStore(t *testing.T) {
	for round := 0; round < 4; round++ {
		dir := setup(t)
		c := filepath.Join(dir, "config.yaml")
		for i := 0; i < 20; i++ {
			// Rows outside the constituency make each file take a while.
			body := fmt.Sprintf("timestamp,ip,port\n2026-11-22 01:00:00,192.0.2.%d,22\n", 100+i) +
				strings.Repeat("2026-11-22 01:00:00,198.51.100.1,22\n", 20000)
			os.WriteFile(filepath.Join(dir, "spool", fmt.Sprintf("2026-11-22-scan_ssh-%02d.csv", i)), []byte(body), 0o644)
		}
		var wg sync.WaitGroup
		outs := make([]string, 2)
		codes := make([]int, 2)
		for p := 0; p < 2; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "run", "--once", "--config", c)
				cmd.Env = append(os.Environ(), "AUTOREPORTER_TEST_MAIN=1")
				out, err := cmd.CombinedOutput()
				outs[p] = string(out)
				if ee, ok := err.(*exec.ExitError); ok {
					codes[p] = ee.ExitCode()
				} else if err != nil {
					codes[p] = -1
				}
			}(p)
		}
		wg.Wait()
		for p := range outs {
			if codes[p] != 0 {
				t.Fatalf("round %d, process %d exited %d:\n%s", round, p, codes[p], outs[p])
			}
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "spool", "processing")); len(left) != 0 {
			t.Errorf("round %d: files left in processing/: %v", round, left)
		}
		code, out, _ := cli("history", "--config", c, "--json")
		if code != 0 || strings.Count(out, "\n") != 21 { // 20 ssh hosts and the telnet one
			t.Errorf("round %d: %d events reported, want 21 once each:\n%s\n--- 1:\n%s\n--- 2:\n%s", round, strings.Count(out, "\n"), out, outs[0], outs[1])
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "var/outbox/*.eml")); len(m) < 1 || len(m) > 2 {
			t.Errorf("round %d: %d mails", round, len(m))
		}
	}
}

// check-config makes nothing: a spool folder or a store that is not there
// yet is checked where it would be made, and left unmade.
func TestCheckConfigMakesNothing(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(strings.Replace(cfg, "source: {spool: spool}", "source: {spool: typo/spool}", 1)+"store: {dsn: db/state.db}\n"), 0o644)
	code, out, errs := cli("check-config", "--config", c)
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Fatalf("check-config: %d %s %s", code, out, errs)
	}
	for _, p := range []string{"typo", "db"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("check-config made %s", p)
		}
	}
}

// TestPurgeCommand: purge says what it removed, or would; without
// store.retention it refuses and says which key to set.
func TestPurgeCommand(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	if code, out, errs := cli("run", "--once", "--config", c); code != 0 {
		t.Fatalf("run --once: %d\n%s%s", code, out, errs)
	}
	code, _, errs := cli("purge", "--config", c)
	if code != 1 || !strings.Contains(errs, "store.retention is not set") || !strings.Contains(errs, c) {
		t.Errorf("purge without retention: exit %d\n%s", code, errs)
	}
	os.WriteFile(c, []byte(cfg+"store: {retention: 400d, purge_batch: 100}\n"), 0o644)
	code, out, errs := cli("purge", "--dry-run", "--config", c)
	if code != 0 || !strings.Contains(out, "would remove what is older than") || !strings.Contains(out, "0 sent reports and 0 events") {
		t.Errorf("purge --dry-run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli("purge", "--config", c)
	if code != 0 || !strings.Contains(out, "removed what is older than") || !strings.Contains(out, "(store.retention 400d)") ||
		!strings.Contains(out, "0 rejected rows, 0 fetched-file records, 0 expired RDAP answers") || !strings.Contains(out, "of at most 100 rows") {
		t.Errorf("purge: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := cli("history", "--config", c); code != 0 || !strings.Contains(out, "192.0.2.1") {
		t.Errorf("a purge removed this year's report: %d\n%s", code, out)
	}
	// The daemon's job, run now: recorded for status like the others.
	code, out, errs = cli("run", "--job", "purge", "--config", c)
	if code != 0 || !strings.Contains(out, "removed what is older than") || !strings.Contains(out, "job:     purge idle") {
		t.Errorf("run --job purge: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli("status", "--config", c); code != 0 || !strings.Contains(out, "purge") {
		t.Errorf("status does not list the purge job: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli("purge", "-h"); code != 0 || !strings.Contains(out+errs, "Example:\n  autoreporter purge --dry-run") {
		t.Errorf("purge -h: %d\n%s%s", code, out, errs)
	}
}

// report --preview prints the exact mail a report now would send to one
// address, and changes nothing: the report pass after it sends that mail.
func TestReportPreview(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	if code, _, errs := cli("ingest", "--feed", "ss", "--config", c, filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv")); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := cli("report", "--config", c, "--preview", "Abuse@ISP.example")
	if code != 0 {
		t.Fatalf("preview: %d %s", code, errs)
	}
	for _, want := range []string{"To: <abuse@isp.example>", "Subject: [CERT-T#", "-preview1] AS64500 ISP Oy: 1 event", "CERT-T-", "-preview1.csv"} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "1 event to abuse@isp.example") {
		t.Errorf("preview stderr: %s", errs)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "var/outbox/*.eml")); len(m) != 0 {
		t.Errorf("the preview wrote to the outbox: %v", m)
	}
	// Into a folder, as .eml files.
	outDir := filepath.Join(dir, "preview")
	if code, out, errs := cli("report", "--config", c, "--preview", "abuse@isp.example", "--out", outDir); code != 0 || !strings.Contains(out, "preview-1.eml") {
		t.Fatalf("preview --out: %d %s %s", code, out, errs)
	}
	if b, err := os.ReadFile(filepath.Join(outDir, "preview-1.eml")); err != nil || !strings.Contains(string(b), "192.0.2.1") {
		t.Errorf("preview file: %v", err)
	}
	// Nobody else gets anything.
	if code, out, errs := cli("report", "--config", c, "--preview", "noc@elsewhere.example"); code != 0 || out != "" || !strings.Contains(errs, "no report would go to noc@elsewhere.example") {
		t.Errorf("preview for another: %d %q %q", code, out, errs)
	}
	// Nothing changed: the real pass sends the event.
	if code, out, errs := cli("report", "--config", c); code != 0 || !strings.Contains(out, "created  abuse@isp.example  1 event") {
		t.Errorf("report after preview: %d\n%s\n%s", code, out, errs)
	}
	for _, bad := range [][]string{{"--preview", "x y"}, {"--out", "d"}, {"--preview", "a@b.example", "--dry-run"}} {
		if code, _, errs := cli(append([]string{"report", "--config", c}, bad...)...); code != 2 {
			t.Errorf("report %v: exit %d, want 2 (%s)", bad, code, errs)
		}
	}
}

// ingest takes a gzipped Shadowserver report from the command line as the
// spool does: unpacked, and classified by the report type in its name.
func TestIngestGzipFromTheCLI(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	gz := filepath.Join(dir, "2026-11-22-scan_rdp-finland-geo.csv.gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte("timestamp,ip,port,hostname,tag\n2026-11-22 01:00:00,192.0.2.5,3389,,rdp\n"))
	zw.Close()
	os.WriteFile(gz, b.Bytes(), 0o644)
	code, out, errs := cli("ingest", "--feed", "ss", "--config", c, gz)
	if code != 0 || !strings.Contains(out, "1 kept") {
		t.Fatalf("ingest .csv.gz: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli("report", "--config", c); code != 0 || !strings.Contains(out, "created  abuse@isp.example  1 event") {
		t.Fatalf("report: %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli("history", "--config", c, "--json", "--ip", "192.0.2.5")
	if code != 0 || !strings.Contains(out, `"classification":"vulnerable-system"`) || !strings.Contains(out, `"identifier":"rdp"`) {
		t.Errorf("the .csv.gz's events are not classified as scan_rdp: %s", out)
	}
}

// check-config, run as the operator runs it, fails on files that would
// mail the wrong people, naming the key: a schema file that is not there,
// and a Country database given as the ASN database.
func TestCheckConfigFiles(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(strings.Replace(cfg, "format: shadowserver,", "format: shadowserver, schema: nowhere/reports.json,", 1)), 0o644)
	code, _, errs := cli("check-config", "--config", c)
	if code != 1 || !strings.Contains(errs, "feeds[0].schema") || !strings.Contains(errs, "nowhere/reports.json") {
		t.Errorf("missing schema: %d %s", code, errs)
	}
	os.WriteFile(c, []byte(strings.Replace(cfg, "asn_db: asn.mmdb", "asn_db: country.mmdb", 1)), 0o644)
	code, _, errs = cli("check-config", "--config", c)
	if code != 1 || !strings.Contains(errs, "geo.asn_db") || !strings.Contains(errs, "Country") {
		t.Errorf("country database as asn_db: %d %s", code, errs)
	}
}

// An address the .mmdb does not know has no AS: history says "-", not 0.
func TestHistoryUnknownASN(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(strings.Replace(cfg, "countries: [FI]", "countries: [FI], cidrs: [203.0.113.0/24]", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv"), []byte("timestamp,ip,port,tag\n2026-11-22 01:00:00,203.0.113.9,23,telnet\n"), 0o644)
	if code, out, errs := cli("run", "--once", "--config", c); code != 0 {
		t.Fatalf("run: %d\n%s%s", code, out, errs)
	}
	code, out, _ := cli("history", "--config", c, "--ip", "203.0.113.9")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("history: %d\n%s", code, out)
	}
	f := strings.Fields(lines[1])
	// REPORT CREATED STATE TO EVENT-TIME IP PORT ASN ...
	if len(f) < 8 || f[5] != "203.0.113.9" || f[7] != "-" {
		t.Errorf("unknown ASN not shown as -: %q", lines[1])
	}
}

// Rows set aside from a file given to ingest are found by the name the
// summary prints, and by the path typed.
func TestRejectsOfAnIngestedFile(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	path := filepath.Join(dir, "spool", "2026-11-22-scan_telnet-x.csv")
	code, out, errs := cli("ingest", "--feed", "ss", "--config", c, path)
	if code != 0 || !strings.Contains(out, "2026-11-22-scan_telnet-x.csv: 4 rows") {
		t.Fatalf("ingest: %d\n%s%s", code, out, errs)
	}
	for _, name := range []string{"2026-11-22-scan_telnet-x.csv", path} {
		code, out, _ := cli("rejects", "--config", c, "--file", name)
		if code != 0 || !strings.Contains(out, "1.2.3.999") {
			t.Errorf("rejects --file %s: %d\n%s", name, code, out)
		}
	}
}
