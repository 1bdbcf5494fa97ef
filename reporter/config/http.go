package config

import (
	"net"
	"time"
)

// HTTP is the daemon's own listener: Prometheus metrics at /metrics,
// /healthz and /readyz. Off unless listen is set.
type HTTP struct {
	// Listen is host:port, e.g. 127.0.0.1:9464. Metrics say much about the
	// constituency: bind to loopback or a management network.
	Listen string `yaml:"listen"`
	// FeedFailing is how long a feed may fail before /readyz says not
	// ready; default 24h.
	FeedFailing string `yaml:"feed_failing"`
	// MaxBacklog is how many held events and unsent reports /readyz
	// tolerates; 0 (the default) does not check.
	MaxBacklog int `yaml:"max_backlog"`

	FeedFailingDuration time.Duration `yaml:"-"`
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
	h.FeedFailingDuration = 24 * time.Hour
	if h.FeedFailing != "" {
		d, err := ParseDuration(h.FeedFailing)
		if err != nil || d == 0 {
			v.add("http.feed_failing", "%q is not a duration (like 6h)", h.FeedFailing)
		}
		h.FeedFailingDuration = d
	}
	if h.MaxBacklog < 0 {
		v.add("http.max_backlog", "must be 0 (off) or more")
	}
	switch v.cfg.Log.Format {
	case "":
		v.cfg.Log.Format = "text"
	case "text", "json":
	default:
		v.add("log.format", "%q must be text or json", v.cfg.Log.Format)
	}
}

// shutdown reads shutdown_grace: how long a stop waits for the job under
// way (its mails, its batch) before cutting it short.
func (v *validator) shutdown() {
	c := v.cfg
	c.ShutdownGraceDuration = 30 * time.Second
	if c.ShutdownGrace != "" {
		d, err := ParseDuration(c.ShutdownGrace)
		if err != nil {
			v.add("shutdown_grace", "%v", err)
		}
		c.ShutdownGraceDuration = d
	}
}
