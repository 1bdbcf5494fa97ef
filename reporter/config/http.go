package config

import "net"

// HTTP is the daemon's own listener: Prometheus metrics at /metrics,
// /healthz and /readyz. Off unless listen is set.
type HTTP struct {
	// Listen is host:port, e.g. 127.0.0.1:9464. Metrics say much about the
	// constituency: bind to loopback or a management network.
	Listen string `yaml:"listen"`
	// FeedFailing is how long a feed may fail before /readyz says not
	// ready; default 24h.
	FeedFailing Duration `yaml:"feed_failing"`
	// MaxBacklog is how many held events and unsent reports /readyz
	// tolerates; 0 (the default) does not check.
	MaxBacklog int `yaml:"max_backlog"`
}

// Log says how the daemon logs.
type Log struct {
	// Format is text (key=value, the default) or json (one object a line,
	// for a log shipper).
	Format string `yaml:"format"`
}

func (v *validator) http() {
	h := &v.cfg.HTTP
	if h.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			v.add("http.listen", "%q is not host:port (like 127.0.0.1:9464)", h.Listen)
		}
	}
	if h.FeedFailing.err == nil && h.FeedFailing.Duration() == 0 {
		v.add("http.feed_failing", "must be more than 0 (like 6h)")
	}
	if h.MaxBacklog < 0 {
		v.add("http.max_backlog", "must be 0 (off) or more")
	}
	switch v.cfg.Log.Format {
	case "text", "json":
	default:
		v.add("log.format", "%q must be text or json", v.cfg.Log.Format)
	}
}
