package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Flow is one flow collector: NetFlow/IPFIX and sFlow listeners, or a
// goflow2 collector's stream, matched against the watched feeds' entries.
type Flow struct {
	// Name is the feed name its events carry; it may not be a feed's.
	Name string `yaml:"name"`
	// NetFlow is host:port for NetFlow v5, v9 and IPFIX (one port, the
	// version read from each datagram); SFlow for sFlow v5.
	NetFlow string `yaml:"netflow"`
	SFlow   string `yaml:"sflow"`
	// GoFlow2 is a named pipe (or a file) a goflow2 collector writes with
	// -format=bin -transport=file -transport.file=PATH -transport.file.sep=
	GoFlow2 string `yaml:"goflow2"`
	// Exporters is the allow-list (addresses or CIDRs); empty refuses all.
	Exporters List `yaml:"exporters"`
	// Watch names the feeds whose entries are watched.
	Watch List `yaml:"watch"`
	// Window is how long one aggregate (local host, watched entry) is
	// summed before it becomes an event; default 1h.
	Window Duration `yaml:"window"`
	// Repeat is the repeat window of its events, as a feed's; default 24h.
	Repeat Duration `yaml:"repeat"`
	// MaxOpen caps the open aggregates (default 1,000,000).
	MaxOpen int `yaml:"max_open"`

	ExporterPrefixes []netip.Prefix `yaml:"-"`
}

// Default flow windows.
const (
	DefaultFlowWindow = time.Hour
	// MinFlowWindow keeps a typo ("1" for one hour) from making an event
	// a second.
	MinFlowWindow = time.Second
)

func (v *validator) flows() {
	feeds := map[string]*Feed{}
	for i := range v.cfg.Feeds {
		feeds[v.cfg.Feeds[i].Name] = &v.cfg.Feeds[i]
	}
	seen := map[string]bool{}
	listens := map[string]string{}
	for i := range v.cfg.Flows {
		f := &v.cfg.Flows[i]
		key := fmt.Sprintf("flows[%d]", i)
		switch {
		case f.Name == "":
			v.add(key+".name", "is required: the feed name its events carry")
		case !nameRE.MatchString(f.Name):
			v.add(key+".name", "%q must be lower-case letters, digits, '.', '_' or '-'", f.Name)
		case feeds[f.Name] != nil:
			v.add(key+".name", "%q is a feed's name: the events of a flow carry its own", f.Name)
		case seen[f.Name]:
			v.add(key+".name", "%q is used by another flow", f.Name)
		}
		seen[f.Name] = true
		if f.NetFlow == "" && f.SFlow == "" && f.GoFlow2 == "" {
			v.add(key, "needs netflow, sflow or goflow2: where flows come from")
		}
		for _, l := range []struct{ key, addr string }{{"netflow", f.NetFlow}, {"sflow", f.SFlow}} {
			if l.addr == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(l.addr); err != nil {
				v.add(key+"."+l.key, "%q is not host:port (like 0.0.0.0:2055)", l.addr)
			} else if other, dup := listens[l.addr]; dup {
				v.add(key+"."+l.key, "%s is also %s", l.addr, other)
			}
			listens[l.addr] = key + "." + l.key
		}
		if f.GoFlow2 != "" {
			f.GoFlow2 = v.path(f.GoFlow2)
		}
		f.ExporterPrefixes = nil
		for j, e := range f.Exporters {
			p, err := ParsePrefix(e)
			if err != nil {
				v.add(fmt.Sprintf("%s.exporters[%d]", key, j), "%q is not an address or CIDR", e)
				continue
			}
			f.ExporterPrefixes = append(f.ExporterPrefixes, p)
		}
		if len(f.Watch) == 0 {
			v.add(key+".watch", "is empty: name the feeds whose addresses are watched (feodo, threatfox...)")
		}
		for j, w := range f.Watch {
			if feeds[w] == nil {
				v.add(fmt.Sprintf("%s.watch[%d]", key, j), "%q is not a configured feed", w)
			}
		}
		if f.Window.err == nil && f.Window.Duration() < MinFlowWindow {
			v.add(key+".window", "%q is less than a second", f.Window)
		}
		if f.MaxOpen < 0 {
			v.add(key+".max_open", "must be 0 (the default, 1,000,000) or more")
		}
	}
}

// Flow returns the flow with the given name.
func (c *Config) Flow(name string) (*Flow, bool) {
	for i := range c.Flows {
		if c.Flows[i].Name == name {
			return &c.Flows[i], true
		}
	}
	return nil, false
}

// WatchedFeeds maps each feed some flow watches to whether its entries'
// ports are part of them: ThreatFox lists ip:port indicators; Feodo
// Tracker's port is where the C2 was seen, and the address alone is the C2.
func (c *Config) WatchedFeeds() map[string]bool {
	out := map[string]bool{}
	for _, f := range c.Flows {
		for _, w := range f.Watch {
			if feed, ok := c.Feed(w); ok {
				out[w] = feed.Format == "threatfox"
			}
		}
	}
	return out
}
