package daemon

import (
	"fmt"
	"strings"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/mail"
	"github.com/autoreporter/autoreporter/reporter/mail/sign"
)

// mailPrefs are what the contacts' overrides (the config's and those set
// with contacts set) ask of their mails beyond the addresses: the display
// names written with them, a cap on the events of one mail and a signing
// method. A report's recipient is its set of bare addresses, so they are
// looked up by address; where two overrides name the same addresses, the
// one tried first (the store's, the more specific) wins.
type mailPrefs struct {
	names     map[string]string // bare address -> display name
	maxEvents map[string]int    // contact key (bare addresses, joined) -> cap
	sign      map[string]string // contact key -> signing method
}

// newMailPrefs reads overrides as the resolver holds them: addresses
// normalised, display names in Names.
func newMailPrefs(overrides []abuse.Override) *mailPrefs {
	p := &mailPrefs{names: map[string]string{}, maxEvents: map[string]int{}, sign: map[string]string{}}
	for _, o := range overrides {
		for a, n := range o.Names {
			if _, ok := p.names[a]; !ok {
				p.names[a] = n
			}
		}
		key := strings.Join(o.To, ",")
		if _, ok := p.maxEvents[key]; !ok && o.MaxEvents > 0 {
			p.maxEvents[key] = o.MaxEvents
		}
		if _, ok := p.sign[key]; !ok && o.Sign != "" {
			p.sign[key] = o.Sign
		}
	}
	return p
}

func (p *mailPrefs) display(addr string) string { return p.names[addr] }

// builtinSources name the abuse.ch presets' sources, with their pages.
var builtinSources = map[string]mail.Source{
	"feodo":     {Name: "abuse.ch Feodo Tracker", URL: "https://feodotracker.abuse.ch/"},
	"threatfox": {Name: "abuse.ch ThreatFox", URL: "https://threatfox.abuse.ch/"},
	"urlhaus":   {Name: "abuse.ch URLhaus", URL: "https://urlhaus.abuse.ch/"},
}

// about names the source of a feed's events for the ISP: the feed's title
// and reference when the config sets them, else what the format knows
// (Shadowserver's report type, and its page from the schema), else the
// feed's name.
func (d *Daemon) about(feed, reportType string) mail.Source {
	f, ok := d.cfg.Feed(feed)
	if !ok {
		return mail.Source{Name: feed}
	}
	src := mail.Source{Name: f.Name}
	if b, ok := builtinSources[f.Format]; ok {
		src = b
	}
	if f.Format == "shadowserver" {
		src.Name = "Shadowserver"
		if reportType != "" {
			src.Name += " " + reportType
		}
		if r, ok := d.references[feed]; ok {
			src.URL = r(reportType)
		}
	}
	if f.Title != "" {
		src.Name = f.Title
	}
	if f.Reference != "" {
		src.URL = f.Reference
	}
	return src
}

// newSigner loads the keys the config names for signing, and checks that
// every method the config asks for has its key: a missing key stops the
// daemon (and check-config), not the first report.
func newSigner(cfg *config.Config) (*sign.Signer, error) {
	m := cfg.Mail
	s := &sign.Signer{}
	if m.PGP.KeyFile != "" {
		k, err := sign.LoadPGPKey(m.PGP.KeyFile, m.PGP.PassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("mail.pgp.key_file: %w", err)
		}
		s.PGP = k
	}
	if m.SMIME.CertFile != "" {
		k, err := sign.LoadSMIME(m.SMIME.CertFile, m.SMIME.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mail.smime.cert_file: %w", err)
		}
		s.SMIME = k
	}
	if m.DKIM.KeyFile != "" {
		k, err := sign.LoadDKIMKey(m.DKIM.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mail.dkim.key_file: %w", err)
		}
		s.DKIM = &sign.DKIMOptions{Domain: m.DKIM.Domain, Selector: m.DKIM.Selector, Key: k, Expire: m.DKIM.Expire.Duration()}
	}
	check := func(key, method string) error {
		meth, err := sign.ParseMethod(method)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if err := s.Check(meth); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	if err := check("mail.sign", m.Sign); err != nil {
		return nil, err
	}
	for i, c := range cfg.Contacts {
		if c.Sign != "" {
			if err := check(fmt.Sprintf("contacts[%d].sign", i), c.Sign); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// checkSign says whether mails can be signed with method ("" is mail.sign,
// always fine): a known method whose key is loaded.
func (d *Daemon) checkSign(method string) error {
	if method == "" {
		return nil
	}
	meth, err := sign.ParseMethod(method)
	if err != nil {
		return err
	}
	return d.signer.Check(meth)
}
