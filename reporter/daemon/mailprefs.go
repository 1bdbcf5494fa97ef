package daemon

import (
	netmail "net/mail"
	"strings"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/mail"
)

// mailPrefs are what the config's contacts ask of their mails beyond the
// addresses: the display names written with them, and a cap on the events
// of one mail. A report's recipient is its set of bare addresses, so both
// are looked up by address.
type mailPrefs struct {
	names     map[string]string // bare address -> display name
	maxEvents map[string]int    // contact key (bare addresses, joined) -> cap
}

func newMailPrefs(cfg *config.Config) mailPrefs {
	p := mailPrefs{names: map[string]string{}, maxEvents: map[string]int{}}
	for _, c := range cfg.Contacts {
		var bare []string
		for _, to := range c.To {
			list, err := netmail.ParseAddressList(to)
			if err != nil {
				continue // the config refused it already
			}
			for _, a := range list {
				addr := strings.ToLower(a.Address)
				bare = append(bare, addr)
				if a.Name != "" {
					p.names[addr] = a.Name
				}
			}
		}
		if c.MaxEvents > 0 {
			if to, err := abuse.NormalizeAddresses(bare); err == nil {
				p.maxEvents[strings.Join(to, ",")] = c.MaxEvents
			}
		}
	}
	return p
}

func (p mailPrefs) display(addr string) string { return p.names[addr] }

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
