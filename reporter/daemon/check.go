package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/feed/shadowserver"
	"github.com/autoreporter/autoreporter/reporter/mail"
	"github.com/autoreporter/autoreporter/templates"
)

// Check verifies everything a config names, beyond what config.Load
// checks: the .mmdb files open and are sound, the delegated stats, the RIPE
// snapshot and every Shadowserver schema load, the constituency compiles,
// the store opens, every template renders against sample data, every
// language a contact asks for (in the config or stored with `contacts
// set`) has a template, and every spool folder and the outbox exist or can
// be made. It returns every problem found, each naming the key at fault.
func Check(ctx context.Context, cfg *config.Config) []error {
	errs := checkSchemas(cfg)
	errs = append(errs, checkFolders(cfg)...)
	// check-config must not make what it checks: an embedded store that
	// is not there yet is checked as a throwaway one (its folder must be
	// writable), so that a mistyped path is not quietly created.
	if cfg.Store.Driver == "sqlite" {
		if _, err := os.Stat(cfg.Store.DSN.Reveal()); os.IsNotExist(err) {
			if err := writableParent(cfg.Store.DSN.Reveal()); err != nil {
				errs = append(errs, fmt.Errorf("store.dsn: %w", err))
			}
			tmp, err := os.MkdirTemp("", "autoreporter-check-")
			if err != nil {
				return append(errs, err)
			}
			defer os.RemoveAll(tmp)
			c := *cfg
			c.Store.DSN = config.Secret(filepath.Join(tmp, "check.db"))
			cfg = &c
		}
	}
	d, err := New(ctx, cfg, Options{})
	if err != nil {
		// New stops at the first thing it cannot open; open each on its
		// own so that every broken one is named by its key. New's own
		// error is then one of them, said without the key; a problem
		// behind it (the constituency, RDAP) shows once these are fixed.
		if opened := checkOpeners(ctx, cfg); len(opened) > 0 {
			return append(errs, opened...)
		}
		return append(errs, err)
	}
	defer d.Close()
	sample := sampleReport()
	for _, lang := range d.builder.Languages() {
		rep := sample.Report
		rep.Contact.Language = lang
		if _, err := d.builder.Build(rep, sample.Events); err != nil {
			errs = append(errs, fmt.Errorf("templates: %s does not render: %w", templates.ReportName(lang), err))
		}
		rep.Contact.Fallback = true
		if _, err := d.builder.Build(rep, sample.Events); err != nil {
			errs = append(errs, fmt.Errorf("templates: the fallback body for %s does not render: %w", lang, err))
		}
	}
	errs = append(errs, d.checkLanguages(ctx)...)
	if d.geo.Current().Constituency.Ranges() == 0 {
		errs = append(errs, fmt.Errorf("constituency: matches no address in %s or %s", cfg.Geo.CountryDB, cfg.Geo.ASNDB))
	}
	return errs
}

// checkSchemas reads every Shadowserver schema: config.Load has seen that
// the file is there, and the daemon would fall back to its built-in table,
// with a warning, on one that does not parse.
func checkSchemas(cfg *config.Config) []error {
	var errs []error
	for i, f := range cfg.Feeds {
		if f.Schema == "" {
			continue
		}
		if _, err := shadowserver.LoadSchema(f.Schema); err != nil {
			errs = append(errs, fmt.Errorf("feeds[%d].schema: %w", i, err))
		}
	}
	return errs
}

// checkFolders makes the folders the daemon writes into, and tries a file
// in the outbox: a relay's folder this user cannot write is found now.
func checkFolders(cfg *config.Config) []error {
	var errs []error
	for i, f := range cfg.Feeds {
		if f.Source.Spool == "" {
			continue
		}
		if err := writable(f.Source.Spool); err != nil {
			errs = append(errs, fmt.Errorf("feeds[%d].source.spool: %w", i, err))
		}
	}
	if cfg.Mail.Mode == "outbox" {
		if err := writable(cfg.Mail.Outbox); err != nil {
			errs = append(errs, fmt.Errorf("mail.outbox: %w", err))
		}
	}
	return errs
}

// writable checks that the daemon could write into dir: a file is tried in
// it when it exists; when it does not (the daemon makes it), its nearest
// existing parent must be a folder the daemon can write. Nothing is made.
func writable(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return writableParent(dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// writableParent checks the nearest existing parent of path, which the
// daemon would make path in.
func writableParent(path string) error {
	parent := filepath.Dir(path)
	for {
		st, err := os.Stat(parent)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: %s is not a folder", path, parent)
			}
			f, err := os.CreateTemp(parent, ".check-*")
			if err != nil {
				return fmt.Errorf("%s does not exist, and it cannot be made: %w", path, err)
			}
			f.Close()
			return os.Remove(f.Name())
		}
		if !os.IsNotExist(err) {
			return err
		}
		next := filepath.Dir(parent)
		if next == parent {
			return fmt.Errorf("%s: no parent folder exists", path)
		}
		parent = next
	}
}

// CheckLanguage refuses a language that has no report template, with the
// languages there are. `contacts set --lang` asks it before storing an
// override: a report in a language without a template would go out in the
// default language without a word.
func (d *Daemon) CheckLanguage(lang string) error { return d.builder.CheckLanguage(lang) }

// checkLanguages names every override whose language has no template: the
// config's by key, the stored ones by their rule.
func (d *Daemon) checkLanguages(ctx context.Context) []error {
	var errs []error
	for i, c := range d.cfg.Contacts {
		if err := d.builder.CheckLanguage(c.Language); c.Language != "" && err != nil {
			errs = append(errs, fmt.Errorf("contacts[%d].language: %w", i, err))
		}
	}
	stored, err := d.store.Overrides(ctx)
	if err != nil {
		return append(errs, fmt.Errorf("contact overrides: %w", err))
	}
	for _, o := range stored {
		if err := d.builder.CheckLanguage(o.Language); o.Language != "" && err != nil {
			errs = append(errs, fmt.Errorf("override %s (set with contacts set): %w", o.Key(), err))
		}
	}
	return errs
}

// checkOpeners opens, each on its own, what New opens, and names the key
// of each that fails.
func checkOpeners(ctx context.Context, cfg *config.Config) []error {
	var errs []error
	add := func(key string, err error) { errs = append(errs, fmt.Errorf("%s: %w", key, err)) }
	for _, db := range []struct {
		key, asn, country string
	}{
		{"geo.asn_db", cfg.Geo.ASNDB, ""},
		{"geo.country_db", "", cfg.Geo.CountryDB},
	} {
		if db.asn == "" && db.country == "" {
			continue
		}
		g, err := geo.Open(db.asn, db.country, geo.Layout(cfg.Geo.Layout))
		if err != nil {
			add(db.key, err)
			continue
		}
		g.Close()
	}
	if spec := cfg.ConstituencySpec(); spec.DelegatedFile != "" {
		if _, err := geo.LoadDelegated(spec.DelegatedFile, spec.Countries); err != nil {
			add("constituency.delegated", err)
		}
	}
	if _, err := abuse.OpenRIPE(cfg.RIPE.Snapshot, cfg.Cert.Language); err != nil {
		add("ripe.snapshot", err)
	}
	if _, err := mail.NewBuilder(templates.FS(cfg.Templates), cfg.Cert.Name, cfg.Cert.From, cfg.Cert.Language, nil); err != nil {
		if le := (*mail.LanguageError)(nil); errors.As(err, &le) {
			add("cert.language", le)
		} else {
			add("templates", err)
		}
	}
	if _, err := os.Stat(cfg.Store.DSN.Reveal()); cfg.Store.Driver != "sqlite" || err == nil {
		if st, _, err := OpenStore(ctx, cfg, nil); err != nil {
			add("store", err)
		} else {
			st.Close()
		}
	}
	return errs
}

type sample struct {
	Report reporter.Report
	Events []reporter.Event
}

func sampleReport() sample {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := reporter.Contact{To: []string{"abuse@isp.example"}, Source: "sample"}
	ev := []reporter.Event{
		{Time: t, Feed: "sample", Classification: reporter.InfectedSystem, Identifier: "andromeda", IP: netip.MustParseAddr("192.0.2.1"), Port: 1234, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP", Contact: c},
		{Time: t, Feed: "sample", Classification: reporter.VulnerableSystem, Identifier: "rdp", IP: netip.MustParseAddr("192.0.2.2"), Port: 3389, Protocol: "tcp", ASN: 64500, ASOrg: "Example ISP", Contact: c,
			Extra: []reporter.Field{{Key: "tag", Value: "rdp"}}},
	}
	return sample{Report: reporter.Report{Ref: "SAMPLE#20260102-0001", Contact: c, Created: t, MessageID: "<sample@autoreporter.invalid>"}, Events: ev}
}
