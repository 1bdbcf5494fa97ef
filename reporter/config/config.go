// Package config loads autoreporter's YAML file: unknown keys are refused,
// defaults applied, relative paths resolved against the file's folder,
// secrets read from the environment or from files, and every mistake
// reported with its key, not just the first one.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/templates"
)

// Config is the whole file.
type Config struct {
	Cert         Cert         `yaml:"cert"`
	Constituency Constituency `yaml:"constituency"`
	Geo          Geo          `yaml:"geo"`
	Store        Store        `yaml:"store"`
	Mail         Mail         `yaml:"mail"`
	Report       Report       `yaml:"report"`
	Feeds        []Feed       `yaml:"feeds"`
	Flows        []Flow       `yaml:"flows"`
	Contacts     []Contact    `yaml:"contacts"`
	RIPE         RIPE         `yaml:"ripe"`
	RDAP         RDAP         `yaml:"rdap"`
	HTTP         HTTP         `yaml:"http"`
	Log          Log          `yaml:"log"`
	// ShutdownGrace is how long a stop (SIGTERM) waits for the job under
	// way before cutting it short; default 30s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// Templates is a folder whose files override the embedded templates.
	Templates string `yaml:"templates"`

	// Path is the file the config was read from.
	Path string `yaml:"-"`
}

// RIPE is the offline copy of the RIPE database's abuse contacts, made by
// `autoreporter contacts import ripe DIR` from the split dumps.
type RIPE struct {
	// Snapshot is where the import is kept; default var/ripe-contacts.bin.
	Snapshot string `yaml:"snapshot"`
	// ConstituencyOnly keeps only the ranges that touch the constituency:
	// a much smaller table when the constituency is one country.
	ConstituencyOnly bool `yaml:"constituency_only"`
}

// RDAP asks registries online for the addresses no override and no RIPE
// import answers. Off unless server is set.
type RDAP struct {
	// Server is the base URL: a registry's ("https://rdap.db.ripe.net") or
	// a redirector to the right one ("https://rdap.org").
	Server      string   `yaml:"server"`
	TTL         Duration `yaml:"ttl"`          // how long an answer is used; default 7d
	NegativeTTL Duration `yaml:"negative_ttl"` // how long "no abuse contact" is believed; default 1d
	Rate        float64  `yaml:"rate"`         // queries per second; default 1
	Timeout     Duration `yaml:"timeout"`      // per query; default 10s
	// MaxWait is how long events wait for an answer before they go to an
	// expired answer or the fallback contact; default 24h.
	MaxWait Duration `yaml:"max_wait"`
	// Budget caps the time one pass spends asking; default 2m.
	Budget Duration `yaml:"budget"`
}

// Cert says who is reporting.
type Cert struct {
	Name            string `yaml:"name"`
	From            string `yaml:"from"`
	FallbackContact List   `yaml:"fallback_contact"`
	ReportPrefix    string `yaml:"report_prefix"`
	// Language of reports to contacts that set none.
	Language string `yaml:"language"`
}

// Constituency is the address space the CERT is responsible for.
type Constituency struct {
	Countries     []string `yaml:"countries"`
	CountrySource string   `yaml:"country_source"`
	ASNs          []string `yaml:"asns"`
	CIDRs         []string `yaml:"cidrs"`
	Exclude       []string `yaml:"exclude"`
	// Delegated is an RIR's delegated-stats file (delegated-ripencc-latest):
	// what it registers to the countries is in the constituency too.
	Delegated string `yaml:"delegated"`

	spec geo.ConstituencySpec
}

// Geo names the .mmdb files.
type Geo struct {
	ASNDB     string `yaml:"asn_db"`
	CountryDB string `yaml:"country_db"`
	// Layout is maxmind (also DB-IP) or ipinfo; empty reads it from each
	// file's metadata.
	Layout string `yaml:"layout"`
	// Reload is how often the files are checked for a new version
	// (geoipupdate replaces them weekly); default 1m, 0 turns it off.
	Reload Duration `yaml:"reload"`
}

// Store selects the backend.
type Store struct {
	Driver string `yaml:"driver"`
	// DSN is the SQLite file, or PostgreSQL's connection string (a URL or
	// key=value pairs; the password from ${ENV}, PGPASSWORD or ~/.pgpass).
	DSN Secret `yaml:"dsn"`
	// MaxConns caps PostgreSQL's connection pool (default 4).
	MaxConns int32 `yaml:"max_conns"`
	// Retention is how long sent reports, closed events and bookkeeping
	// are kept ("400d"); empty or 0 keeps everything (see retention.go).
	Retention Duration `yaml:"retention"`
	// PurgeSchedule is when the purge runs (default @hourly).
	PurgeSchedule string `yaml:"purge_schedule"`
	// PurgeBatch is how many rows one purge transaction removes at most
	// (default 5,000).
	PurgeBatch int `yaml:"purge_batch"`
}

// Mail says how reports leave.
type Mail struct {
	Mode   string `yaml:"mode"`
	Outbox string `yaml:"outbox"`
	// OutboxMode is the octal permission of the outbox's files ("0640"):
	// the relay that sends them often runs as another user of the group.
	OutboxMode string `yaml:"outbox_mode"`
	SMTP       SMTP   `yaml:"smtp"`
	// MaxSize caps one mail ("10MB", the default); a larger report goes
	// out in numbered parts, each a whole mail. A relay's SMTP SIZE wins
	// when it is smaller.
	MaxSize string `yaml:"max_size"`
	// BodyLines is how many affected hosts each problem lists in the
	// body (default 20), so a desk with one host needs no attachment.
	BodyLines *int `yaml:"body_lines"`
	// Signature ends every report: web page, phone, PGP fingerprint.
	Signature string `yaml:"signature"`
	// TLP, when set, heads every report (CLEAR, GREEN, AMBER,
	// AMBER+STRICT, RED).
	TLP string `yaml:"tlp"`
	// ReplyTo is where ISPs' answers go, when not to cert.from.
	ReplyTo string `yaml:"reply_to"`
	// JSON attaches the events as JSON too, one object per event with
	// IntelMQ's field names.
	JSON bool `yaml:"json"`
	// CSVPerType attaches one CSV per report type (REF-scan_rdp.csv),
	// each with its type's own columns, instead of one for all.
	CSVPerType bool `yaml:"csv_per_type"`
	// Sign is how reports are signed: none, pgp-mime (RFC 3156),
	// pgp-inline (clearsigned text, the attachments with detached
	// signatures) or smime; a contact may ask for another (contacts[].sign).
	Sign  string `yaml:"sign"`
	PGP   PGP    `yaml:"pgp"`
	SMIME SMIME  `yaml:"smime"`
	DKIM  DKIM   `yaml:"dkim"`

	// OutboxFileMode is OutboxMode read; DefaultOutboxMode when unset.
	OutboxFileMode fs.FileMode `yaml:"-"`
	MaxBytes       int64       `yaml:"-"`
	BodyLineCount  int         `yaml:"-"`
}

// SMTP is the relay reports are sent through.
type SMTP struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// TLS is starttls (required), tls (implicit, port 465) or none.
	TLS string `yaml:"tls"`
	// Timeout is how long the connection may sit idle: a command not
	// answered, a mail's bytes not taken (default 30s). A whole large mail
	// may take longer, as long as the relay keeps reading.
	Timeout Duration `yaml:"timeout"`
	// Rate caps mails a second through the relay; DomainRate per
	// recipient domain. 0 (the default) is no cap.
	Rate       float64 `yaml:"rate"`
	DomainRate float64 `yaml:"domain_rate"`
	// Connections is how many mails go out at once, each over a
	// connection of its own (default 1, at most 32).
	Connections int `yaml:"connections"`
}

// Report tunes report runs and deliveries.
type Report struct {
	Schedule    string `yaml:"schedule"`
	MaxAttempts int    `yaml:"max_attempts"`
	// Backoff is the wait before a failed delivery is tried again; each
	// attempt waits longer (default 5m).
	Backoff Duration `yaml:"backoff"`
	// ClaimLease is how long an instance's claim on a report it sends
	// holds (default 5m, renewed by every part): after an instance dies
	// mid-send, another sends the report again once the lease is over.
	ClaimLease Duration `yaml:"claim_lease"`
}

// Feed is one configured source and its format.
type Feed struct {
	Name     string `yaml:"name"`
	Format   string `yaml:"format"`
	Source   Source `yaml:"source"`
	Schedule string `yaml:"schedule"`
	// Repeat is the window in which an owner is not told the same thing
	// again (default 24h).
	Repeat Duration `yaml:"repeat"`
	// ReportType forces the Shadowserver report type instead of taking it
	// from each file name.
	ReportType string `yaml:"report_type"`
	// Schema is Shadowserver's reports.json; without it the built-in report
	// table is used. A schema that is named must exist (Load) and parse
	// (check-config): a typo must not quietly fall back to the table.
	Schema string `yaml:"schema"`
	// Title names the source in the mail ("Feodo Tracker"); Reference is
	// its page, for the ISP to read more. Shadowserver feeds and the
	// abuse.ch presets have both built in.
	Title     string           `yaml:"title"`
	Reference string           `yaml:"reference"`
	CSV       *CSVFormat       `yaml:"csv"`
	Blocklist *BlocklistFormat `yaml:"blocklist"`
	JSON      *JSONFormat      `yaml:"json"`
	// Settle is how long a file must sit unchanged in a spool folder
	// before it is taken (spool sources only; default 5s), so that a file
	// still being written is not read half. 0 for other sources.
	Settle Duration `yaml:"settle"`
	// MaxAge holds rows older than this out of reports: a feed that
	// re-sends old observations, or a backlog after an outage, does not
	// mail ISPs about last month. Unset or 0 is off.
	MaxAge Duration `yaml:"max_age"`
}

// Source is where a feed's bytes come from: a spool folder, a URL, or the
// Shadowserver Reports API.
type Source struct {
	Spool           string           `yaml:"spool"`
	URL             string           `yaml:"url"`
	ShadowserverAPI *ShadowserverAPI `yaml:"shadowserver_api"`
	// Headers and Query carry API keys (abuse.ch's Auth-Key): secrets,
	// usually written ${NAME}.
	Headers map[string]Secret `yaml:"headers"`
	Query   map[string]Secret `yaml:"query"`
	MaxSize string            `yaml:"max_size"` // "512MB"
	// Timeout caps one download (url and API sources; default 5m).
	Timeout Duration `yaml:"timeout"`
	Retries *int     `yaml:"retries"`

	MaxBytes   int64 `yaml:"-"`
	RetryCount int   `yaml:"-"`
}

// ShadowserverAPI is the Reports API: reports/list over a window of days,
// each listed report downloaded once.
type ShadowserverAPI struct {
	Key         Secret `yaml:"key"`
	Secret      Secret `yaml:"secret"`
	URL         string `yaml:"url"`          // default https://transform.shadowserver.org/api2/
	DownloadURL string `yaml:"download_url"` // default https://dl.shadowserver.org/
	Days        int    `yaml:"days"`         // the window: today and the days before; default 2
	Reports     List   `yaml:"reports"`      // report (mailing list) names; default all
	Types       List   `yaml:"types"`        // report types; default all
}

// CSVFormat describes a generic delimited feed.
type CSVFormat struct {
	Delimiter      string            `yaml:"delimiter"`
	Comment        string            `yaml:"comment"`
	TimeFormat     string            `yaml:"time_format"`
	Columns        map[string]string `yaml:"columns"`
	Classification string            `yaml:"classification"`
	Identifier     string            `yaml:"identifier"`
	// Where keeps only rows whose column has the given value.
	Where map[string]string `yaml:"where"`
	// Header names the columns of files that have no header row.
	Header List `yaml:"header"`
	// TrimLeadingSpace reads `"a", "b"` as two quoted fields.
	TrimLeadingSpace bool `yaml:"trim_leading_space"`
}

// JSONFormat describes a JSON-lines or JSON-array feed.
type JSONFormat struct {
	Fields         map[string]string `yaml:"fields"` // event field -> dotted JSON path
	Classification string            `yaml:"classification"`
	Identifier     string            `yaml:"identifier"`
	TimeFormat     string            `yaml:"time_format"`
}

// BlocklistFormat describes a plain blocklist: one address or CIDR a line.
type BlocklistFormat struct {
	Classification string `yaml:"classification"` // default blocklist
	Identifier     string `yaml:"identifier"`     // default the file name
}

// Contact is an operator's override: where reports about a CIDR or an ASN go.
type Contact struct {
	ASN      string `yaml:"asn"`
	CIDR     string `yaml:"cidr"`
	To       List   `yaml:"to"`
	Language string `yaml:"language"`
	Format   string `yaml:"format"`  // csv (attachment, default), inline or zip
	Inhibit  bool   `yaml:"inhibit"` // keep the events, send nothing
	Until    string `yaml:"until"`   // RFC 3339 time or date; the override ends then
	Note     string `yaml:"note"`
	// MaxEvents caps the events of one mail to this contact; more go out
	// in numbered parts (0: only mail.max_size decides).
	MaxEvents int `yaml:"max_events"`
	// Sign overrides mail.sign for this contact.
	Sign string `yaml:"sign"`

	override abuse.Override
}

// Defaults.
const (
	// DefaultOutboxMode lets the owner write and the group read (mail.outbox_mode).
	DefaultOutboxMode fs.FileMode = 0o640

	// DefaultSettle is how long a spool file must sit unchanged (feeds[].settle).
	DefaultSettle = 5 * time.Second

	DefaultRepeat         = 24 * time.Hour
	DefaultFeedSchedule   = "@every 15m"
	DefaultReportSchedule = "@hourly"
)

// FieldError is one mistake in the file.
type FieldError struct {
	Key  string // "constituency.cidrs[2]"
	Line int    // 0 when unknown
	Msg  string
}

func (e FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", e.Key, e.Msg, e.Line)
	}
	return e.Key + ": " + e.Msg
}

// Errors is every mistake found in one file.
type Errors struct {
	Path string
	List []FieldError
}

func (e *Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config %s: %d problem(s):", e.Path, len(e.List))
	for _, fe := range e.List {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

func (e *Errors) add(key string, line int, format string, args ...any) {
	e.List = append(e.List, FieldError{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Load reads, checks and completes the config at path. On mistakes it
// returns *Errors listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("config: %w (pass --config FILE or set $AUTOREPORTER_CONFIG; start from config.example.yaml)", err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(data, abs, os.LookupEnv)
}

// Parse checks and completes a config read from path; env looks up
// environment variables for ${VAR} secrets.
func Parse(data []byte, path string, env func(string) (string, bool)) (*Config, error) {
	errs := &Errors{Path: path}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) || (err == nil && isNull(&root)) {
		return nil, fmt.Errorf("config %s is empty: a config needs at least cert (name, from, fallback_contact), "+
			"constituency, geo.asn_db and one feed; start from config.example.yaml", path)
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: not valid YAML: %w", path, err)
	}
	var cfg Config
	if len(root.Content) > 0 {
		checkKeys(root.Content[0], typeOfConfig, "", errs)
		if err := root.Content[0].Decode(&cfg); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, m := range te.Errors {
					errs.add("(type)", 0, "%s", m)
				}
			} else {
				errs.add("(document)", 0, "%v", err)
			}
		}
	}
	cfg.Path = path
	cfg.defaults()
	v := validator{cfg: &cfg, errs: errs, dir: filepath.Dir(path), env: env, lines: lineIndex(&root)}
	v.validate()
	if len(errs.List) > 0 {
		return nil, errs
	}
	return &cfg, nil
}

// isNull reports whether a document holds nothing: "---" or "~" alone.
func isNull(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

type validator struct {
	cfg   *Config
	errs  *Errors
	dir   string
	env   func(string) (string, bool)
	lines map[string]int
}

func (v *validator) add(key, format string, args ...any) {
	v.errs.add(key, v.lines[key], format, args...)
}

func (v *validator) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

var (
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	langRE   = regexp.MustCompile(`^[a-z]{2}$`)
	ccRE     = regexp.MustCompile(`^[A-Z]{2}$`)
)

func (v *validator) validate() {
	c := v.cfg
	v.durations(reflect.ValueOf(c).Elem(), "")
	// cert
	if c.Cert.Name == "" {
		v.add("cert.name", "is required: the CERT's name as it signs reports")
	}
	nameOK := v.headerValue("cert.name", c.Cert.Name)
	if c.Cert.From == "" {
		v.add("cert.from", "is required: the From address of reports")
	} else if v.headerValue("cert.from", c.Cert.From) {
		if _, err := mail.ParseAddress(c.Cert.From); err != nil {
			v.add("cert.from", "%q is not an email address", c.Cert.From)
		}
	}
	if len(c.Cert.FallbackContact) == 0 {
		v.add("cert.fallback_contact", "is required: where events with no known owner contact go")
	}
	for i, a := range c.Cert.FallbackContact {
		if _, err := abuse.NormalizeAddresses([]string{a}); err != nil {
			v.add(fmt.Sprintf("cert.fallback_contact[%d]", i), "%q is not an email address", a)
		}
	}
	switch {
	case c.Cert.ReportPrefix != "":
		if v.headerValue("cert.report_prefix", c.Cert.ReportPrefix) && !prefixRE.MatchString(c.Cert.ReportPrefix) {
			v.add("cert.report_prefix", "%q must be 1-32 letters, digits, '.', '_' or '-' (it goes into every subject)", c.Cert.ReportPrefix)
		}
	case nameOK && c.Cert.Name != "":
		// Derived from the name: a mistake is the name's, and setting the
		// prefix is the way out.
		c.Cert.ReportPrefix = strings.ReplaceAll(c.Cert.Name, " ", "-")
		if !prefixRE.MatchString(c.Cert.ReportPrefix) {
			v.add("cert.report_prefix", "is not set, and %q, made from cert.name, is not 1-32 letters, digits, '.', '_' or '-': set report_prefix (it goes into every subject)", c.Cert.ReportPrefix)
		}
	}
	if !langRE.MatchString(c.Cert.Language) {
		v.add("cert.language", "%q is not a two-letter language code", c.Cert.Language)
	}

	v.constituency()

	// geo
	c.Geo.ASNDB, c.Geo.CountryDB = v.path(c.Geo.ASNDB), v.path(c.Geo.CountryDB)
	switch c.Geo.Layout {
	case "", "maxmind", "dbip", "ipinfo":
		if c.Geo.Layout == "dbip" {
			c.Geo.Layout = "maxmind" // DB-IP's files use MaxMind's field names
		}
	default:
		v.add("geo.layout", "%q is not a layout; use maxmind, dbip or ipinfo (or leave it out to read it from the file)", c.Geo.Layout)
	}
	if c.Geo.ASNDB == "" {
		v.add("geo.asn_db", "is required: the .mmdb file that maps addresses to ASNs")
	} else {
		v.mmdb("geo.asn_db", c.Geo.ASNDB, geo.ASN)
	}
	if c.Geo.CountryDB == "" && len(c.Constituency.Countries) > 0 {
		v.add("geo.country_db", "is required when constituency.countries is set")
	} else if c.Geo.CountryDB != "" {
		v.mmdb("geo.country_db", c.Geo.CountryDB, geo.Country)
	}

	// store
	switch c.Store.Driver {
	case "sqlite":
		dsn, ok := v.secret("store.dsn", c.Store.DSN)
		if !ok {
			break
		}
		if dsn == "" {
			dsn = "var/autoreporter.db"
		}
		c.Store.DSN = Secret(v.path(dsn))
	case "postgres":
		dsn, ok := v.secret("store.dsn", c.Store.DSN)
		if !ok {
			break
		}
		if dsn == "" {
			v.add("store.dsn", "is required for postgres: a URL (postgres://user@host/db) or key=value pairs (host=/run/postgresql dbname=autoreporter)")
		}
		c.Store.DSN = Secret(dsn)
	}
	if c.Store.MaxConns < 0 || (c.Store.MaxConns == 1 && c.Store.Driver == "postgres") {
		// A job holds a connection for its lock while it works on another.
		v.add("store.max_conns", "must be 0 (the default, 4) or at least 2: a job holds one connection for its lock and works on others")
	}
	c.RIPE.Snapshot = v.path(c.RIPE.Snapshot)
	v.rdap()
	switch c.Store.Driver {
	case "sqlite", "postgres":
	default:
		v.add("store.driver", "%q is not a store driver; use sqlite or postgres", c.Store.Driver)
	}

	v.mail()
	v.report()
	v.feeds()
	v.flows()
	v.retention()
	v.contacts()
	v.templates()
	v.http()
	v.mailContent()
	v.signing()
}

// templates checks the templates folder, then that every language the
// config names has a report template, built in or in the folder: a report
// to a contact whose language has none would go out in another language
// without a word.
func (v *validator) templates() {
	c := v.cfg
	if c.Templates != "" {
		c.Templates = v.path(c.Templates)
		if st, err := os.Stat(c.Templates); err != nil || !st.IsDir() {
			v.add("templates", "%q is not a folder", c.Templates)
			return
		}
	}
	langs, err := templates.Languages(templates.FS(c.Templates))
	if err != nil {
		v.add("templates", "%v", err)
		return
	}
	check := func(key, lang string) {
		if lang == "" || !langRE.MatchString(lang) || slices.Contains(langs, lang) {
			return // unset, or already refused as not a language code
		}
		v.add(key, "language %q has no template; there are: %s", lang, strings.Join(langs, ", "))
	}
	check("cert.language", c.Cert.Language)
	for i, ct := range c.Contacts {
		check(fmt.Sprintf("contacts[%d].language", i), ct.Language)
	}
}

// headerValue refuses a control character in a value that goes into a
// mail header: a CR or LF would end the header early (or start another),
// and the mail builder would fail on it at the first report.
func (v *validator) headerValue(key, s string) bool {
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		v.add(key, "contains a control character (%U), and it goes into a mail header: %q", r, s)
		return false
	}
	return true
}

func (v *validator) fileExists(key, p string) bool {
	st, err := os.Stat(p)
	switch {
	case err != nil:
		v.add(key, "%s: %v", p, errors.Unwrap(err))
		return false
	case st.IsDir():
		v.add(key, "%s is a folder, not a file", p)
		return false
	}
	return true
}

// mmdb checks that a database file exists and that its type can answer
// role: a country database given as the ASN database would make every ASN
// unknown and send the events of every ASN rule to the fallback contact.
// Only the metadata is read here; the daemon verifies the whole file.
func (v *validator) mmdb(key, p string, role geo.Role) {
	if !v.fileExists(key, p) {
		return
	}
	if err := geo.CheckFile(p, role, geo.Layout(v.cfg.Geo.Layout)); err != nil {
		v.add(key, "%v", err)
	}
}

func (v *validator) constituency() {
	k := &v.cfg.Constituency
	spec := &k.spec
	for i, cc := range k.Countries {
		up := strings.ToUpper(strings.TrimSpace(cc))
		if !ccRE.MatchString(up) {
			v.add(fmt.Sprintf("constituency.countries[%d]", i), "%q is not a two-letter ISO 3166 country code", cc)
			continue
		}
		spec.Countries = append(spec.Countries, up)
	}
	switch k.CountrySource {
	case string(geo.Located), string(geo.Registered), string(geo.Either):
	default:
		v.add("constituency.country_source", "%q must be located, registered or either", k.CountrySource)
	}
	spec.CountrySource = geo.CountrySource(k.CountrySource)
	for i, a := range k.ASNs {
		n, err := ParseASN(a)
		if err != nil {
			v.add(fmt.Sprintf("constituency.asns[%d]", i), "%v", err)
			continue
		}
		spec.ASNs = append(spec.ASNs, n)
	}
	spec.CIDRs = v.prefixes("constituency.cidrs", k.CIDRs)
	spec.Exclude = v.prefixes("constituency.exclude", k.Exclude)
	if k.Delegated != "" {
		k.Delegated = v.path(k.Delegated)
		if len(spec.Countries) == 0 {
			v.add("constituency.delegated", "needs constituency.countries: the delegated stats are read for those countries")
		}
		v.fileExists("constituency.delegated", k.Delegated)
		spec.DelegatedFile = k.Delegated
	}
	if len(k.Countries)+len(k.ASNs)+len(k.CIDRs) == 0 {
		v.add("constituency", "lists no countries, asns or cidrs: nothing would ever be reported")
	}
}

func (v *validator) prefixes(key string, in []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		p, err := ParsePrefix(s)
		if err != nil {
			v.add(fmt.Sprintf("%s[%d]", key, i), "%q is not a CIDR", s)
			continue
		}
		out = append(out, p)
	}
	return out
}

// ParsePrefix parses a CIDR; a bare address is a host prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	return p.Masked(), nil
}

// ParseASN parses 64500 or AS64500.
func ParseASN(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "AS")
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not an AS number", s)
	}
	return uint32(n), nil
}

func (v *validator) mail() {
	m := &v.cfg.Mail
	switch m.Mode {
	case "outbox":
		m.Outbox = v.path(m.Outbox)
		m.OutboxFileMode = DefaultOutboxMode
		if m.OutboxMode != "" {
			v.outboxMode(m)
		}
	case "smtp":
		if m.OutboxMode != "" {
			v.add("mail.outbox_mode", "is only for mail.mode outbox")
		}
		s := &m.SMTP
		if s.Host == "" {
			v.add("mail.smtp.host", "is required when mail.mode is smtp")
		}
		switch s.TLS {
		case "starttls", "tls", "none":
		default:
			v.add("mail.smtp.tls", "%q must be starttls, tls or none", s.TLS)
		}
		if s.Port < 0 || s.Port > 65535 {
			v.add("mail.smtp.port", "%d is not a port", s.Port)
		}
		if s.Password != "" && s.PasswordFile != "" {
			v.add("mail.smtp.password_file", "set password or password_file, not both")
		}
		if pw, ok := v.secret("mail.smtp.password", s.Password); ok {
			s.Password = Secret(pw)
		}
		if s.PasswordFile != "" {
			s.PasswordFile = v.path(s.PasswordFile)
			b, err := os.ReadFile(s.PasswordFile)
			switch pw := strings.TrimRight(string(b), "\r\n"); {
			case err != nil:
				v.add("mail.smtp.password_file", "%v", err)
			case pw == "":
				v.add("mail.smtp.password_file", "%s is empty", s.PasswordFile)
			default:
				s.Password = Secret(pw)
			}
		}
		if s.Timeout.err == nil && s.Timeout.Duration() == 0 {
			v.add("mail.smtp.timeout", "must be more than 0")
		}
		if s.Rate < 0 {
			v.add("mail.smtp.rate", "must be 0 (no cap) or more mails a second")
		}
		if s.DomainRate < 0 {
			v.add("mail.smtp.domain_rate", "must be 0 (no cap) or more mails a second")
		}
		if s.Connections < 1 || s.Connections > 32 {
			v.add("mail.smtp.connections", "%d must be from 1 to 32: mails sent at once, a connection each", s.Connections)
		}
	default:
		v.add("mail.mode", "%q must be outbox (write .eml files) or smtp", m.Mode)
	}
}

// outboxMode reads mail.outbox_mode: octal, written "0640", 0640 or 0o640.
func (v *validator) outboxMode(m *Mail) {
	digits := strings.TrimPrefix(strings.TrimPrefix(m.OutboxMode, "0o"), "0O")
	n, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || n > 0o777 {
		v.add("mail.outbox_mode", "%q is not an octal mode (like \"0640\")", m.OutboxMode)
		return
	}
	mode := fs.FileMode(n)
	switch {
	case mode&0o002 != 0:
		v.add("mail.outbox_mode", "%04o lets any user change a mail before it is sent; use 0640 or 0644", mode)
	case mode&0o400 == 0:
		v.add("mail.outbox_mode", "%04o does not let the owner read the files it writes", mode)
	default:
		m.OutboxFileMode = mode
	}
}

func (v *validator) report() {
	r := &v.cfg.Report
	if err := checkSchedule(r.Schedule); err != nil {
		v.add("report.schedule", "%v", err)
	}
	if r.MaxAttempts < 0 {
		v.add("report.max_attempts", "must be positive")
	}
	// A lease shorter than a second would lapse while the claim is made.
	if r.ClaimLease.err == nil && r.ClaimLease.Duration() < time.Second {
		v.add("report.claim_lease", "%q is not a duration of a second or more", r.ClaimLease)
	}
}

var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// checkSchedule validates a cron spec. robfig/cron panics on some inputs
// (a bare "TZ="), so the check recovers rather than trusting the parser.
func checkSchedule(spec string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%q is not a valid schedule", spec)
		}
	}()
	if _, err := scheduleParser.Parse(spec); err != nil {
		return fmt.Errorf("%q is not a valid schedule: %v", spec, err)
	}
	return nil
}

// ScheduleParser is the parser schedules are validated with.
func ScheduleParser() cron.ScheduleParser { return scheduleParser }

func (v *validator) feeds() {
	seen := map[string]bool{}
	if len(v.cfg.Feeds) == 0 {
		v.add("feeds", "is empty: configure at least one feed")
	}
	for i := range v.cfg.Feeds {
		f := &v.cfg.Feeds[i]
		key := fmt.Sprintf("feeds[%d]", i)
		if f.Name == "" {
			v.add(key+".name", "is required")
		} else if !nameRE.MatchString(f.Name) {
			v.add(key+".name", "%q must be lower-case letters, digits, '.', '_' or '-'", f.Name)
		} else if seen[f.Name] {
			v.add(key+".name", "%q is used by another feed", f.Name)
		}
		seen[f.Name] = true
		switch f.Format {
		case "shadowserver":
			if f.CSV != nil {
				v.add(key+".csv", "is only for format csv")
			}
			if f.Schema != "" {
				// Without its schema a feed would be read with the built-in
				// table: refused here rather than warned about at ingest.
				f.Schema = v.path(f.Schema)
				v.fileExists(key+".schema", f.Schema)
			}
		case "csv":
			v.csvFormat(key+".csv", f.CSV)
			if f.Schema != "" || f.ReportType != "" {
				v.add(key, "schema and report_type are only for format shadowserver")
			}
		case "blocklist":
			if f.CSV != nil || f.Schema != "" || f.ReportType != "" {
				v.add(key, "csv, schema and report_type are not for format blocklist")
			}
		case "json":
			switch {
			case f.JSON == nil:
				v.add(key+".json", "is required for format json: at least fields.ip")
			case f.JSON.Fields["ip"] == "":
				v.add(key+".json.fields.ip", "is required: the JSON path that holds the address")
			}
			if f.JSON != nil {
				for fld := range f.JSON.Fields {
					if !slices.Contains(jsonFields, fld) {
						v.add(key+".json.fields."+fld, "is not an event field; use one of %s", strings.Join(jsonFields, ", "))
					}
				}
			}
		case "feodo", "threatfox", "urlhaus":
			if f.CSV != nil || f.Schema != "" || f.ReportType != "" {
				v.add(key, "format %s is a preset: csv, schema and report_type do not apply (use format csv to map columns yourself)", f.Format)
			}
		case "":
			v.add(key+".format", "is required: shadowserver, csv, json, blocklist, or a preset: %s", strings.Join(presets, ", "))
		default:
			v.add(key+".format", "%q is not a format; use shadowserver, csv, json, blocklist, or a preset: %s", f.Format, strings.Join(presets, ", "))
		}
		if f.JSON != nil && f.Format != "json" {
			v.add(key+".json", "is only for format json")
		}
		if f.Blocklist != nil && f.Format != "blocklist" {
			v.add(key+".blocklist", "is only for format blocklist")
		}
		v.source(key+".source", &f.Source, f.Format)
		if f.Source.Spool == "" && f.Settle.IsSet() {
			// Only a spool is read while a cron job may still write it.
			v.add(key+".settle", "is only for spool sources")
		}
		if d := f.MaxAge.Duration(); f.MaxAge.err == nil && d > 0 && d < time.Hour {
			// "3m" meant as three months is three minutes: every row
			// would be held out, without a word.
			v.add(key+".max_age", "%q is less than an hour: nearly every row would be held out of reports (m is minutes; write 3d or 12w)", f.MaxAge)
		}
		if err := checkSchedule(f.Schedule); err != nil {
			v.add(key+".schedule", "%v", err)
		}
	}
}

func (v *validator) source(key string, s *Source, format string) {
	set := 0
	for _, b := range []bool{s.Spool != "", s.URL != "", s.ShadowserverAPI != nil} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		v.add(key, "needs spool (a folder files are dropped into), url or shadowserver_api")
	case set > 1:
		v.add(key, "set one of spool, url and shadowserver_api")
	case s.Spool != "":
		s.Spool = v.path(s.Spool)
		if len(s.Headers)+len(s.Query) > 0 || s.MaxSize != "" || s.Timeout.IsSet() || s.Retries != nil {
			v.add(key, "headers, query, max_size, timeout and retries are only for url sources")
		}
	default:
		if s.ShadowserverAPI != nil {
			v.shadowserverAPI(key+".shadowserver_api", s.ShadowserverAPI, format)
			if len(s.Headers)+len(s.Query) > 0 {
				v.add(key, "headers and query are only for url sources; the API is signed with key and secret")
			}
		} else {
			v.httpURL(key+".url", s.URL)
		}
		for _, m := range []struct {
			name string
			vals map[string]Secret
		}{{"headers", s.Headers}, {"query", s.Query}} {
			for k, val := range m.vals {
				if out, ok := v.secret(key+"."+m.name+"."+k, val); ok {
					m.vals[k] = Secret(out)
				}
			}
		}
		s.MaxBytes = 512 << 20
		if s.MaxSize != "" {
			n, err := ParseSize(s.MaxSize)
			if err != nil {
				v.add(key+".max_size", "%v", err)
			}
			s.MaxBytes = n
		}
		if s.Timeout.err == nil && s.Timeout.Duration() == 0 {
			v.add(key+".timeout", "must be more than 0")
		}
		s.RetryCount = 3
		if s.Retries != nil {
			if *s.Retries < 0 || *s.Retries > 20 {
				v.add(key+".retries", "%d must be from 0 to 20", *s.Retries)
			}
			s.RetryCount = *s.Retries
		}
	}
}

func (v *validator) httpURL(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key, "%q is not an http or https URL", raw)
	}
}

func (v *validator) shadowserverAPI(key string, a *ShadowserverAPI, format string) {
	if format != "shadowserver" {
		v.add(key, "is only for format shadowserver")
	}
	for _, f := range []struct {
		name string
		val  *Secret
	}{{"key", &a.Key}, {"secret", &a.Secret}} {
		if *f.val == "" {
			v.add(key+"."+f.name, "is required (write it as ${ENV_VAR})")
			continue
		}
		if out, ok := v.secret(key+"."+f.name, *f.val); ok {
			if out == "" {
				v.add(key+"."+f.name, "is empty")
			}
			*f.val = Secret(out)
		}
	}
	v.httpURL(key+".url", a.URL)
	v.httpURL(key+".download_url", a.DownloadURL)
	if a.Days < 1 || a.Days > 31 {
		v.add(key+".days", "%d must be from 1 to 31", a.Days)
	}
}

// ParseSize parses a byte count: 1048576, 512KB, 200MB, 2GB (powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (like 200MB)", s)
	}
	return n * mult, nil
}

var (
	jsonFields = []string{"ip", "time", "port", "protocol", "hostname", "classification", "identifier"}
	csvFields  = []string{"ip", "url", "time", "port", "protocol", "hostname", "classification", "identifier"}
	// Presets are abuse.ch layouts known to the csv parser (csvfeed.Presets).
	presets = []string{"feodo", "threatfox", "urlhaus"}
)

func (v *validator) csvFormat(key string, c *CSVFormat) {
	if c == nil {
		v.add(key, "is required for format csv: at least columns.ip")
		return
	}
	if c.Columns["ip"] == "" && c.Columns["url"] == "" {
		v.add(key+".columns.ip", "is required: the column that holds the address (or columns.url, for feeds of URLs)")
	}
	if c.Columns["ip"] != "" && c.Columns["url"] != "" {
		v.add(key+".columns", "map ip or url, not both")
	}
	for f := range c.Columns {
		if !slices.Contains(csvFields, f) {
			v.add(key+".columns."+f, "is not an event field; use one of %s", strings.Join(csvFields, ", "))
		}
	}
	for _, k := range []struct{ name, val string }{{"delimiter", c.Delimiter}, {"comment", c.Comment}} {
		if len([]rune(k.val)) > 1 {
			v.add(key+"."+k.name, "%q must be one character", k.val)
		}
	}
}

func (v *validator) contacts() {
	for i := range v.cfg.Contacts {
		c := &v.cfg.Contacts[i]
		key := fmt.Sprintf("contacts[%d]", i)
		o := abuse.Override{Language: c.Language, Format: c.Format, Inhibit: c.Inhibit, Note: c.Note, Origin: "config",
			MaxEvents: c.MaxEvents, Sign: c.Sign}
		switch {
		case c.ASN != "" && c.CIDR != "":
			v.add(key, "set asn or cidr, not both")
		case c.ASN != "":
			n, err := ParseASN(c.ASN)
			if err != nil {
				v.add(key+".asn", "%v", err)
			}
			o.ASN = n
		case c.CIDR != "":
			p, err := ParsePrefix(c.CIDR)
			if err != nil {
				v.add(key+".cidr", "%q is not a CIDR", c.CIDR)
			}
			o.CIDR = p
		default:
			v.add(key, "needs asn or cidr")
		}
		if len(c.To) == 0 && !c.Inhibit {
			v.add(key+".to", "is required: the addresses reports go to (or set inhibit: true)")
		}
		if !abuse.ValidFormat(c.Format) {
			v.add(key+".format", "%q is not %s", c.Format, abuse.FormatHelp)
		}
		if c.Until != "" {
			t, err := ParseUntil(c.Until)
			if err != nil {
				v.add(key+".until", "%v", err)
			}
			o.Until = t
		}
		for j, a := range c.To {
			if _, err := abuse.NormalizeAddresses([]string{a}); err != nil {
				v.add(fmt.Sprintf("%s.to[%d]", key, j), "%q is not an email address", a)
			}
		}
		o.To = c.To
		if c.Language != "" && !langRE.MatchString(c.Language) {
			v.add(key+".language", "%q is not a two-letter language code", c.Language)
		}
		c.override = o
	}
}

func (v *validator) rdap() {
	r := &v.cfg.RDAP
	for _, d := range []struct {
		key string
		val Duration
	}{{"ttl", r.TTL}, {"negative_ttl", r.NegativeTTL}, {"timeout", r.Timeout}, {"max_wait", r.MaxWait}, {"budget", r.Budget}} {
		if d.val.err == nil && d.val.Duration() == 0 {
			v.add("rdap."+d.key, "must be more than 0")
		}
	}
	if r.Rate < 0 {
		v.add("rdap.rate", "must be more than 0 (queries per second)")
	}
	if r.Server != "" {
		u, err := url.Parse(r.Server)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add("rdap.server", "%q is not an http(s) URL", r.Server)
		}
	}
}

// ParseUntil reads an expiry: an RFC 3339 time, or a date (the start of
// that day, UTC).
func ParseUntil(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-01-31) or an RFC 3339 time", s)
}

// ConstituencySpec returns the checked constituency.
func (c *Config) ConstituencySpec() geo.ConstituencySpec { return c.Constituency.spec }

// Overrides returns the checked contact overrides.
func (c *Config) Overrides() []abuse.Override {
	out := make([]abuse.Override, len(c.Contacts))
	for i, ct := range c.Contacts {
		out[i] = ct.override
	}
	return out
}

// Feed returns the feed with the given name.
func (c *Config) Feed(name string) (*Feed, bool) {
	for i := range c.Feeds {
		if c.Feeds[i].Name == name {
			return &c.Feeds[i], true
		}
	}
	return nil, false
}

// IsLanguage reports whether s is a two-letter language code, as reports'
// languages are named.
func IsLanguage(s string) bool { return langRE.MatchString(s) }
