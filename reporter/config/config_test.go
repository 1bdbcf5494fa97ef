package config

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

// writeTree makes a config folder with the files a valid config names:
// real .mmdb files, as their type is checked.
func writeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "examples/geo"), 0o755)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("s3cret\n"), 0o600)
	nets := []mmdbgen.Network{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), ASN: 64500, Org: "ISP One", Country: "FI", Registered: "FI"}}
	if err := mmdbgen.WriteASN(filepath.Join(dir, "examples/geo/asn.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteCountry(filepath.Join(dir, "examples/geo/country.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	return dir
}

func noEnv(string) (string, bool) { return "", false }

// The config from the issue, verbatim.
const issueConfig = `
cert: {name: CERT-XX, from: autoreporter@cert.example, fallback_contact: soc@cert.example, report_prefix: CERT-XX}
constituency: {countries: [FI], country_source: located, asns: [64500], cidrs: [198.51.100.0/24], exclude: [198.51.100.7/32]}
geo: {asn_db: examples/geo/asn.mmdb, country_db: examples/geo/country.mmdb}
store: {driver: sqlite, dsn: var/autoreporter.db}
mail: {mode: outbox, outbox: var/outbox}
feeds:
  - {name: shadowserver, format: shadowserver, source: {spool: var/spool/shadowserver}, repeat: 24h}
contacts:
  - {asn: 64500, to: [abuse@isp-one.example], language: fi}
  - {cidr: 198.51.100.0/24, to: [noc@isp-two.example]}
`

func TestIssueConfigIsValid(t *testing.T) {
	dir := writeTree(t)
	cfg, err := Parse([]byte(issueConfig), filepath.Join(dir, "config.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Geo.ASNDB; got != filepath.Join(dir, "examples/geo/asn.mmdb") {
		t.Errorf("asn_db not resolved against the config folder: %s", got)
	}
	if got := cfg.Store.DSN.Reveal(); got != filepath.Join(dir, "var/autoreporter.db") {
		t.Errorf("dsn = %s", got)
	}
	if cfg.Feeds[0].Repeat.Duration() != 24*time.Hour || cfg.Feeds[0].Schedule != DefaultFeedSchedule {
		t.Errorf("feed defaults: %+v", cfg.Feeds[0])
	}
	spec := cfg.ConstituencySpec()
	if len(spec.ASNs) != 1 || spec.ASNs[0] != 64500 || len(spec.CIDRs) != 1 || len(spec.Exclude) != 1 || spec.Countries[0] != "FI" {
		t.Errorf("constituency spec: %+v", spec)
	}
	ov := cfg.Overrides()
	if ov[0].ASN != 64500 || ov[0].Language != "fi" || !ov[1].CIDR.IsValid() {
		t.Errorf("overrides: %+v", ov)
	}
	if len(cfg.Cert.FallbackContact) != 1 || cfg.Cert.FallbackContact[0] != "soc@cert.example" {
		t.Errorf("fallback contact: %v", cfg.Cert.FallbackContact)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string // applied to issueConfig
		want    []string  // each must appear in the error
	}{
		{"bad cidr", [2]string{"cidrs: [198.51.100.0/24]", "cidrs: [192.0.2.0/24, 10.0.0.0/8, 10.0.0.0/33]"}, []string{`constituency.cidrs[2]: "10.0.0.0/33" is not a CIDR`}},
		{"unknown key", [2]string{"mail: {mode: outbox", "mail: {mdoe: smtp, mode: outbox"}, []string{"mail.mdoe: unknown key"}},
		{"bad country", [2]string{"countries: [FI]", "countries: [FIN]"}, []string{`constituency.countries[0]: "FIN" is not a two-letter`}},
		{"bad source", [2]string{"country_source: located", "country_source: geo"}, []string{"constituency.country_source"}},
		{"bad asn", [2]string{"asns: [64500]", "asns: [AS-x]"}, []string{`constituency.asns[0]: "AS-x" is not an AS number`}},
		{"bad repeat", [2]string{"repeat: 24h", "repeat: often"}, []string{`feeds[0].repeat: "often" is not a duration`}},
		{"bad format", [2]string{"format: shadowserver", "format: xml"}, []string{`feeds[0].format: "xml" is not a format`}},
		{"json without fields", [2]string{"format: shadowserver", "format: json, json: {fields: {time: seen, colour: c}}"}, []string{"feeds[0].json.fields.ip: is required", "feeds[0].json.fields.colour: is not an event field"}},
		{"blocklist block on shadowserver", [2]string{"repeat: 24h}", "repeat: 24h, blocklist: {identifier: x}}"}, []string{"feeds[0].blocklist: is only for format blocklist"}},
		{"no source", [2]string{"source: {spool: var/spool/shadowserver}", "source: {}"}, []string{"feeds[0].source: needs spool"}},
		{"both sources", [2]string{"source: {spool: var/spool/shadowserver}", "source: {spool: x, url: \"https://x.example/\"}"}, []string{"feeds[0].source: set one of spool, url and shadowserver_api"}},
		{"api without secret", [2]string{"source: {spool: var/spool/shadowserver}", "source: {shadowserver_api: {key: k, days: 40}}"}, []string{"feeds[0].source.shadowserver_api.secret: is required", "feeds[0].source.shadowserver_api.days: 40 must be from 1 to 31"}},
		{"api on a csv feed", [2]string{"format: shadowserver, source: {spool: var/spool/shadowserver}", "format: blocklist, source: {shadowserver_api: {key: k, secret: s}}"}, []string{"feeds[0].source.shadowserver_api: is only for format shadowserver"}},
		{"api with unset env", [2]string{"source: {spool: var/spool/shadowserver}", "source: {headers: {a: b}, shadowserver_api: {key: \"${SS_KEY}\", secret: s}}"}, []string{"feeds[0].source.shadowserver_api.key: environment variable SS_KEY is not set", "feeds[0].source: headers and query are only for url sources"}},
		{"bad url", [2]string{"source: {spool: var/spool/shadowserver}", "source: {url: \"ftp://x\"}"}, []string{`feeds[0].source.url: "ftp://x" is not an http or https URL`}},
		{"bad size", [2]string{"source: {spool: var/spool/shadowserver}", "source: {url: \"https://x.example/f.csv\", max_size: lots}"}, []string{`feeds[0].source.max_size: "lots" is not a size`}},
		{"missing key env", [2]string{"source: {spool: var/spool/shadowserver}", "source: {url: \"https://x.example/f.csv\", headers: {Auth-Key: \"${NO_KEY}\"}}"}, []string{"feeds[0].source.headers.Auth-Key: environment variable NO_KEY is not set"}},
		{"bad from", [2]string{"from: autoreporter@cert.example", "from: nobody"}, []string{`cert.from: "nobody" is not an email address`}},
		{"injected prefix", [2]string{"report_prefix: CERT-XX", `report_prefix: "X\r\nBcc: a@b"`}, []string{"cert.report_prefix"}},
		{"contact both", [2]string{"{cidr: 198.51.100.0/24,", "{asn: 1, cidr: 198.51.100.0/24,"}, []string{"contacts[1]: set asn or cidr, not both"}},
		{"contact bad to", [2]string{"to: [noc@isp-two.example]", "to: [not an address]"}, []string{`contacts[1].to[0]: "not an address" is not an email address`}},
		{"bad driver", [2]string{"driver: sqlite", "driver: mysql"}, []string{`store.driver: "mysql" is not a store driver`}},
		{"missing mmdb", [2]string{"asn_db: examples/geo/asn.mmdb", "asn_db: nowhere.mmdb"}, []string{"geo.asn_db", "nowhere.mmdb"}},
		{"list where map", [2]string{"mail: {mode: outbox, outbox: var/outbox}", "mail: [outbox]"}, []string{"mail: expected a mapping, found a list (line 6)"}},
		{"bad schedule", [2]string{"repeat: 24h}", "repeat: 24h, schedule: \"TZ=\"}"}, []string{"feeds[0].schedule"}},
		{"bad layout", [2]string{"asn_db: examples/geo/asn.mmdb", "asn_db: examples/geo/asn.mmdb, layout: geoip, reload: soon"}, []string{`geo.layout: "geoip" is not a layout`, `geo.reload: "soon" is not a duration`}},
		{"country db as asn db", [2]string{"asn_db: examples/geo/asn.mmdb", "asn_db: examples/geo/country.mmdb"}, []string{`geo.asn_db: `, `/examples/geo/country.mmdb is a "GeoLite2-Country" database, not an ASN database (line 4)`}},
		{"asn db as country db", [2]string{"country_db: examples/geo/country.mmdb", "country_db: examples/geo/asn.mmdb"}, []string{`geo.country_db: `, `/examples/geo/asn.mmdb is a "GeoLite2-ASN" database, not a country database`}},
		{"not an mmdb", [2]string{"asn_db: examples/geo/asn.mmdb", "asn_db: secret.txt"}, []string{"geo.asn_db: mmdb ", "secret.txt"}},
		{"missing schema", [2]string{"repeat: 24h}", "repeat: 24h, schema: nowhere/reports.json}"}, []string{"feeds[0].schema: ", "nowhere/reports.json: no such file or directory"}},
		{"schema a folder", [2]string{"repeat: 24h}", "repeat: 24h, schema: examples}"}, []string{"feeds[0].schema: ", "is a folder, not a file"}},
		{"empty password file", [2]string{"mail: {mode: outbox, outbox: var/outbox}", "mail: {mode: smtp, smtp: {host: smtp.example, password_file: empty.txt}}"}, []string{"mail.smtp.password_file: ", "empty.txt is empty"}},
		{"connections", [2]string{"mail: {mode: outbox, outbox: var/outbox}", "mail: {mode: smtp, smtp: {host: smtp.example, connections: 33}}"}, []string{"mail.smtp.connections: 33 must be from 1 to 32"}},
		{"env secret missing", [2]string{"dsn: var/autoreporter.db", "dsn: \"${NO_SUCH_VAR}\""}, []string{"store.dsn: environment variable NO_SUCH_VAR is not set"}},
		{"pool of one", [2]string{"driver: sqlite, dsn: var/autoreporter.db", "driver: postgres, dsn: \"host=db.example\", max_conns: 1"}, []string{"store.max_conns: must be 0 (the default, 4) or at least 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			os.WriteFile(filepath.Join(dir, "empty.txt"), []byte("\n"), 0o600)
			checkErrors(t, issueConfig, tt.replace, dir, tt.want)
		})
	}
}

func TestThreeMistakesAllNamed(t *testing.T) {
	dir := writeTree(t)
	src := strings.NewReplacer(
		"cidrs: [198.51.100.0/24]", "cidrs: [198.51.100.0/33]",
		"repeat: 24h", "repeat: soon",
		"mail: {mode: outbox", "mail: {mode: pigeon",
	).Replace(issueConfig)
	_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
	var errs *Errors
	if err == nil || !asErrors(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	if len(errs.List) != 3 {
		t.Fatalf("want 3 problems, got %d:\n%v", len(errs.List), err)
	}
	for _, key := range []string{"constituency.cidrs[0]", "feeds[0].repeat", "mail.mode"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%q not named in:\n%v", key, err)
		}
	}
}

func asErrors(err error, target **Errors) bool {
	e, ok := err.(*Errors)
	*target = e
	return ok
}

func TestSecrets(t *testing.T) {
	dir := writeTree(t)
	src := strings.Replace(issueConfig, "mail: {mode: outbox, outbox: var/outbox}",
		"mail: {mode: smtp, smtp: {host: smtp.example, username: u, password: \"${SMTP_PW}\"}}", 1)
	env := func(k string) (string, bool) {
		if k == "SMTP_PW" {
			return "hunter2", true
		}
		return "", false
	}
	cfg, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Mail.SMTP
	if s.Password.Reveal() != "hunter2" || s.Port != 587 || s.TLS != "starttls" {
		t.Errorf("smtp: %+v", s)
	}
	for _, f := range []string{"%v", "%s", "%+v", "%#v"} {
		if out := sprintf(f, s); strings.Contains(out, "hunter2") {
			t.Errorf("%s prints the password: %s", f, out)
		}
	}
	// And from a file.
	src = strings.Replace(src, `password: "${SMTP_PW}"`, "password_file: secret.txt", 1)
	cfg, err = Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mail.SMTP.Password.Reveal(); got != "s3cret" {
		t.Errorf("password_file gave %q", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90m": 90 * time.Minute, "1.5d": 36 * time.Hour} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1h", "soon"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	// The shipped example must stay valid; its .mmdb files and its demo
	// signing key are made by `make demo`, so only their absence may be
	// reported.
	_, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err == nil {
		return
	}
	errs, ok := err.(*Errors)
	if !ok {
		t.Fatal(err)
	}
	for _, e := range errs.List {
		if !strings.HasPrefix(e.Key, "geo.") && e.Key != "mail.pgp.key_file" {
			t.Errorf("config.example.yaml: %v", e)
		}
	}
}

// A language is only accepted where there is a template for it: a report
// to that contact would otherwise go out in another language, silently.
func TestLanguagesNeedTemplates(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string
		sv      bool   // a templates folder with report.sv.txt.tmpl
		want    string // "" for valid
	}{
		{"built-in language", [2]string{"language: fi}", "language: fi}"}, false, ""},
		{"contact language without template", [2]string{"{cidr: 198.51.100.0/24, to: [noc@isp-two.example]}", "{cidr: 198.51.100.0/24, to: [noc@isp-two.example], language: sv}"}, false,
			`contacts[1].language: language "sv" has no template; there are: en, fi`},
		{"cert language without template", [2]string{"report_prefix: CERT-XX}", "report_prefix: CERT-XX, language: sv}"}, false,
			`cert.language: language "sv" has no template; there are: en, fi`},
		{"folder adds the language", [2]string{"report_prefix: CERT-XX}", "report_prefix: CERT-XX, language: sv}\ntemplates: tmpl"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			if tt.sv {
				os.MkdirAll(filepath.Join(dir, "tmpl"), 0o755)
				os.WriteFile(filepath.Join(dir, "tmpl", "report.sv.txt.tmpl"), []byte("hej"), 0o644)
			}
			src := strings.Replace(issueConfig, tt.replace[0], tt.replace[1], 1)
			_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error does not contain %q:\n%v", tt.want, err)
			}
		})
	}
}

// Both .mmdb files broken: both keys are named, not only the first.
func TestBothGeoFilesNamed(t *testing.T) {
	dir := writeTree(t)
	for _, f := range []string{"examples/geo/asn.mmdb", "examples/geo/country.mmdb"} {
		os.WriteFile(filepath.Join(dir, f), []byte("not a database"), 0o644)
	}
	_, err := Parse([]byte(issueConfig), filepath.Join(dir, "config.yaml"), noEnv)
	for _, want := range []string{"geo.asn_db: mmdb " + filepath.Join(dir, "examples/geo/asn.mmdb"), "geo.country_db: mmdb " + filepath.Join(dir, "examples/geo/country.mmdb")} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
}

// ${NAME} is read from the environment in secrets only; anywhere else it
// would be used as it is written and end up in a From header or a folder
// name, so it is refused with its key.
func TestEnvReferenceOutsideSecrets(t *testing.T) {
	env := func(k string) (string, bool) { return "/srv", k == "STATE" }
	tests := []struct {
		name    string
		replace [2]string
		want    string // "" for valid
	}{
		{"secret", [2]string{"dsn: var/autoreporter.db", `dsn: "${STATE}/a.db"`}, ""},
		{"secret in a header", [2]string{"source: {spool: var/spool/shadowserver}", `source: {url: "https://x.example/f", headers: {Auth-Key: "${STATE}"}}`}, ""},
		{"cert.name", [2]string{"name: CERT-XX", `name: "${UNSET}"`}, "cert.name: ${UNSET} is not read from the environment"},
		{"a path", [2]string{"outbox: var/outbox", `outbox: "${STATE}/outbox"`}, "mail.outbox: ${STATE} is not read from the environment"},
		{"a list item", [2]string{"to: [noc@isp-two.example]", `to: ["${NOC}"]`}, "contacts[1].to[0]: ${NOC} is not read"},
		{"shell-style default", [2]string{"outbox: var/outbox", `outbox: "${STATE:-/var}/outbox"`}, "mail.outbox: ${STATE:-/var} is not read from the environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			src := strings.Replace(issueConfig, tt.replace[0], tt.replace[1], 1)
			if src == issueConfig {
				t.Fatalf("%q not in the config", tt.replace[0])
			}
			_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), env)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error does not contain %q:\n%v", tt.want, err)
			case tt.want != "" && !strings.Contains(err.Error(), "only secrets"):
				t.Errorf("error does not say where ${NAME} works:\n%v", err)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	for name, src := range map[string]string{"empty": "", "blank": "\n  \n", "comments only": "# nothing yet\n", "null document": "---\n~\n"} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src), "/etc/autoreporter/config.yaml", noEnv)
			if err == nil || !strings.Contains(err.Error(), "/etc/autoreporter/config.yaml is empty") || !strings.Contains(err.Error(), "config.example.yaml") {
				t.Errorf("%v", err)
			}
			if strings.Contains(fmt.Sprint(err), "EOF") {
				t.Errorf("says EOF: %v", err)
			}
		})
	}
}

// Values that go into a mail header refuse control characters with their
// own key, before a template or the mail builder trips on them.
func TestHeaderValues(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string
		want    string
		notWant string
	}{
		{"CRLF in cert.name", [2]string{"name: CERT-XX, from:", `name: "CERT-XX\r\nBcc: victim@example.org", from:`}, "cert.name: ", "cert.report_prefix"},
		{"LF in cert.name, prefix derived", [2]string{"name: CERT-XX, from: autoreporter@cert.example, fallback_contact: soc@cert.example, report_prefix: CERT-XX}", `name: "CERT\nXX", from: autoreporter@cert.example, fallback_contact: soc@cert.example}`}, "cert.name: ", "cert.report_prefix"},
		{"NUL in cert.name", [2]string{"name: CERT-XX, from:", `name: "CERT\u0000XX", from:`}, "cert.name: ", ""},
		{"CR in cert.from", [2]string{"from: autoreporter@cert.example", `from: "CERT <autoreporter@cert.example>\r"`}, "cert.from: ", ""},
		{"CRLF in report_prefix", [2]string{"report_prefix: CERT-XX", `report_prefix: "X\r\nBcc: a@b"`}, "cert.report_prefix: ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			src := strings.Replace(issueConfig, tt.replace[0], tt.replace[1], 1)
			if src == issueConfig {
				t.Fatalf("%q not in the config", tt.replace[0])
			}
			_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want+"contains a control character") {
				t.Fatalf("error does not contain %q:\n%v", tt.want+"contains a control character", err)
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("blames %s:\n%v", tt.notWant, err)
			}
		})
	}
}

func TestOutboxMode(t *testing.T) {
	tests := []struct {
		name string
		mail string
		want fs.FileMode
		err  string
	}{
		{"default", "mail: {mode: outbox, outbox: var/outbox}", 0o640, ""},
		{"quoted", `mail: {mode: outbox, outbox: var/outbox, outbox_mode: "0644"}`, 0o644, ""},
		{"unquoted", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: 0600}", 0o600, ""},
		{"0o prefix", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: 0o660}", 0o660, ""},
		{"not octal", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: rw-r-----}", 0, `mail.outbox_mode: "rw-r-----" is not an octal mode (like "0640")`},
		{"too big", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: 01777}", 0, `mail.outbox_mode: "01777" is not an octal mode`},
		{"world-writable", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: 0666}", 0, "mail.outbox_mode: 0666 lets any user change a mail before it is sent"},
		{"owner cannot read", "mail: {mode: outbox, outbox: var/outbox, outbox_mode: 0040}", 0, "mail.outbox_mode: 0040 does not let the owner read"},
		{"smtp", "mail: {mode: smtp, outbox_mode: 0640, smtp: {host: smtp.example}}", 0, "mail.outbox_mode: is only for mail.mode outbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			src := strings.Replace(issueConfig, "mail: {mode: outbox, outbox: var/outbox}", tt.mail, 1)
			cfg, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error does not contain %q:\n%v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Mail.OutboxFileMode != tt.want {
				t.Errorf("OutboxFileMode %04o, want %04o", cfg.Mail.OutboxFileMode, tt.want)
			}
		})
	}
}

func TestFeedSettleAndMaxAge(t *testing.T) {
	const feed = "{name: shadowserver, format: shadowserver, source: {spool: var/spool/shadowserver}, repeat: 24h}"
	tests := []struct {
		name           string
		feed           string
		settle, maxAge time.Duration
		err            string
	}{
		{"defaults", feed, 5 * time.Second, 0, ""},
		{"set", "{name: s, format: shadowserver, source: {spool: var/s}, settle: 30s, max_age: 3d}", 30 * time.Second, 72 * time.Hour, ""},
		{"settle off", "{name: s, format: shadowserver, source: {spool: var/s}, settle: 0s}", 0, 0, ""},
		{"max_age off", "{name: s, format: shadowserver, source: {spool: var/s}, max_age: 0}", 5 * time.Second, 0, ""},
		{"url source has no settle", `{name: s, format: shadowserver, source: {url: "https://x.example/f.csv"}}`, 0, 0, ""},
		{"settle on a url source", `{name: s, format: shadowserver, source: {url: "https://x.example/f.csv"}, settle: 5s}`, 0, 0,
			"feeds[0].settle: is only for spool sources"},
		{"bad settle", "{name: s, format: shadowserver, source: {spool: var/s}, settle: soon}", 0, 0, `feeds[0].settle: "soon" is not a duration`},
		{"bad max_age", "{name: s, format: shadowserver, source: {spool: var/s}, max_age: -1h}", 0, 0, `feeds[0].max_age: "-1h" is not a duration`},
		{"max_age in minutes", "{name: s, format: shadowserver, source: {spool: var/s}, max_age: 3m}", 0, 0, `feeds[0].max_age: "3m" is less than an hour`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			src := strings.Replace(issueConfig, feed, tt.feed, 1)
			cfg, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error does not contain %q:\n%v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := cfg.Feeds[0]
			if f.Settle.Duration() != tt.settle || f.MaxAge.Duration() != tt.maxAge {
				t.Errorf("settle %v, max_age %v; want %v, %v", f.Settle.Duration(), f.MaxAge.Duration(), tt.settle, tt.maxAge)
			}
		})
	}
}

// checkErrors parses base with replace[0] replaced by replace[1], as the
// config file of dir, and checks that it fails with every text of want.
func checkErrors(t *testing.T, base string, replace [2]string, dir string, want []string) {
	t.Helper()
	src := strings.Replace(base, replace[0], replace[1], 1)
	if src == base {
		t.Fatalf("replacement %q not found", replace[0])
	}
	_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}
