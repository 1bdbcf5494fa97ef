// Package mail turns a report into a mail and sends it. Building (bytes,
// golden-tested) is separate from sending (an outbox folder or SMTP), and a
// mail is a function of its report and events alone: a resend after a crash
// is the same mail with the same Message-ID.
package mail

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"sort"
	"strconv"
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
	Repeat func(feed string) time.Duration
	// About names the source of a feed's events and its page, for the
	// ISP to read more ("Shadowserver scan_rdp"); nil names the feed.
	About func(feed, reportType string) Source
	// Display gives an address's display name ("Abuse Desk"), kept in
	// the To header; nil or "" for none.
	Display func(addr string) string
	// ReplyTo, TLP and Signature go into every report when set.
	ReplyTo, TLP, Signature string
	// BodyLines is how many affected hosts each problem lists in the body.
	BodyLines int
	// JSON attaches the events as JSON too (IntelMQ field names).
	JSON bool
	// PerType attaches one CSV per report type (REF-scan_rdp.csv), each
	// with only its type's columns, instead of one CSV for all.
	PerType  bool
	tmpl     map[string]*template.Template // by language
	fallback map[string]*template.Template // the fallback mailbox's, by language
}

// Source is where events come from, as the ISP reads it.
type Source struct {
	Name string // "Shadowserver scan_rdp", "Feodo Tracker"
	URL  string // its page; may be empty
}

// NewBuilder parses every report template in fsys. A broken template is an
// error here, at start, and not at the first report.
func NewBuilder(fsys fs.FS, cert, from, lang string, repeat func(string) time.Duration) (*Builder, error) {
	b := &Builder{CERT: cert, From: from, Language: lang, Repeat: repeat, BodyLines: 20,
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
	// Total is the number of events in this mail; a template says "the
	// event" for 1. ReportTotal is the whole report's, over its parts.
	Total, ReportTotal int
	// Part and Parts number a report sent in several mails (both 1
	// otherwise).
	Part, Parts int
	Classes     []Class
	// Problems are the body's blocks: one per classification and
	// identifier, with who saw it and the first affected hosts.
	Problems   []Problem
	Attachment string
	// JSONAttachment is the JSON file's name when one is attached.
	JSONAttachment string
	// Inline is true when the events follow the text instead of being
	// attached (the contact asked for format inline).
	Inline bool
	// The shortest repeat window among the report's feeds: events told
	// inside it are never repeated. RepeatDays is set for two whole days
	// or more; RepeatMinutes when the window is not whole hours (30m, 90m);
	// RepeatHours is always the window in whole hours. All three are 0 when
	// there is no window, and the text says nothing of repeats.
	RepeatDays, RepeatHours, RepeatMinutes int
	// Windows lists each window with its feeds when the feeds of one
	// report have different ones: the text says each, honestly.
	Windows []Window
	Contact string
	// Owners are the networks of a fallback report (the CERT's own
	// mailbox): who had no contact, and why. Empty in an owner's report.
	Owners []Owner
	// TLP ("CLEAR"), Signature and ReplyTo from the config; empty when
	// not set.
	TLP, Signature, ReplyTo string
}

// Owner is one network without a contact, in a fallback report.
type Owner struct {
	ASN       string // "AS64500", or "-" when unknown
	Org       string
	Events    int
	Reason    string // why no contact was found
	Addresses string // the first few, then "and N more"
}

// Problem is one block of the body.
type Problem struct {
	Classification, Identifier string
	Count                      int
	Sources                    []Source
	// Hosts are the first affected hosts, "192.0.2.10:3389 at 2026-11-22
	// 01:00 UTC"; More says how many more the attachment holds.
	Hosts []string
	More  int
}

// Window is one repeat window of a report and the feeds that have it.
type Window struct {
	Feeds                string // "shadowserver, c2-blocklist"
	Days, Hours, Minutes int    // as RepeatDays, RepeatHours, RepeatMinutes
}

// Class is one classification's line in the summary.
type Class struct {
	Name        string
	Count       int
	Identifiers string // "andromeda (9), mirai (3)"
}

// Message is a built mail.
type Message struct {
	Subject   string
	To        []string
	Raw       []byte
	MessageID string
}

// AttachmentName is the file name of the events attachment of a report
// (its ref: "CERT-XX-20261123-0001.csv"), and of part n of parts.
func AttachmentName(ref string, part, parts int) string {
	return attachmentBase(ref, part, parts) + ".csv"
}

// attachmentBase is AttachmentName without its extension.
func attachmentBase(ref string, part, parts int) string {
	name := unsafeName.ReplaceAllString(strings.ReplaceAll(ref, "#", "-"), "_")
	if parts > 1 {
		name += fmt.Sprintf("-part%d", part)
	}
	return name
}

// Limits size the mails of a report: it is split into parts so that each
// stays under MaxBytes and carries at most MaxEvents (0: no cap).
type Limits struct {
	MaxBytes  int64
	MaxEvents int
}

// Build renders a report as one mail, whatever its size.
func (b *Builder) Build(rep reporter.Report, events []reporter.Event) (*Message, error) {
	return b.BuildPart(rep, events, Part{N: 1, Of: 1, Total: len(events), Subject: Subject(rep, events)})
}

// Part says which mail of a report is built: N of Of, and what the whole
// report's subject and total are, which every part repeats.
type Part struct {
	N, Of   int
	Total   int
	Subject string
}

// PartID is the Message-ID of part n of a report: the report's own for
// the first, derived from it for the others, so a resend keeps them all.
func PartID(messageID string, part int) string {
	if part <= 1 {
		return messageID
	}
	return fmt.Sprintf("<p%d.%s>", part, strings.Trim(messageID, "<>"))
}

// threadID is a Message-ID that every report to one recipient refers to,
// so that a mail client files them in one thread.
func threadID(contact, messageID string) string {
	_, domain, _ := strings.Cut(strings.Trim(messageID, "<>"), "@")
	if domain == "" {
		domain = "autoreporter.invalid"
	}
	sum := sha256.Sum256([]byte(contact))
	return "<thread." + hex.EncodeToString(sum[:10]) + "@" + domain + ">"
}

// BuildPart renders one part of a report: events are that part's.
func (b *Builder) BuildPart(rep reporter.Report, events []reporter.Event, p Part) (*Message, error) {
	part, parts, total := p.N, p.Of, p.Total
	if len(rep.Contact.To) == 0 {
		return nil, fmt.Errorf("report %s has no recipient", rep.Ref)
	}
	data := b.data(rep, events)
	data.Inline = rep.Contact.Format == abuse.FormatInline
	data.Part, data.Parts, data.ReportTotal = part, parts, total
	files, err := b.attachments(rep, events, part, parts, data.Inline)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if f.ctype == ctypeJSON {
			data.JSONAttachment = f.name
		} else {
			names = append(names, f.name)
		}
	}
	data.Attachment = strings.Join(names, ", ")
	zipped := rep.Contact.Format == abuse.FormatZip && !data.Inline
	if zipped {
		// The text names the zip, and what is in it.
		data.Attachment = attachmentBase(rep.Ref, part, parts) + ".zip (" + data.Attachment + ")"
	}
	subject := p.Subject
	if parts > 1 {
		subject = headerSafe(fmt.Sprintf("%s (part %d of %d)", subject, part, parts), 280)
	}

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
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(b.CERT, b.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", b.From, err)
	}
	for _, to := range rep.Contact.To {
		name := ""
		if b.Display != nil {
			name = headerSafe(b.Display(to), 100)
		}
		if err := m.AddToFormat(name, to); err != nil {
			return nil, fmt.Errorf("report %s: to %q: %w", rep.Ref, to, err)
		}
	}
	if b.ReplyTo != "" {
		if err := m.ReplyTo(b.ReplyTo); err != nil {
			return nil, fmt.Errorf("mail.reply_to %q: %w", b.ReplyTo, err)
		}
	}
	m.Subject(subject)
	m.SetDateWithValue(rep.Created)
	id := PartID(rep.MessageID, part)
	m.SetMessageIDWithValue(strings.Trim(id, "<>"))
	// Every report to a recipient refers to one thread root; the parts of
	// a report refer to its first part too.
	refs := []string{threadID(rep.Contact.Key(), rep.MessageID)}
	if part > 1 {
		refs = append(refs, PartID(rep.MessageID, 1))
	}
	m.SetGenHeader(gomail.HeaderInReplyTo, refs[len(refs)-1])
	m.SetGenHeader(gomail.HeaderReferences, strings.Join(refs, " "))
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Autoreporter-Report", rep.Ref)
	if b.TLP != "" {
		m.SetGenHeader("X-TLP", "TLP:"+b.TLP)
	}
	// A boundary derived from the Message-ID keeps the bytes of a resend
	// identical to the first attempt.
	sum := sha256.Sum256([]byte(id))
	m.SetBoundary("ar-" + hex.EncodeToString(sum[:12]))
	if data.Inline {
		// For ticket systems that drop attachments: the same CSV, after
		// the text, between markers a script can find.
		for _, f := range files {
			fmt.Fprintf(&body, "\n\n----- begin %s -----\n", f.name)
			body.Write(bytes.ReplaceAll(f.data, []byte("\r\n"), []byte("\n")))
			fmt.Fprintf(&body, "----- end %s -----\n", f.name)
		}
	}
	m.SetBodyString(gomail.TypeTextPlain, body.String())
	if !data.Inline {
		if zipped {
			z, err := zipFiles(files, rep.Created)
			if err != nil {
				return nil, fmt.Errorf("report %s: zip: %w", rep.Ref, err)
			}
			files = []attachment{{name: attachmentBase(rep.Ref, part, parts) + ".zip", ctype: "application/zip", data: z}}
		}
		for _, f := range files {
			// A ReadSeeker is read as the mail is written; AttachReader
			// would copy the file first.
			m.AttachReadSeeker(f.name, bytes.NewReader(f.data), gomail.WithFileContentType(gomail.ContentType(f.ctype)))
		}
	}
	// Sized once: base64 takes 4/3 and a line break every 76; growing by
	// doubling would copy a 10 MB mail four times over.
	var raw bytes.Buffer
	size := body.Len() + 8<<10
	for _, f := range files {
		size += len(f.data)*4/3*78/76 + 1<<10
	}
	raw.Grow(size)
	if _, err := m.WriteTo(&raw); err != nil {
		return nil, fmt.Errorf("report %s: write: %w", rep.Ref, err)
	}
	return &Message{Subject: subject, To: rep.Contact.To, Raw: raw.Bytes(), MessageID: id}, nil
}

// attachment is one file of a mail.
type attachment struct {
	name, ctype string
	data        []byte
}

const (
	ctypeCSV  = "text/csv; charset=utf-8"
	ctypeJSON = "application/json"
)

// attachments are the files of one part: its CSV, or one CSV per report
// type (Builder.PerType), then the JSON when asked for and not inline.
func (b *Builder) attachments(rep reporter.Report, events []reporter.Event, part, parts int, inline bool) ([]attachment, error) {
	base := attachmentBase(rep.Ref, part, parts)
	var out []attachment
	groups := [][]reporter.Event{events}
	if b.PerType {
		groups = byReportType(events)
	}
	for _, g := range groups {
		name := base + ".csv"
		if b.PerType {
			name = base + "-" + fileSafe(reportTypeOf(g)) + ".csv"
		}
		var buf bytes.Buffer
		n := 1 << 10
		for i := range g {
			n += rowSize(&g[i])
		}
		buf.Grow(n)
		if err := WriteCSV(&buf, g); err != nil {
			return nil, fmt.Errorf("report %s: %s: %w", rep.Ref, name, err)
		}
		out = append(out, attachment{name: name, ctype: ctypeCSV, data: buf.Bytes()})
	}
	if b.JSON && !inline {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, events); err != nil {
			return nil, fmt.Errorf("report %s: json: %w", rep.Ref, err)
		}
		out = append(out, attachment{name: base + ".json", ctype: ctypeJSON, data: buf.Bytes()})
	}
	return out, nil
}

// byReportType groups events by report type, in name order, each group
// keeping report order. An event without one is in the group of its
// classification, so no event is left out.
func byReportType(events []reporter.Event) [][]reporter.Event {
	idx := map[string]int{}
	var keys []string
	var groups [][]reporter.Event
	for _, e := range events {
		k := reportTypeKey(&e)
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			keys = append(keys, k)
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e)
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	out := make([][]reporter.Event, len(groups))
	for i, o := range order {
		out[i] = groups[o]
	}
	return out
}

func reportTypeKey(e *reporter.Event) string {
	if e.ReportType != "" {
		return e.ReportType
	}
	return e.Classification
}

func reportTypeOf(g []reporter.Event) string { return reportTypeKey(&g[0]) }

// fileSafe keeps a report type's name to what a file name may hold; feed
// data is hostile.
func fileSafe(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	if s == "" || s == "." || s == ".." {
		s = "events"
	}
	return s
}

// zipFiles packs the files into one zip. The entries carry the report's
// creation time, so a resend is the same bytes.
func zipFiles(files []attachment, at time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: at.UTC()})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Split cuts a report's events (in report order) into parts under lim.
func (b *Builder) Split(events []reporter.Event, lim Limits, format string) [][]reporter.Event {
	sp := b.newSplitter(lim, format)
	for i := range events {
		sp.add(&events[i])
	}
	var out [][]reporter.Event
	start := 0
	for _, n := range sp.sizes() {
		out = append(out, events[start:start+n])
		start += n
	}
	return out
}

// splitter cuts a stream of events into parts under a limit, keeping only
// the count of each part. It is a function of the events and the limit
// alone, so a resend cuts the same parts. A part's size is estimated from
// its CSV (and JSON) bytes, base64 encoded, plus room for the text; the
// estimate errs large. For a zip, the rows are compressed as they come
// (zipEstimate), so a part holds what fits once compressed.
type splitter struct {
	lim    Limits
	budget float64
	json   bool
	counts []int
	size   float64
	zip    *zipEstimate
}

func (b *Builder) newSplitter(lim Limits, format string) *splitter {
	budget := float64(lim.MaxBytes)
	if budget <= 0 {
		budget = 1 << 62
	}
	// The text: headers, explanations, the hosts listed per problem.
	budget -= 48<<10 + float64(b.BodyLines*80*8)
	sp := &splitter{lim: lim, budget: budget, json: b.JSON, counts: []int{0}}
	if format == abuse.FormatZip && lim.MaxBytes > 0 {
		sp.zip = newZipEstimate()
	}
	return sp
}

const base64Growth = 4.0 / 3 * 1.03 // base64, with its line breaks

func (s *splitter) add(e *reporter.Event) {
	cur := &s.counts[len(s.counts)-1]
	full := s.lim.MaxEvents > 0 && *cur >= s.lim.MaxEvents
	if s.zip != nil {
		if *cur > 0 && (full || s.zip.with(e, s.json)*base64Growth > s.budget) {
			s.counts = append(s.counts, 0)
			cur = &s.counts[len(s.counts)-1]
			s.zip.reset()
			s.zip.with(e, s.json)
		}
		*cur++
		return
	}
	row := float64(rowSize(e))
	if s.json {
		row += float64(jsonSize(e))
	}
	row *= base64Growth
	if *cur > 0 && (full || s.size+row > s.budget) {
		s.counts = append(s.counts, 0)
		cur, s.size = &s.counts[len(s.counts)-1], 0
	}
	*cur++
	s.size += row
}

// zipEstimate is the compressed size of a part's files, measured: each
// event's CSV values and JSON object go through the deflate the zip uses,
// each file its own stream, flushed every 32 KB of input so that what came
// out is what went in. The bytes since the last flush count at the
// stream's ratio so far (whole before the first flush), and the sum is
// taken a tenth larger, for the headers and what the estimate's rows leave
// out: a part must never come out too big.
type zipEstimate struct {
	csv, json deflateCount
	row       []byte
	enc       *json.Encoder
	jbuf      bytes.Buffer
}

type deflateCount struct {
	fw      *flate.Writer
	out     countWriter
	in      int64 // bytes written
	inAtOut int64 // bytes written at the last flush
}

const zipFlushEvery = 32 << 10

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newZipEstimate() *zipEstimate {
	z := &zipEstimate{}
	for _, d := range []*deflateCount{&z.csv, &z.json} {
		d.fw, _ = flate.NewWriter(&d.out, flate.DefaultCompression) // the level is valid
	}
	z.enc = json.NewEncoder(&z.jbuf)
	z.enc.SetEscapeHTML(false)
	return z
}

func (z *zipEstimate) reset() {
	for _, d := range []*deflateCount{&z.csv, &z.json} {
		d.out.n, d.in, d.inAtOut = 0, 0, 0
		d.fw.Reset(&d.out)
	}
}

func (d *deflateCount) add(p []byte) float64 {
	d.fw.Write(p) // to a counter: no error
	d.in += int64(len(p))
	if d.in-d.inAtOut >= zipFlushEvery {
		d.fw.Flush()
		d.inAtOut = d.in
	}
	ratio := 1.0
	if d.inAtOut > 0 {
		ratio = float64(d.out.n) / float64(d.inAtOut)
	}
	return float64(d.out.n) + float64(d.in-d.inAtOut)*ratio
}

// with adds e and returns the part's estimated compressed size.
func (z *zipEstimate) with(e *reporter.Event, withJSON bool) float64 {
	r := z.row[:0]
	r = e.Time.UTC().AppendFormat(r, time.RFC3339)
	r = append(r, ',')
	r = e.IP.AppendTo(r)
	r = append(r, ',')
	r = strconv.AppendInt(r, int64(e.Port), 10)
	r = append(r, ',')
	r = strconv.AppendUint(r, uint64(e.ASN), 10)
	for _, v := range []string{e.Protocol, e.Hostname, e.Classification, e.Identifier, e.Feed, e.ReportType, e.ASOrg, e.Country} {
		r = append(append(r, ','), v...)
	}
	for _, f := range e.Extra {
		r = append(append(r, ','), f.Value...)
	}
	z.row = append(r, '\r', '\n')
	size := z.csv.add(z.row)
	if withJSON {
		z.jbuf.Reset()
		z.enc.Encode(jsonObject(e)) // of strings and numbers: no error
		size += z.json.add(z.jbuf.Bytes())
	}
	return size * 1.1
}

// sizes is how many events each part holds.
func (s *splitter) sizes() []int {
	if s.counts[len(s.counts)-1] == 0 && len(s.counts) > 1 {
		return s.counts[:len(s.counts)-1]
	}
	return s.counts
}

func (b *Builder) data(rep reporter.Report, events []reporter.Event) Data {
	d := Data{CERT: b.CERT, Ref: rep.Ref, Total: len(events), ReportTotal: len(events), Part: 1, Parts: 1,
		Attachment: AttachmentName(rep.Ref, 1, 1), Contact: rep.Contact.Key(), TLP: b.TLP, Signature: b.Signature, ReplyTo: b.ReplyTo}
	var first, last time.Time
	byClass := map[string]map[string]int{}
	var window time.Duration
	windows := map[time.Duration][]string{}
	d.Problems = b.problems(events)
	for _, e := range events {
		if b.Repeat != nil {
			w := b.Repeat(e.Feed)
			if !slices.Contains(windows[w], e.Feed) {
				windows[w] = append(windows[w], e.Feed)
			}
		}
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
	if len(windows) > 1 {
		ws := make([]time.Duration, 0, len(windows))
		for w := range windows {
			ws = append(ws, w)
		}
		slices.Sort(ws)
		for _, w := range ws {
			feeds := windows[w]
			sort.Strings(feeds)
			win := Window{Feeds: strings.Join(feeds, ", "), Hours: int(w / time.Hour)}
			if w >= 48*time.Hour && w%(24*time.Hour) == 0 {
				win.Days = int(w / (24 * time.Hour))
			}
			if w%time.Hour != 0 {
				win.Minutes = int(w / time.Minute)
			}
			d.Windows = append(d.Windows, win)
		}
	}
	return d
}

// problems groups events into the body's blocks, by classification and
// identifier, each with who saw it and its first hosts.
func (b *Builder) problems(events []reporter.Event) []Problem {
	type key struct{ class, ident string }
	by := map[key]*Problem{}
	var order []key
	for i := range events {
		e := &events[i]
		k := key{e.Classification, e.Identifier}
		p := by[k]
		if p == nil {
			p = &Problem{Classification: e.Classification, Identifier: e.Identifier}
			by[k] = p
			order = append(order, k)
		}
		p.Count++
		src := Source{Name: e.Feed}
		if b.About != nil {
			src = b.About(e.Feed, e.ReportType)
		}
		if !slices.Contains(p.Sources, src) {
			p.Sources = append(p.Sources, src)
		}
		if len(p.Hosts) < b.BodyLines {
			host := e.IP.String()
			if e.Port != 0 {
				host = net.JoinHostPort(host, strconv.Itoa(e.Port))
			}
			p.Hosts = append(p.Hosts, fmt.Sprintf("%s at %s UTC", host, e.Time.UTC().Format("2006-01-02 15:04")))
		} else {
			p.More++
		}
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].class != order[j].class {
			return order[i].class < order[j].class
		}
		return by[order[i]].Count > by[order[j]].Count || (by[order[i]].Count == by[order[j]].Count && order[i].ident < order[j].ident)
	})
	out := make([]Problem, len(order))
	for i, k := range order {
		out[i] = *by[k]
	}
	return out
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
	var s Summary
	for i := range events {
		s.Add(&events[i])
	}
	return s.Subject(rep)
}

// Summary is what a report's subject says of all its events, gathered one
// event at a time (a report sent in parts is read as a stream).
type Summary struct {
	counts map[string]int
	asns   map[uint32]string
	total  int
}

// Add counts an event.
func (s *Summary) Add(e *reporter.Event) {
	if s.counts == nil {
		s.counts, s.asns = map[string]int{}, map[uint32]string{}
	}
	s.counts[e.Classification]++
	if e.ASN != 0 {
		s.asns[e.ASN] = e.ASOrg
	}
	s.total++
}

// Subject is the report's subject.
func (s *Summary) Subject(rep reporter.Report) string {
	counts, asns := s.counts, s.asns
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
	if s.total == 1 {
		noun = "event"
	}
	if rep.Contact.Fallback {
		nets := "network"
		if len(asns) != 1 {
			nets = "networks"
		}
		owner = fmt.Sprintf("No contact for %d %s", max(len(asns), 1), nets)
	}
	return headerSafe(fmt.Sprintf("[%s] %s: %d %s (%s)", rep.Ref, owner, s.total, noun, strings.Join(parts, ", ")), 250)
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
