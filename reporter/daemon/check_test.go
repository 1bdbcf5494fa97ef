package daemon_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

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
