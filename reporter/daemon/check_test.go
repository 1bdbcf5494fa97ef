package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

// reconfigure loads the test config edited by pairs of old and new text.
func reconfigure(t *testing.T, w *world, oldNew ...string) {
	t.Helper()
	src := fmt.Sprintf(configTmpl, w.smtp.Host, w.smtp.Port)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(src, oldNew[i]) {
			t.Fatalf("%q not in the test config", oldNew[i])
		}
		src = strings.Replace(src, oldNew[i], oldNew[i+1], 1)
	}
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

// checkErrs runs daemon.Check on the world's config and returns its
// problems as one string, one a line.
func checkErrs(t *testing.T, w *world) string {
	t.Helper()
	var lines []string
	for _, err := range daemon.Check(context.Background(), w.cfg) {
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "\n")
}

// Every language a contact asks for must have a template: the config's
// overrides are named by key, the stored ones by their rule.
func TestCheckLanguages(t *testing.T) {
	w := setup(t)
	// A Swedish template in the folder when the config is loaded, gone
	// when check-config runs.
	tmpl := filepath.Join(w.dir, "tmpl")
	os.MkdirAll(tmpl, 0o755)
	sv := filepath.Join(tmpl, "report.sv.txt.tmpl")
	os.WriteFile(sv, []byte("{{.CERT}}: {{.Total}}\n"), 0o644)
	w.reconfigure(t, `{asn: 64502, to: ["Abuse <ABUSE@isp-three.example>"]}`, `{asn: 64502, to: ["Abuse <ABUSE@isp-three.example>"], language: sv}`+"\ntemplates: tmpl")
	if got := checkErrs(t, w); got != "" {
		t.Fatalf("with the Swedish template: %s", got)
	}

	d := w.open(t, daemon.Options{})
	if _, err := d.SetOverride(context.Background(), abuse.Override{CIDR: netip.MustParsePrefix("192.0.2.0/24"), To: []string{"a@isp.example"}, Language: "sv"}); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckLanguage("sv"); err != nil {
		t.Errorf("CheckLanguage(sv) with the template: %v", err)
	}
	d.Close()

	os.Remove(sv)
	got := checkErrs(t, w)
	for _, want := range []string{
		`contacts[2].language: language "sv" has no template; there are: en, fi`,
		`override cidr 192.0.2.0/24 (set with contacts set): language "sv" has no template; there are: en, fi`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check-config does not say %q:\n%s", want, got)
		}
	}
	if err := w.open(t, daemon.Options{}).CheckLanguage("sv"); err == nil || err.Error() != `language "sv" has no template; there are: en, fi` {
		t.Errorf("CheckLanguage(sv) without the template: %v", err)
	}
}

// The default language is checked by config.Load; should its template go
// before check-config runs, the key is named all the same.
func TestCheckCertLanguage(t *testing.T) {
	w := setup(t)
	tmpl := filepath.Join(w.dir, "tmpl")
	os.MkdirAll(tmpl, 0o755)
	sv := filepath.Join(tmpl, "report.sv.txt.tmpl")
	os.WriteFile(sv, []byte("{{.CERT}}: {{.Total}}\n"), 0o644)
	w.reconfigure(t, "report_prefix: CERT-XX}", "report_prefix: CERT-XX, language: sv}\ntemplates: tmpl")
	os.Remove(sv)
	want := `cert.language: language "sv" has no template; there are: en, fi`
	if got := checkErrs(t, w); !strings.Contains(got, want) {
		t.Errorf("check-config does not say %q:\n%s", want, got)
	}
}

// corruptTree spoils a database's search tree and keeps its metadata: the
// file still loads as a config names it, and fails the daemon's full
// verification.
func corruptTree(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := bytes.LastIndex(b, []byte("\xab\xcd\xefMaxMind.com"))
	if meta < 0 {
		t.Fatalf("%s: no metadata", path)
	}
	for i := 0; i < meta/3; i++ {
		b[i] = 0xff
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// check-config opens every file the config names on its own and names
// each broken one by its key, not only the first the daemon trips on.
func TestCheckNamesEveryFile(t *testing.T) {
	w := setup(t)
	schema := filepath.Join(w.dir, "reports.json")
	snapshot := filepath.Join(w.dir, "ripe.bin")
	os.WriteFile(schema, []byte(`{"scan_rdp": [`), 0o644)
	os.WriteFile(snapshot, []byte("not a snapshot"), 0o644)
	reconfigure(t, w, "repeat: 24h}", "repeat: 24h, schema: reports.json}",
		"report: {backoff: 1m}", "report: {backoff: 1m}\nripe: {snapshot: ripe.bin}")

	corruptTree(t, filepath.Join(w.dir, "asn.mmdb"))
	corruptTree(t, filepath.Join(w.dir, "country.mmdb"))

	got := checkErrs(t, w)
	for _, want := range []string{
		"geo.asn_db: mmdb " + filepath.Join(w.dir, "asn.mmdb") + ": corrupt database",
		"geo.country_db: mmdb " + filepath.Join(w.dir, "country.mmdb") + ": corrupt database",
		"feeds[0].schema: schema " + schema,
		"ripe.snapshot: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check-config does not say %q:\n%s", want, got)
		}
	}
}

func TestCheckDelegatedAndOutbox(t *testing.T) {
	w := setup(t)
	delegated := filepath.Join(w.dir, "delegated-ripencc-latest")
	os.WriteFile(delegated, []byte("ripencc|FI|ipv4|192.0.2.0|256|20100101|allocated\n"), 0o644)
	os.WriteFile(filepath.Join(w.dir, "outbox"), []byte("a file where the folder should be"), 0o644)
	reconfigure(t, w, "exclude: [198.51.100.7/32]}", "exclude: [198.51.100.7/32], delegated: delegated-ripencc-latest}",
		fmt.Sprintf("mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none, timeout: 10s}}", w.smtp.Host, w.smtp.Port), "mail: {mode: outbox, outbox: outbox}")
	if got := checkErrs(t, w); !strings.Contains(got, "mail.outbox: ") || strings.Contains(got, "delegated") {
		t.Errorf("outbox that is a file:\n%s", got)
	}
	os.Remove(filepath.Join(w.dir, "outbox"))
	os.WriteFile(delegated, []byte("ripencc|FI|ipv4|192.0.2.0|lots|20100101|allocated\n"), 0o644)
	if got := checkErrs(t, w); !strings.Contains(got, "constituency.delegated: ") || !strings.Contains(got, "line 1") {
		t.Errorf("broken delegated stats:\n%s", got)
	}
}

// The daemon does not start on a country database given as the ASN
// database: every ASN would be unknown and every ASN rule's events would
// go to the fallback contact.
func TestWrongKindStopsDaemon(t *testing.T) {
	w := setup(t)
	asn, country := filepath.Join(w.dir, "asn.mmdb"), filepath.Join(w.dir, "country.mmdb")
	b, _ := os.ReadFile(country)
	os.WriteFile(asn, b, 0o644) // replaced after the config was loaded
	_, err := daemon.New(context.Background(), w.cfg, daemon.Options{})
	want := asn + ` is a "GeoLite2-Country" database, not an ASN database`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("daemon started: %v", err)
	}
	if got := checkErrs(t, w); !strings.Contains(got, "geo.asn_db: "+want) {
		t.Errorf("check-config:\n%s", got)
	}
}
