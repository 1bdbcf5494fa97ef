// Package daemon wires autoreporter together: config to geo, contacts,
// store, parsers, mailer and schedules. It is the only package that imports
// the adapters side by side; cmd/autoreporter only parses flags and calls it.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/abuse/ripe"
	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/feed/blocklist"
	"github.com/autoreporter/autoreporter/reporter/feed/csvfeed"
	"github.com/autoreporter/autoreporter/reporter/feed/jsonfeed"
	"github.com/autoreporter/autoreporter/reporter/feed/shadowserver"
	"github.com/autoreporter/autoreporter/reporter/feed/unpack"
	"github.com/autoreporter/autoreporter/reporter/mail"
	"github.com/autoreporter/autoreporter/reporter/mail/sign"
	"github.com/autoreporter/autoreporter/reporter/metrics"
	"github.com/autoreporter/autoreporter/templates"
	"golang.org/x/time/rate"
)

// Options are what the caller decides beyond the config.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// Sleep waits between HTTP retries; tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
	// Version is the build's version, for the start log line.
	Version string
	// Settle makes the spool wait for each feed's settle time (a file
	// must sit unchanged that long before it is taken). Without it files
	// are taken at once: run --once, and tests.
	Settle bool
	// LazyContacts reads the RIPE snapshot at the first contact question
	// instead of at start, for commands that seldom ask one (history).
	LazyContacts bool
}

// Daemon is a wired autoreporter.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	settle   bool
	version  string
	sleep    func(ctx context.Context, d time.Duration) error
	geo      *geo.Live
	ripe     *abuse.RIPE
	rdap     *abuse.RDAP // nil when rdap.server is not set
	contacts atomic.Pointer[abuse.Resolver]
	store    reporter.Store
	builder  *mail.Builder
	mailer   *mail.Mailer // unwrapped: report --preview sends it elsewhere
	signer   *sign.Signer
	// prefs follow the overrides: rebuilt with the resolver.
	prefs    atomic.Pointer[mailPrefs]
	parsers  map[string]reporter.Parser
	ingester *reporter.Ingester
	reporter *reporter.Reporter
	locks    locker
	metrics  *metrics.Metrics
	closers  []io.Closer // closed with the daemon (the SMTP session)
	skipped  sync.Map    // spool entries already logged as left alone
	// references give a Shadowserver feed's report type's page (schema).
	references map[string]func(reportType string) string
	// instance names this process in report claims and recorded job runs.
	instance string
	wakeMu   sync.Mutex
	wake     map[string]time.Time // job -> when it should run again before its schedule says
	// flows are the flow collectors; flowsRunning once Run started them.
	flows        []*flowRunner
	flowsRunning bool
}

// wakeAt asks for the named job to run again at t (a spool file settles,
// a failed mail is due again), sooner than its schedule if that is later.
func (d *Daemon) wakeAt(job string, t time.Time) {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	if d.wake == nil {
		d.wake = map[string]time.Time{}
	}
	if w, ok := d.wake[job]; !ok || t.Before(w) {
		d.wake[job] = t
	}
}

// takeWake returns and forgets when a job asked to run again.
func (d *Daemon) takeWake(job string) (time.Time, bool) {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	t, ok := d.wake[job]
	delete(d.wake, job)
	return t, ok
}

// New opens everything the config names. Any problem is an error that
// names the file or key at fault.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Daemon, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &Daemon{cfg: cfg, log: opt.Log, now: opt.Now, settle: opt.Settle, version: opt.Version, sleep: opt.Sleep, instance: instanceName()}
	var err error
	if d.geo, err = geo.OpenLive(cfg.Geo.ASNDB, cfg.Geo.CountryDB, geo.Layout(cfg.Geo.Layout), cfg.ConstituencySpec(), d.log); err != nil {
		return nil, err
	}
	if opt.LazyContacts {
		d.ripe = abuse.OpenRIPELazy(cfg.RIPE.Snapshot, cfg.Cert.Language)
	} else if d.ripe, err = abuse.OpenRIPE(cfg.RIPE.Snapshot, cfg.Cert.Language); err != nil {
		d.Close()
		return nil, fmt.Errorf("ripe.snapshot: %w", err)
	}
	repeat := d.repeatWindow
	if d.builder, err = mail.NewBuilder(templates.FS(cfg.Templates), cfg.Cert.Name, cfg.Cert.From, cfg.Cert.Language, repeat); err != nil {
		d.Close()
		return nil, err
	}
	d.prefs.Store(newMailPrefs(nil)) // loadContacts fills them
	signer, err := newSigner(cfg)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.signer = signer
	d.builder.About = d.about
	d.builder.Display = func(addr string) string { return d.prefs.Load().display(addr) }
	d.builder.ReplyTo, d.builder.TLP, d.builder.Signature = cfg.Mail.ReplyTo, cfg.Mail.TLP, cfg.Mail.Signature
	d.builder.BodyLines, d.builder.JSON, d.builder.PerType = cfg.Mail.BodyLineCount, cfg.Mail.JSON, cfg.Mail.CSVPerType
	if d.store, d.locks, err = OpenStore(ctx, cfg, d.log); err != nil {
		d.Close()
		return nil, err
	}
	if r := cfg.RDAP; r.Server != "" {
		// The rate limit and the pause are kept in the store, shared with
		// every instance on it and across restarts.
		d.rdap, err = abuse.NewRDAP(abuse.RDAPOptions{Server: r.Server, TTL: r.TTL.Duration(), NegativeTTL: r.NegativeTTL.Duration(),
			Rate: r.Rate, Timeout: r.Timeout.Duration(), Language: cfg.Cert.Language, Now: d.now,
			UserAgent: "autoreporter (" + cfg.Cert.Name + ")", Shared: d.store})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("rdap.server: %w", err)
		}
	}
	if err := d.loadContacts(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if d.rdap != nil {
		cache, err := d.store.RDAPCache(ctx)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("rdap cache: %w", err)
		}
		d.rdap.Load(cache)
	}
	d.metrics = metrics.New()
	d.gauges()
	d.parsers = map[string]reporter.Parser{}
	kinds := map[string]func(string) (string, string, bool){}
	d.references = map[string]func(string) string{}
	for _, f := range cfg.Feeds {
		p := newParser(f, d.log)
		if k, ok := p.(interface {
			Kind(string) (string, string, bool)
		}); ok {
			kinds[f.Name] = k.Kind
		}
		if r, ok := p.(interface{ Reference(string) string }); ok {
			d.references[f.Name] = r.Reference
		}
		d.parsers[f.Name] = d.metrics.Parser(f.Name, p)
	}
	d.ingester = &reporter.Ingester{
		Geo: d.geo, Constituency: d.geo, Store: d.metrics.EventWriter(d.store),
		Log: d.log, Now: d.now, LoggedRejects: 10,
	}
	pool := 0
	if p, ok := d.store.(interface{ MaxConns() int }); ok {
		pool = p.MaxConns()
	}
	d.ingester.BatchSize, d.ingester.Writers = ingestBatches(cfg.Store.Driver, pool)
	if watched := cfg.WatchedFeeds(); len(watched) > 0 {
		d.ingester.Watch = &reporter.IngestWatch{Store: d.store, Feeds: watched}
	}
	if err := d.newFlows(); err != nil {
		d.Close()
		return nil, err
	}
	var transport mail.Transport
	concurrency := 1
	switch cfg.Mail.Mode {
	case "smtp":
		s := cfg.Mail.SMTP
		from := cfg.Cert.From
		if a, err := netmail.ParseAddress(from); err == nil {
			from = a.Address // the envelope takes the bare address
		}
		smtp := &mail.SMTP{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password.Reveal(),
			TLS: s.TLS, Timeout: s.Timeout.Duration(), From: from, Throttle: mail.NewThrottle(rate.Limit(s.Rate), rate.Limit(s.DomainRate)), Log: d.log}
		if s.Connections > 1 {
			pool := mail.NewPool(s.Connections, smtp)
			d.closers = append(d.closers, pool)
			transport = pool
			concurrency = s.Connections
		} else {
			d.closers = append(d.closers, smtp)
			transport = smtp
		}
	default:
		transport = &mail.Outbox{Dir: cfg.Mail.Outbox, Mode: cfg.Mail.OutboxFileMode}
	}
	d.mailer = &mail.Mailer{Builder: d.builder, Transport: transport, Limits: func(rep reporter.Report) mail.Limits {
		return mail.Limits{MaxBytes: cfg.Mail.MaxBytes, MaxEvents: d.prefs.Load().maxEvents[rep.Contact.Key()]}
	}, Signer: signer, Method: func(rep reporter.Report) sign.Method {
		m := cfg.Mail.Sign
		if s, ok := d.prefs.Load().sign[rep.Contact.Key()]; ok && !rep.Contact.Fallback {
			m = s
		}
		meth, err := sign.ParseMethod(m) // checked by newSigner and SetOverride
		if err != nil {
			meth, _ = sign.ParseMethod(cfg.Mail.Sign)
		}
		return meth
	}}
	d.reporter = &reporter.Reporter{
		Plans: d.metrics.PlanStore(d.store), Deliveries: d.metrics.DeliverStore(d.store),
		Mailer: d.metrics.Mailer(d.mailer),
		Log:    d.log, Now: d.now, Prefix: cfg.Cert.ReportPrefix, MessageIDDomain: domainOf(cfg.Cert.From),
		Policy: d.policy, MaxAttempts: cfg.Report.MaxAttempts, Backoff: cfg.Report.Backoff.Duration(),
		Owner: d.instance, Lease: cfg.Report.ClaimLease.Duration(), Concurrency: concurrency,
		Classify: func(feed, reportType string) (string, string, bool) {
			if k := kinds[feed]; k != nil {
				return k(reportType)
			}
			return "", "", false
		},
	}
	d.log.Debug("ready", "constituency_ranges", d.geo.Current().Constituency.Ranges(), "feeds", len(cfg.Feeds))
	return d, nil
}

func newParser(f config.Feed, log *slog.Logger) reporter.Parser {
	if f.Format == "json" && f.JSON != nil {
		return &jsonfeed.Parser{Fields: f.JSON.Fields, Classification: f.JSON.Classification,
			Identifier: f.JSON.Identifier, TimeFormat: f.JSON.TimeFormat}
	}
	if f.Format == "blocklist" {
		p := &blocklist.Parser{}
		if f.Blocklist != nil {
			p.Classification, p.Identifier = f.Blocklist.Classification, f.Blocklist.Identifier
		}
		return p
	}
	if p, ok := csvfeed.Preset(f.Format); ok {
		return p
	}
	if f.Format == "csv" && f.CSV != nil {
		p := &csvfeed.Parser{Columns: f.CSV.Columns, Classification: f.CSV.Classification,
			Identifier: f.CSV.Identifier, TimeFormat: f.CSV.TimeFormat, Where: f.CSV.Where,
			Header: f.CSV.Header, TrimLeadingSpace: f.CSV.TrimLeadingSpace}
		if r := []rune(f.CSV.Delimiter); len(r) == 1 {
			p.Delimiter = r[0]
		}
		if r := []rune(f.CSV.Comment); len(r) == 1 {
			p.Comment = r[0]
		}
		return p
	}
	p := &shadowserver.Parser{ReportType: f.ReportType, Log: log}
	if f.Schema != "" {
		schema, err := shadowserver.LoadSchema(f.Schema)
		if err != nil {
			// The built-in table still classifies the common reports; an
			// unavailable schema must not stop ingest.
			log.Warn("Shadowserver schema unavailable; using the built-in report table", "feed", f.Name, slog.Any("err", err))
		} else {
			p.Schema = schema
			log.Debug("Shadowserver schema loaded", "feed", f.Name, "report_types", len(schema.Types))
		}
	}
	return p
}

// domainOf is the domain of the From address, for Message-IDs. The config
// has already checked that the address parses.
func domainOf(addr string) string {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return ""
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return domain
}

func (d *Daemon) policy(feed string) reporter.Policy {
	if f, ok := d.cfg.Feed(feed); ok {
		return reporter.Policy{Repeat: f.Repeat.Duration(), MaxAge: f.MaxAge.Duration()}
	}
	if f, ok := d.cfg.Flow(feed); ok {
		return reporter.Policy{Repeat: f.Repeat.Duration()}
	}
	// A feed removed from the config since its events came: the default
	// window still keeps an owner from being told twice.
	return reporter.Policy{Repeat: config.DefaultRepeat}
}

func (d *Daemon) repeatWindow(feed string) time.Duration {
	if f, ok := d.cfg.Feed(feed); ok {
		return f.Repeat.Duration()
	}
	if f, ok := d.cfg.Flow(feed); ok {
		return f.Repeat.Duration()
	}
	return config.DefaultRepeat
}

// Close releases the databases.
func (d *Daemon) Close() error {
	var errs []error
	for _, c := range d.closers {
		c.Close()
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	if d.geo != nil {
		errs = append(errs, d.geo.Close())
	}
	return errors.Join(errs...)
}

// Store is the daemon's store, for history and tests.
func (d *Daemon) Store() reporter.Store { return d.store }

// FileResult is what happened to one ingested file.
type FileResult struct {
	Feed  string
	File  string
	Stats reporter.IngestStats
	Err   error
}

// IngestFileProgress ingests one file as the named feed and tells
// progress, when not nil, how many bytes of the file (as stored,
// compressed or not) it has read, of how many. The feed's state is kept by
// RecordFiles, once for all the files given together.
func (d *Daemon) IngestFileProgress(ctx context.Context, feed, path string, progress func(done, total int64)) FileResult {
	res := FileResult{Feed: feed, File: path}
	p, ok := d.parsers[feed]
	if !ok {
		res.Err = fmt.Errorf("no feed named %q in %s", feed, d.cfg.Path)
		return res
	}
	f, err := os.Open(path)
	if err != nil {
		res.Err = err
		return res
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		res.Err = err
		return res
	}
	var ra io.ReaderAt = f
	if progress != nil {
		ra = &countingReaderAt{ra: f, total: info.Size(), progress: progress}
	}
	// Unpacked as the spool and HTTP sources unpack; name is what the
	// parser must see (no .gz, or the zip member's name).
	r, name, err := unpack.Reader(ra, info.Size(), path, unpack.Limits{})
	if err != nil {
		res.Err = err
		return res
	}
	// Rows set aside are kept under the file's name, as the spool keeps
	// them, so that rejects --file finds them by the name the summary
	// printed.
	res.Stats, res.Err = d.ingester.Ingest(ctx, feed, p, r, filepath.Base(name))
	return res
}

// countingReaderAt tells how far into the file reading has gone.
type countingReaderAt struct {
	ra       io.ReaderAt
	total    int64
	progress func(done, total int64)
	far      int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	if end := off + int64(n); end > c.far {
		c.far = end
		c.progress(end, c.total)
	}
	return n, err
}

// IngestFeed ingests what is waiting for one feed: its spool folder's
// files, its URL when it changed, the reports the API lists that were not
// fetched before (see collect and recordRun).
// Only one instance ingests a feed at a time: another one holding the feed
// gives ErrBusy.
func (d *Daemon) IngestFeed(ctx context.Context, f config.Feed) (res []FileResult, err error) {
	err = d.exclusive(ctx, "feed "+f.Name, false, func() error {
		res, err = d.ingestFeed(ctx, f)
		return err
	})
	return res, err
}

func (d *Daemon) ingestFeed(ctx context.Context, f config.Feed) ([]FileResult, error) {
	d.reloadContacts(ctx)
	return d.collect(ctx, f, d.source(f))
}

// RecordFiles keeps files given by hand (`autoreporter ingest`) in the
// feed's state: they count as one run of the feed that found them, by the
// rule every source follows (recordRun). complete is false when a stop
// cut the files short.
func (d *Daemon) RecordFiles(ctx context.Context, feed string, results []FileResult, complete bool) error {
	st, err := d.store.FeedState(ctx, feed)
	if err != nil {
		return fmt.Errorf("feed %s: state: %w", feed, err)
	}
	recordRun(&st, d.now().UTC(), results, complete)
	if err := d.store.SaveFeedState(ctx, st); err != nil {
		return fmt.Errorf("feed %s: save state: %w", feed, err)
	}
	return nil
}

// IngestAll ingests every feed; the feeds another instance is ingesting
// now are left to it and named in busy.
func (d *Daemon) IngestAll(ctx context.Context) (out []FileResult, busy []string, err error) {
	for _, f := range d.cfg.Feeds {
		res, err := d.IngestFeed(ctx, f)
		out = append(out, res...)
		if errors.Is(err, ErrBusy) {
			busy = append(busy, "feed "+f.Name)
			continue
		}
		if err != nil {
			return out, busy, err
		}
	}
	return out, busy, nil
}

// reloadContacts picks up a RIPE import and overrides set since the last
// pass (by `contacts import` or `contacts set` in another process). A
// broken snapshot leaves the one in use serving.
func (d *Daemon) reloadContacts(ctx context.Context) {
	changed, err := d.ripe.Reload()
	switch {
	case err != nil && !os.IsNotExist(err):
		d.log.Error("RIPE snapshot refused; still using the one loaded before", slog.Any("err", err))
	case changed:
		d.log.Info("RIPE contacts reloaded", "summary", d.ripe.Table().Summary())
	}
	if err := d.loadContacts(ctx); err != nil {
		d.log.Error("contact overrides not reloaded; still using the ones loaded before", slog.Any("err", err))
	}
}

// loadContacts builds the resolver from the config's overrides and the
// store's, which win for the same rule.
func (d *Daemon) loadContacts(ctx context.Context) error {
	stored, err := d.store.Overrides(ctx)
	if err != nil {
		return fmt.Errorf("contact overrides: %w", err)
	}
	r, err := abuse.NewResolver(abuse.MergeOverrides(d.cfg.Overrides(), stored), d.cfg.Cert.FallbackContact, d.cfg.Cert.Language)
	if err != nil {
		return fmt.Errorf("contacts: %w", err)
	}
	sources := []abuse.Source{d.ripe}
	if d.rdap != nil {
		sources = append(sources, d.rdap)
	}
	d.contacts.Store(r.WithClock(d.now).WithSources(sources...))
	overrides := r.Overrides()
	for i, o := range overrides {
		// A stored override may ask for a method whose key the config
		// no longer has: its mails are signed as mail.sign says.
		if err := d.checkSign(o.Sign); err != nil {
			d.log.Warn("contact override asks for a signing method that cannot be used; mail.sign applies", "rule", o.Key(), "sign", o.Sign, slog.Any("err", err))
			overrides[i].Sign = ""
		}
	}
	d.prefs.Store(newMailPrefs(overrides))
	return nil
}

// RIPEImport is the outcome of an import.
type RIPEImport struct {
	Table    *ripe.Table
	Diff     ripe.Diff
	Previous *ripe.Table // nil on the first import
	Took     time.Duration
}

// ImportRIPE imports the split dumps in dir, replaces the snapshot
// atomically and starts answering from it.
func (d *Daemon) ImportRIPE(ctx context.Context, dir string) (RIPEImport, error) {
	return d.ImportRIPEProgress(ctx, dir, nil)
}

// ImportRIPEProgress is ImportRIPE that tells progress how many bytes of
// the dump files it has read, of how many.
func (d *Daemon) ImportRIPEProgress(ctx context.Context, dir string, progress func(done, total int64)) (RIPEImport, error) {
	start := time.Now()
	opt := ripe.Options{Log: d.log, Now: d.now, Progress: progress}
	if d.cfg.RIPE.ConstituencyOnly {
		cons := d.geo.Current().Constituency
		opt.Keep = cons.Overlaps
	}
	t, err := ripe.Import(ctx, dir, opt)
	if err != nil {
		return RIPEImport{}, err
	}
	res := RIPEImport{Table: t, Previous: d.ripe.Table()}
	res.Diff = t.DiffFrom(res.Previous)
	if err := os.MkdirAll(filepath.Dir(d.cfg.RIPE.Snapshot), 0o750); err != nil {
		return res, err
	}
	if err := t.Save(d.cfg.RIPE.Snapshot); err != nil {
		return res, err
	}
	d.ripe.Use(t)
	res.Took = time.Since(start)
	return res, nil
}

// RIPE is the loaded RIPE import, or nil.
func (d *Daemon) RIPE() *ripe.Table { return d.ripe.Table() }

// Contact resolves an address (routed by asn), or an ASN alone when ip is
// not valid, through the whole chain, for `contacts lookup`. An address
// RDAP has not answered for yet is asked about now, and the answer cached.
func (d *Daemon) Contact(ctx context.Context, ip netip.Addr, asn uint32) (reporter.Contact, error) {
	if ip.IsValid() && asn == 0 {
		info, err := d.geo.Lookup(ip)
		if err != nil {
			return reporter.Contact{}, err
		}
		asn = info.ASN
	}
	return d.resolveNow(ctx, ip, asn)
}

func (d *Daemon) resolveNow(ctx context.Context, ip netip.Addr, asn uint32) (reporter.Contact, error) {
	c := d.contacts.Load().Resolve(ip, asn)
	if !c.Pending || d.rdap == nil || !ip.IsValid() {
		return c, nil
	}
	e, err := d.rdap.Fetch(ctx, ip)
	if err != nil {
		return c, err
	}
	if err := d.store.PutRDAP(ctx, e); err != nil {
		return c, fmt.Errorf("rdap cache: %w", err)
	}
	return d.contacts.Load().Resolve(ip, asn), nil
}

func reveal(m map[string]config.Secret) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.Reveal()
	}
	return out
}

// FeedStates returns what is remembered of every configured feed.
func FeedStates(ctx context.Context, cfg *config.Config, st reporter.Store) ([]reporter.FeedState, error) {
	var out []reporter.FeedState
	for _, f := range cfg.Feeds {
		s, err := st.FeedState(ctx, f.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ReportResult is what one report pass did.
type ReportResult struct {
	Contacts PendingResult
	Plan     reporter.PlanResult
	Deliver  reporter.DeliverStats
	// Unsent is how many reports are still to be sent after the pass
	// (retries scheduled for later); with Plan.Held() it is the backlog.
	Unsent int
}

// Report plans new reports, deciding every new event with the contacts as
// they are now (asking RDAP about owners it has not answered for), and
// delivers every pending one. With dryRun it only plans, and writes and
// sends nothing.
// Only one instance runs the report pass at a time: ErrBusy when another
// one is. A dry run takes no lock: it writes nothing.
func (d *Daemon) Report(ctx context.Context, dryRun bool) (ReportResult, error) {
	return d.reportLocked(ctx, dryRun, false)
}

func (d *Daemon) reportLocked(ctx context.Context, dryRun, wait bool) (res ReportResult, err error) {
	if dryRun {
		return d.report(ctx, true)
	}
	err = d.exclusive(ctx, "report", wait, func() error {
		res, err = d.report(ctx, false)
		return err
	})
	return res, err
}

func (d *Daemon) report(ctx context.Context, dryRun bool) (ReportResult, error) {
	var res ReportResult
	d.reloadContacts(ctx)
	pass, cancel := d.newContactPass(ctx, dryRun)
	defer cancel()
	r := *d.reporter
	r.Contacts = pass
	plan, err := r.Plan(ctx, dryRun)
	res.Plan, res.Contacts = plan, pass.res
	pass.done(plan.Reasons[reporter.WaitingContact])
	d.metrics.RDAP(pass.res.Queries, pass.res.Failed, pass.res.Fallback)
	if err != nil || dryRun {
		return res, err
	}
	res.Deliver, err = d.reporter.Deliver(ctx)
	if err != nil {
		return res, err
	}
	// Every report not sent yet, whenever its next try is; the scheduler
	// runs the pass again when the first is due, not only at its tick.
	unsent, err := d.store.PendingReports(ctx, time.Unix(1<<40, 0))
	res.Unsent = len(unsent)
	for _, r := range unsent {
		d.wakeAt("report", r.NextTry)
	}
	return res, err
}

// Summary is what one full cycle did.
type Summary struct {
	Files  []FileResult
	Ingest reporter.IngestStats
	Report ReportResult
	Purge  PurgeResult // the purge job's
	// Busy names the jobs another instance was doing, left to it.
	Busy     []string
	Outbox   string // where mails were written, in outbox mode
	Duration time.Duration
}

// RunOnce ingests every feed, then reports. Each job is recorded for
// `status` as the daemon's are. A feed another instance is ingesting is
// left to it (Summary.Busy); the report pass waits for another instance's,
// which may not have seen the events this one just stored, and then
// reports them.
func (d *Daemon) RunOnce(ctx context.Context) (Summary, error) {
	start := d.now()
	var s Summary
	if d.cfg.Mail.Mode == "outbox" {
		s.Outbox = d.cfg.Mail.Outbox
	}
	jobs, err := d.jobs()
	if err != nil {
		return s, err
	}
	for _, j := range jobs {
		report := j.Name == "report"
		got, run, err := d.runJob(ctx, j, report, "run --once "+d.instance)
		d.record(ctx, run)
		s.Files = append(s.Files, got.Files...)
		for _, f := range got.Files {
			s.Ingest.Add(f.Stats)
		}
		if report {
			s.Report = got.Report
		}
		if errors.Is(err, ErrBusy) {
			s.Busy = append(s.Busy, j.Name)
			continue
		}
		if err != nil {
			return s, err
		}
	}
	s.Duration = d.now().Sub(start)
	return s, nil
}

// Lookup explains what autoreporter would do with an address.
type Lookup struct {
	IP       netip.Addr
	Info     geo.Info
	Decision geo.Decision
	InTable  bool // the compiled range table's answer; must equal Decision.In
	Contact  reporter.Contact
	// ContactErr is why RDAP could not be asked, when Contact is pending.
	ContactErr error
}

// Lookup answers for one address. A contact RDAP has not answered for is
// asked about now; if that fails the lookup still answers, with the
// contact pending and the reason in ContactErr.
func (d *Daemon) Lookup(ctx context.Context, ip netip.Addr) (Lookup, error) {
	snap := d.geo.Current() // one version of the databases for the whole answer
	info, err := snap.DB.Lookup(ip)
	if err != nil {
		return Lookup{}, err
	}
	l := Lookup{IP: ip, Info: info, Decision: snap.Constituency.Explain(ip, info), InTable: snap.Constituency.Contains(ip)}
	l.Contact, l.ContactErr = d.resolveNow(ctx, ip, info.ASN)
	return l, nil
}

// Config is the daemon's config.
func (d *Daemon) Config() *config.Config { return d.cfg }

// ResendResult is what Resend did.
type ResendResult struct {
	Requeued []string
	Unknown  []string // refs named that are not a sent or failed report
	Deliver  reporter.DeliverStats
}

// ResendProgress makes reports pending again, the ones named by ref
// (failed or sent) or, with no refs, every report that failed since since,
// and delivers what is due now. A resent report keeps its Message-ID and
// bytes. It tells progress, when not nil, after each report it
// sent or failed to send, how many it has done of how many. Reports that
// fell due meanwhile are sent too, so the total grows to meet them.
func (d *Daemon) ResendProgress(ctx context.Context, refs []string, since time.Time, progress func(done, total int)) (ResendResult, error) {
	var res ResendResult
	if len(refs) == 0 {
		got, err := d.store.Requeue(ctx, "", since)
		if err != nil {
			return res, err
		}
		res.Requeued = got
	}
	for _, ref := range refs {
		got, err := d.store.Requeue(ctx, ref, time.Time{})
		if err != nil {
			return res, err
		}
		if len(got) == 0 {
			res.Unknown = append(res.Unknown, ref)
		}
		res.Requeued = append(res.Requeued, got...)
	}
	if len(res.Requeued) == 0 {
		return res, nil
	}
	var tell func(reporter.DeliverStats)
	if progress != nil {
		total := len(res.Requeued)
		tell = func(st reporter.DeliverStats) {
			done := st.Sent + st.Failed
			total = max(total, done)
			progress(done, total)
		}
	}
	var err error
	res.Deliver, err = d.reporter.DeliverProgress(ctx, tell)
	return res, err
}

// instanceName names this process in the claims it takes on reports:
// host, process and a random part, so that a restart is a new owner.
func instanceName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// ingestBatches says how large a batch of events ingest hands the store
// and how many batches may be on their way while the file is read on.
// Measured on a day of 1,000,000 rows all in the constituency (2 cores,
// PostgreSQL on the same machine):
//
//   - SQLite's time goes to rewriting, at each commit, the leaves of the
//     dedup and planning indexes that the batch's random keys touched, so
//     fewer, larger commits pay: 10,000 a batch 47 s, 25,000 28 s, 50,000
//     22 s (peak RSS 91 -> 197 MB), 100,000 20 s (272 MB). One writer
//     beside the parser saves a few seconds more; SQLite has one writer.
//   - PostgreSQL spends its time in the server, our process waiting: two
//     batches at once, each on a connection of its own, 28 s -> 16 s at
//     20,000 a batch; a third or fourth gains nothing on two cores. The
//     job's lock holds one connection of the pool (pool), so a pool of two
//     leaves room for one writer.
func ingestBatches(driver string, pool int) (size, writers int) {
	if driver == "postgres" {
		return 20000, max(1, min(2, pool-1))
	}
	return 50000, 1
}
