// Package mail turns a report into a mail and sends it. Building (bytes,
// golden-tested) is separate from sending (an outbox folder or SMTP), and a
// mail is a function of its report and events alone: a resend after a crash
// is the same mail with the same Message-ID.
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/templates"
)

// Builder renders reports.
type Builder struct {
	CERT     string // the CERT's name, as it signs
	From     string // From address
	Language string // default language
	// Repeat gives a feed's repeat window, quoted in the body.
	Repeat   func(feed string) time.Duration
	tmpl     map[string]*template.Template // by language
	fallback map[string]*template.Template // the fallback mailbox's, by language
}

// NewBuilder parses every report template in fsys. A broken template is an
// error here, at start, and not at the first report.
func NewBuilder(fsys fs.FS, cert, from, lang string, repeat func(string) time.Duration) (*Builder, error) {
	b := &Builder{CERT: cert, From: from, Language: lang, Repeat: repeat,
		tmpl: map[string]*template.Template{}, fallback: map[string]*template.Template{}}
	for pattern, into := range map[string]map[string]*template.Template{
		templates.ReportPattern: b.tmpl, templates.FallbackPattern: b.fallback} {
		names, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		for _, n := range names {
			src, err := fs.ReadFile(fsys, n)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", n, err)
			}
			t, err := template.New(n).Option("missingkey=error").Parse(string(src))
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", n, err)
			}
			into[templates.LanguageOf(n)] = t
		}
	}
	if err := b.CheckLanguage(lang); err != nil {
		return nil, fmt.Errorf("default language: %w (add %s)", err, templates.ReportName(lang))
	}
	if b.fallback["en"] == nil {
		return nil, fmt.Errorf("templates: no %s", templates.FallbackName("en"))
	}
	return b, nil
}

// LanguageError is a language that has no report template.
type LanguageError struct {
	Lang string
	Have []string // the languages there are templates for, sorted
}

func (e *LanguageError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("language %q has no template; there are none", e.Lang)
	}
	return fmt.Sprintf("language %q has no template; there are: %s", e.Lang, strings.Join(e.Have, ", "))
}

// CheckLanguage refuses a language that has no template: a report to a
// contact who asked for it would silently go out in the default language.
// The empty language is the default one.
func (b *Builder) CheckLanguage(lang string) error {
	if lang == "" {
		lang = b.Language
	}
	if _, ok := b.tmpl[lang]; ok {
		return nil
	}
	return &LanguageError{Lang: lang, Have: b.Languages()}
}

// Languages lists the languages there are templates for.
func (b *Builder) Languages() []string {
	var out []string
	for l := range b.tmpl {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Data is what a report template sees.
type Data struct {
	CERT        string
	Ref         string
	First, Last string // "2026-11-22 06:00"
	// SameTime is true when First and Last are the same minute: the text
	// says "at First", not "between First and First".
	SameTime bool
	// Total is the number of events; a template says "the event" for 1.
	Total      int
	Classes    []Class
	Attachment string
	// Inline is true when the events follow the text instead of being
	// attached (the contact asked for format inline).
	Inline bool
	// The shortest repeat window among the report's feeds: events told
	// inside it are never repeated. RepeatDays is set for two whole days
	// or more; RepeatMinutes when the window is not whole hours (30m, 90m);
	// RepeatHours is always the window in whole hours. All three are 0 when
	// there is no window, and the text says nothing of repeats.
	RepeatDays, RepeatHours, RepeatMinutes int
	Contact                                string
	// Owners are the networks of a fallback report (the CERT's own
	// mailbox): who had no contact, and why. Empty in an owner's report.
	Owners []Owner
}

// Owner is one network without a contact, in a fallback report.
type Owner struct {
	ASN       string // "AS64500", or "-" when unknown
	Org       string
	Events    int
	Reason    string // why no contact was found
	Addresses string // the first few, then "and N more"
}

// Class is one classification's line in the summary.
type Class struct {
	Name        string
	Count       int
	Identifiers string // "andromeda (9), mirai (3)"
}

// Message is a built mail.
type Message struct {
	Subject string
	To      []string
	Raw     []byte
}

// AttachmentName is the file name of the events attachment.
const AttachmentName = "events.csv"

// Build renders one report.
func (b *Builder) Build(rep reporter.Report, events []reporter.Event) (*Message, error) {
	if len(rep.Contact.To) == 0 {
		return nil, fmt.Errorf("report %s has no recipient", rep.Ref)
	}
	data := b.data(rep, events)
	data.Inline = rep.Contact.Format == abuse.FormatInline
	subject := Subject(rep, events)

	t := b.tmpl[rep.Contact.Language]
	if t == nil {
		t = b.tmpl[b.Language]
	}
	if rep.Contact.Fallback {
		// The CERT's own staff read it: its own template, in the CERT's
		// language when there is one, else English.
		data.Owners = owners(events)
		if t = b.fallback[rep.Contact.Language]; t == nil {
			if t = b.fallback[b.Language]; t == nil {
				t = b.fallback["en"]
			}
		}
	}
	var body bytes.Buffer
	if err := t.Execute(&body, data); err != nil {
		return nil, fmt.Errorf("report %s: render %s: %w", rep.Ref, t.Name(), err)
	}
	var att bytes.Buffer
	if err := WriteCSV(&att, events); err != nil {
		return nil, fmt.Errorf("report %s: attachment: %w", rep.Ref, err)
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(b.CERT, b.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", b.From, err)
	}
	if err := m.To(rep.Contact.To...); err != nil {
		return nil, fmt.Errorf("report %s: to %v: %w", rep.Ref, rep.Contact.To, err)
	}
	m.Subject(subject)
	m.SetDateWithValue(rep.Created)
	m.SetMessageIDWithValue(strings.Trim(rep.MessageID, "<>"))
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Autoreporter-Report", rep.Ref)
	// A boundary derived from the Message-ID keeps the bytes of a resend
	// identical to the first attempt.
	sum := sha256.Sum256([]byte(rep.MessageID))
	m.SetBoundary("ar-" + hex.EncodeToString(sum[:12]))
	if data.Inline {
		// For ticket systems that drop attachments: the same CSV, after
		// the text, between markers a script can find.
		fmt.Fprintf(&body, "\n\n----- begin %s -----\n", AttachmentName)
		body.Write(bytes.ReplaceAll(att.Bytes(), []byte("\r\n"), []byte("\n")))
		fmt.Fprintf(&body, "----- end %s -----\n", AttachmentName)
	}
	m.SetBodyString(gomail.TypeTextPlain, body.String())
	if !data.Inline {
		if err := m.AttachReader(AttachmentName, bytes.NewReader(att.Bytes()), gomail.WithFileContentType("text/csv; charset=utf-8")); err != nil {
			return nil, fmt.Errorf("report %s: attach: %w", rep.Ref, err)
		}
	}
	var raw bytes.Buffer
	if _, err := m.WriteTo(&raw); err != nil {
		return nil, fmt.Errorf("report %s: write: %w", rep.Ref, err)
	}
	return &Message{Subject: subject, To: rep.Contact.To, Raw: raw.Bytes()}, nil
}

func (b *Builder) data(rep reporter.Report, events []reporter.Event) Data {
	d := Data{CERT: b.CERT, Ref: rep.Ref, Total: len(events), Attachment: AttachmentName, Contact: rep.Contact.Key()}
	var first, last time.Time
	byClass := map[string]map[string]int{}
	var window time.Duration
	for _, e := range events {
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
		if byClass[e.Classification] == nil {
			byClass[e.Classification] = map[string]int{}
		}
		byClass[e.Classification][e.Identifier]++
		if b.Repeat != nil {
			if w := b.Repeat(e.Feed); window == 0 || w < window {
				window = w
			}
		}
	}
	const layout = "2006-01-02 15:04"
	d.First, d.Last = first.UTC().Format(layout), last.UTC().Format(layout)
	d.SameTime = d.First == d.Last
	for _, name := range sortedKeys(byClass) {
		c := Class{Name: name}
		var ids []string
		for _, id := range sortedByCount(byClass[name]) {
			n := byClass[name][id]
			c.Count += n
			ids = append(ids, fmt.Sprintf("%s (%d)", id, n))
		}
		if len(ids) > 6 {
			ids = append(ids[:6], fmt.Sprintf("and %d more", len(ids)-6))
		}
		c.Identifiers = strings.Join(ids, ", ")
		d.Classes = append(d.Classes, c)
	}
	if window >= 48*time.Hour && window%(24*time.Hour) == 0 {
		d.RepeatDays = int(window / (24 * time.Hour))
	}
	d.RepeatHours = int(window / time.Hour)
	if window%time.Hour != 0 {
		d.RepeatMinutes = int(window / time.Minute)
	}
	return d
}

// owners groups a fallback report's events by network and reason.
func owners(events []reporter.Event) []Owner {
	type key struct {
		asn    uint32
		reason string
	}
	by := map[key]*Owner{}
	ips := map[key][]string{}
	var order []key
	for _, e := range events {
		k := key{e.ASN, fallbackReason(e.Contact.Source)}
		o := by[k]
		if o == nil {
			o = &Owner{ASN: "-", Org: headerSafe(e.ASOrg, 100), Reason: k.reason}
			if e.ASN != 0 {
				o.ASN = fmt.Sprintf("AS%d", e.ASN)
			}
			by[k] = o
			order = append(order, k)
		}
		o.Events++
		if a := e.IP.String(); len(ips[k]) == 0 || ips[k][len(ips[k])-1] != a {
			ips[k] = append(ips[k], a)
		}
	}
	sort.Slice(order, func(i, j int) bool {
		if by[order[i]].Events != by[order[j]].Events {
			return by[order[i]].Events > by[order[j]].Events
		}
		return order[i].asn < order[j].asn
	})
	out := make([]Owner, len(order))
	for i, k := range order {
		list := ips[k]
		sort.Strings(list)
		list = slices.Compact(list)
		if len(list) > 5 {
			list = append(list[:5], fmt.Sprintf("and %d more", len(list)-5))
		}
		by[k].Addresses = strings.Join(list, ", ")
		out[i] = *by[k]
	}
	return out
}

// fallbackReason says in words why an event came to the fallback mailbox,
// from the source the resolver gave: "fallback", or "fallback (no RDAP
// answer in 24h0m0s)".
func fallbackReason(source string) string {
	if w, ok := strings.CutPrefix(source, "fallback (no RDAP answer in "); ok {
		return "RDAP did not answer within rdap.max_wait (waited " + strings.TrimSuffix(w, ")") + ")"
	}
	return "no override, RIPE import or RDAP answer names an abuse contact for it"
}

// Subject is stable so that ISPs can filter on it:
// "[CERT-XX#20261123-0042] AS64500 Example ISP: 17 events (infected-system 12, vulnerable-system 5)".
func Subject(rep reporter.Report, events []reporter.Event) string {
	counts := map[string]int{}
	asns := map[uint32]string{}
	for _, e := range events {
		counts[e.Classification]++
		if e.ASN != 0 {
			asns[e.ASN] = e.ASOrg
		}
	}
	var parts []string
	for _, c := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", c, counts[c]))
	}
	owner := rep.Contact.Key()
	switch len(asns) {
	case 0:
	case 1:
		for asn, org := range asns {
			owner = strings.TrimSpace(fmt.Sprintf("AS%d %s", asn, org))
		}
	default:
		var list []uint32
		for a := range asns {
			list = append(list, a)
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		owner = fmt.Sprintf("AS%d and %d more networks", list[0], len(list)-1)
	}
	noun := "events"
	if len(events) == 1 {
		noun = "event"
	}
	if rep.Contact.Fallback {
		nets := "network"
		if len(asns) != 1 {
			nets = "networks"
		}
		owner = fmt.Sprintf("No contact for %d %s", max(len(asns), 1), nets)
	}
	s := fmt.Sprintf("[%s] %s: %d %s (%s)", rep.Ref, owner, len(events), noun, strings.Join(parts, ", "))
	return headerSafe(s, 250)
}

// headerSafe removes anything that could end a header line early. The AS
// organisation comes from a database, the identifiers from feeds: neither
// may inject a header.
func headerSafe(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedByCount(m map[string]int) []string {
	out := sortedKeys(m)
	sort.SliceStable(out, func(i, j int) bool { return m[out[i]] > m[out[j]] })
	return out
}
