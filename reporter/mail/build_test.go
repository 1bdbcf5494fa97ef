package mail

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"mime/quotedprintable"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	nmail "net/mail"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func builder(t *testing.T) *Builder {
	t.Helper()
	b, err := NewBuilder(templates.FS(""), "CERT-XX", "autoreporter@cert.example", "en",
		func(string) time.Duration { return 24 * time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixture(lang string) (reporter.Report, []reporter.Event) {
	c := reporter.Contact{To: []string{"abuse@isp-one.example"}, Language: lang}
	evs := []reporter.Event{
		{Time: t0.Add(-3 * time.Hour), Feed: "shadowserver", Classification: "infected-system", Identifier: "andromeda",
			IP: netip.MustParseAddr("192.0.2.10"), Port: 40001, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP One Oy",
			Extra: []reporter.Field{{Key: "dst_ip", Value: "203.0.113.250"}, {Key: "http_agent", Value: "=HYPERLINK(\"http://x\")"}}},
		{Time: t0.Add(-2 * time.Hour), Feed: "shadowserver", Classification: "infected-system", Identifier: "andromeda",
			IP: netip.MustParseAddr("192.0.2.11"), Port: 40002, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP One Oy"},
		{Time: t0.Add(-time.Hour), Feed: "shadowserver", Classification: "vulnerable-system", Identifier: "rdp",
			IP: netip.MustParseAddr("192.0.2.12"), Port: 3389, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP One Oy",
			Hostname: "@evil", Extra: []reporter.Field{{Key: "tag", Value: "rdp"}}},
	}
	rep := reporter.Report{ID: 1, Ref: "CERT-XX#20261123-0001", Contact: c, Created: t0, MessageID: "<20261123T060000Z.abc@cert.example>"}
	return rep, evs
}

// checkGolden compares a built mail with testdata/name; -update rewrites it.
func checkGolden(t *testing.T, name string, raw []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(golden, raw, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./reporter/mail -update)", err)
	}
	if !bytes.Equal(raw, want) {
		t.Errorf("message differs from %s (run with -update after checking):\n%s", golden, raw)
	}
}

func TestGolden(t *testing.T) {
	for _, lang := range []string{"en", "fi"} {
		t.Run(lang, func(t *testing.T) {
			rep, evs := fixture(lang)
			msg, err := builder(t).Build(rep, evs)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "report."+lang+".eml", msg.Raw)
			// The same report builds to the same bytes: a resend is identical.
			again, _ := builder(t).Build(rep, evs)
			if !bytes.Equal(again.Raw, msg.Raw) {
				t.Error("two builds of one report differ")
			}
		})
	}
}

func parse(t *testing.T, raw []byte) (*nmail.Message, map[string][]byte) {
	t.Helper()
	m, err := gomail.EMLToMsgFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a readable message: %v", err)
	}
	parts := map[string][]byte{}
	for _, a := range m.GetAttachments() {
		var buf bytes.Buffer
		if _, err := a.Writer(&buf); err != nil {
			t.Fatal(err)
		}
		parts[a.Name] = buf.Bytes()
	}
	nm, err := nmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return nm, parts
}

func TestMessage(t *testing.T) {
	rep, evs := fixture("en")
	msg, err := builder(t).Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	m, parts := parse(t, msg.Raw)
	h := m.Header
	if got := h.Get("Subject"); got != "[CERT-XX#20261123-0001] AS64500 Example ISP One Oy: 3 events (infected-system 2, vulnerable-system 1)" {
		t.Errorf("subject %q", got)
	}
	if h.Get("Message-Id") != rep.MessageID || h.Get("Auto-Submitted") != "auto-generated" || h.Get("X-Autoreporter-Report") != rep.Ref {
		t.Errorf("headers: %v", h)
	}
	if to, _ := h.AddressList("To"); len(to) != 1 || to[0].Address != "abuse@isp-one.example" {
		t.Errorf("To: %v", to)
	}
	rows, err := csv.NewReader(bytes.NewReader(parts[AttachmentName(rep.Ref, 1, 1)])).ReadAll()
	if err != nil {
		t.Fatalf("attachment: %v", err)
	}
	if len(rows) != 4 {
		t.Fatalf("want header + 3 rows, got %d", len(rows))
	}
	wantHeader := "time,ip,port,protocol,asn,hostname,classification,identifier,feed,report_type,as_name,country,dst_ip,http_agent,tag"
	if got := strings.Join(rows[0], ","); got != wantHeader {
		t.Errorf("header %s", got)
	}
	if rows[1][0] != "2026-11-23T03:00:00Z" || rows[1][1] != "192.0.2.10" || rows[1][10] != "Example ISP One Oy" || rows[1][13] != `'=HYPERLINK("http://x")` {
		t.Errorf("row 1: %v", rows[1])
	}
	if rows[3][5] != "'@evil" {
		t.Errorf("hostname not defused: %q", rows[3][5])
	}
}

func TestInlineFormat(t *testing.T) {
	rep, evs := fixture("en")
	rep.Contact.Format = "inline"
	msg, err := builder(t).Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	m, parts := parse(t, msg.Raw)
	if len(parts) != 0 {
		t.Errorf("inline format has attachments: %v", parts)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	start := strings.Index(text, "----- begin CERT-XX-20261123-0001.csv -----")
	end := strings.Index(text, "----- end CERT-XX-20261123-0001.csv -----")
	if !strings.Contains(text, "All 3 are listed below as CSV.") || start < 0 || end < start {
		t.Fatalf("body:\n%s", text)
	}
	block := strings.TrimSpace(text[start+len("----- begin CERT-XX-20261123-0001.csv -----") : end])
	rows, err := csv.NewReader(strings.NewReader(block)).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][1] != "192.0.2.10" || rows[1][13] != `'=HYPERLINK("http://x")` {
		t.Errorf("inline CSV: %v %v", err, rows)
	}
}

func TestHeaderInjection(t *testing.T) {
	rep, evs := fixture("en")
	for i := range evs {
		evs[i].ASOrg = "Evil\r\nBcc: victim@example.org\r\n"
		evs[i].Identifier = "x\nBcc: y@example.org"
	}
	msg, err := builder(t).Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := parse(t, msg.Raw)
	if m.Header.Get("Bcc") != "" {
		t.Fatal("a Bcc header was injected")
	}
	if s := m.Header.Get("Subject"); !strings.Contains(s, "Evil") || strings.ContainsAny(s, "\r\n") {
		t.Errorf("subject %q", s)
	}
}

func TestLanguageFallback(t *testing.T) {
	rep, evs := fixture("xx")
	msg, err := builder(t).Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := parse(t, msg.Raw)
	body, _ := io.ReadAll(m.Body)
	if !bytes.Contains(body, []byte("Seen by shadowserver")) {
		t.Error("unknown language did not fall back to English")
	}
}

func TestBrokenTemplate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.en.txt.tmpl"), []byte("{{.Nope"), 0o644)
	_, err := NewBuilder(templates.FS(dir), "C", "a@b.example", "en", nil)
	if err == nil || !strings.Contains(err.Error(), "report.en.txt.tmpl") {
		t.Fatalf("broken template: %v", err)
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+1": "'+1", "-cmd": "'-cmd", "@SUM(1)": "'@SUM(1)", "\tx": "'\tx", "ok": "ok", "": "", "1-2": "1-2"} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	bd, err := NewBuilder(templates.FS(""), "CERT-XX", "autoreporter@cert.example", "en", nil)
	if err != nil {
		b.Fatal(err)
	}
	rep, evs := fixture("en")
	for len(evs) < 1000 {
		evs = append(evs, evs...)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := bd.Build(rep, evs); err != nil {
			b.Fatal(err)
		}
	}
}

// A templates folder that holds only a Swedish body adds Swedish; English
// and Finnish stay available from the built-ins.
func TestTemplatesFolderAddsLanguage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.sv.txt.tmpl"), []byte("{{.CERT}} har tagit emot rapporter.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(templates.FS(dir), "CERT-XX", "autoreporter@cert.example", "en", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Languages(), ","); got != "en,fi,sv" {
		t.Errorf("languages %s, want en,fi,sv", got)
	}
	for lang, want := range map[string]string{"fi": "Havainnut: shadowserver", "sv": "har tagit emot", "en": "Seen by shadowserver"} {
		rep, evs := fixture(lang)
		msg, err := b.Build(rep, evs)
		if err != nil {
			t.Fatal(err)
		}
		if body := bodyText(t, msg.Raw); !strings.Contains(body, want) {
			t.Errorf("%s: body does not contain %q:\n%s", lang, want, body)
		}
	}
}

// bodyText is the decoded text part of a built message.
func bodyText(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := gomail.EMLToMsgFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.GetParts() {
		if p.GetContentType() == gomail.TypeTextPlain {
			b, err := p.GetContent()
			if err != nil {
				t.Fatal(err)
			}
			return strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
	t.Fatal("no text part")
	return ""
}

func TestCheckLanguage(t *testing.T) {
	b := builder(t)
	tests := []struct {
		lang string
		want string // "" for no error
	}{
		{"en", ""},
		{"fi", ""},
		{"", ""}, // the default language
		{"xx", `language "xx" has no template; there are: en, fi`},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			err := b.CheckLanguage(tt.lang)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckLanguage(%q) = %v", tt.lang, err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("CheckLanguage(%q) = %v, want %s", tt.lang, err, tt.want)
			}
			var le *LanguageError
			if tt.want != "" && !errors.As(err, &le) {
				t.Errorf("not a *LanguageError: %T", err)
			}
		})
	}
}

func TestDefaultLanguageWithoutTemplate(t *testing.T) {
	_, err := NewBuilder(templates.FS(""), "C", "a@b.example", "sv", nil)
	var le *LanguageError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), `language "sv" has no template; there are: en, fi`) {
		t.Fatalf("NewBuilder with default language sv: %v", err)
	}
}

// fixtureOne is a report of one event, at 2026-11-22 15:45 UTC.
func fixtureOne(lang string) (reporter.Report, []reporter.Event) {
	rep, evs := fixture(lang)
	evs = evs[2:]
	evs[0].Time = time.Date(2026, 11, 22, 15, 45, 12, 0, time.UTC)
	rep.Ref, rep.MessageID = "CERT-XX#20261123-0002", "<20261123T060000Z.one@cert.example>"
	return rep, evs
}

func TestGoldenOneEvent(t *testing.T) {
	for _, lang := range []string{"en", "fi"} {
		t.Run(lang, func(t *testing.T) {
			rep, evs := fixtureOne(lang)
			msg, err := builder(t).Build(rep, evs)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "report."+lang+".one.eml", msg.Raw)
		})
	}
}

// The body's sentences fit the report: one event is not "All 1", one
// time is not "between 15:45 and 15:45", one hour is not "1 hours".
func TestBodyWording(t *testing.T) {
	at := func(evs []reporter.Event, times ...time.Time) []reporter.Event {
		for i := range evs {
			evs[i].Time = times[i%len(times)]
		}
		return evs
	}
	t1, t2 := time.Date(2026, 11, 22, 15, 45, 0, 0, time.UTC), time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		lang    string
		events  func(evs []reporter.Event) []reporter.Event
		inline  bool
		repeat  time.Duration
		want    []string
		notWant []string
	}{
		{"en one event", "en", func(e []reporter.Event) []reporter.Event { return at(e[:1], t1) }, false, 24 * time.Hour,
			[]string{"a report of the following system in your network at\n2026-11-22 15:45 UTC.", "The event is in the attached CERT-XX-20261123-0001.csv."},
			[]string{"between", "All 1", "reports of"}},
		{"en one event inline", "en", func(e []reporter.Event) []reporter.Event { return at(e[:1], t1) }, true, 24 * time.Hour,
			[]string{"The event is listed below as CSV."}, []string{"All 1"}},
		{"en several at one time", "en", func(e []reporter.Event) []reporter.Event { return at(e, t1) }, false, 24 * time.Hour,
			[]string{"reports of the following systems in your network at\n2026-11-22 15:45 UTC. All 3 are in the attached CERT-XX-20261123-0001.csv."},
			[]string{"between"}},
		{"en range", "en", func(e []reporter.Event) []reporter.Event { return at(e, t1, t2) }, false, 24 * time.Hour,
			[]string{"between\n2026-11-22 15:45 and 2026-11-22 16:00 UTC. All 3 are"}, nil},
		{"en an hour", "en", func(e []reporter.Event) []reporter.Event { return e }, false, time.Hour,
			[]string{"in the last hour are not repeated"}, []string{"1 hours"}},
		{"en minutes", "en", func(e []reporter.Event) []reporter.Event { return e }, false, 30 * time.Minute,
			[]string{"in the last 30 minutes are not repeated"}, []string{"0 hours"}},
		{"en days", "en", func(e []reporter.Event) []reporter.Event { return e }, false, 7 * 24 * time.Hour,
			[]string{"in the last 7 days are not repeated"}, nil},
		{"en no window", "en", func(e []reporter.Event) []reporter.Event { return e }, false, 0,
			[]string{"Reply the same way to change where"}, []string{"0 hours", "not repeated"}},
		{"fi one event", "fi", func(e []reporter.Event) []reporter.Event { return at(e[:1], t1) }, false, 24 * time.Hour,
			[]string{"ilmoituksen seuraavasta verkkonne järjestelmästä.\nHavaintoaika: 2026-11-22 15:45 UTC.", "Tapahtuma on liitteessä CERT-XX-20261123-0001.csv."},
			[]string{"välillä", "Kaikki 1"}},
		{"fi several at one time", "fi", func(e []reporter.Event) []reporter.Event { return at(e, t1) }, false, 24 * time.Hour,
			[]string{"Havaintoaika: 2026-11-22 15:45 UTC. Kaikki 3 ovat liitteessä CERT-XX-20261123-0001.csv."}, []string{"välillä"}},
		{"fi an hour", "fi", func(e []reporter.Event) []reporter.Event { return e }, false, time.Hour,
			[]string{"Viimeisen tunnin aikana"}, []string{"1 tunnin"}},
		{"fi minutes", "fi", func(e []reporter.Event) []reporter.Event { return e }, false, 30 * time.Minute,
			[]string{"Viimeisten 30 minuutin aikana"}, []string{"0 tunnin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBuilder(templates.FS(""), "CERT-XX", "autoreporter@cert.example", "en", func(string) time.Duration { return tt.repeat })
			if err != nil {
				t.Fatal(err)
			}
			rep, evs := fixture(tt.lang)
			if tt.inline {
				rep.Contact.Format = "inline"
			}
			msg, err := b.Build(rep, tt.events(evs))
			if err != nil {
				t.Fatal(err)
			}
			body := bodyText(t, msg.Raw)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body does not say %q:\n%s", w, body)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("body says %q:\n%s", w, body)
				}
			}
		})
	}
}

// The fallback mailbox's report is the CERT's own: it names the owners
// that had no contact and why, and is not worded "your network".
func TestGoldenFallback(t *testing.T) {
	for _, lang := range []string{"en", "fi"} {
		t.Run(lang, func(t *testing.T) {
			rep, evs := fixture(lang)
			rep.Contact = reporter.Contact{To: []string{"soc@cert.example"}, Language: lang, Rule: "fallback", Fallback: true}
			for i := range evs {
				evs[i].Contact = reporter.Contact{Source: "fallback", Fallback: true}
			}
			evs[2].ASN, evs[2].ASOrg, evs[2].IP = 64510, "Elsewhere Inc", netip.MustParseAddr("100.64.0.1")
			evs[2].Contact.Source = "fallback (no RDAP answer in 24h0m0s)"
			msg, err := builder(t).Build(rep, evs)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "fallback."+lang+".eml", msg.Raw)
			if msg.Subject != "[CERT-XX#20261123-0001] No contact for 2 networks: 3 events (infected-system 2, vulnerable-system 1)" {
				t.Errorf("subject %q", msg.Subject)
			}
			body := bodyText(t, msg.Raw)
			if lang == "en" {
				for _, want := range []string{"AS64500 Example ISP One Oy: 2 events", "192.0.2.10, 192.0.2.11",
					"AS64510 Elsewhere Inc: 1 event", "RDAP did not answer within rdap.max_wait (waited 24h0m0s)",
					"no override, RIPE import or RDAP answer names an abuse contact", "Nobody outside CERT-XX has been told"} {
					if !strings.Contains(body, want) {
						t.Errorf("body lacks %q:\n%s", want, body)
					}
				}
				if strings.Contains(body, "your network") {
					t.Errorf("the fallback mail speaks of 'your network':\n%s", body)
				}
			}
		})
	}
}
