package config

import "time"

// Default durations of keys the file may leave out.
const (
	DefaultShutdownGrace = 30 * time.Second
	DefaultGeoReload     = time.Minute
	DefaultSMTPTimeout   = 30 * time.Second
	DefaultBackoff       = 5 * time.Minute
	DefaultClaimLease    = 5 * time.Minute
	DefaultSourceTimeout = 5 * time.Minute
	DefaultFeedFailing   = 24 * time.Hour

	DefaultRDAPTTL         = 7 * 24 * time.Hour
	DefaultRDAPNegativeTTL = 24 * time.Hour
	DefaultRDAPTimeout     = 10 * time.Second
	DefaultRDAPMaxWait     = 24 * time.Hour
	DefaultRDAPBudget      = 2 * time.Minute
)

// defaults fills what the file left out, before validation: the checks
// then see one complete config and only judge it, and a default is never
// applied on one path through a check and forgotten on another.
//
// Only plain defaults are here. What is derived from other values and can
// itself be wrong stays with its check: the report prefix made from the
// CERT's name, the SQLite file when the DSN expands to nothing, paths
// resolved against the config's folder, sizes and modes read from text.
func (c *Config) defaults() {
	c.ShutdownGrace.orDefault(DefaultShutdownGrace)
	if c.Cert.Language == "" {
		c.Cert.Language = "en"
	}
	if c.Constituency.CountrySource == "" {
		c.Constituency.CountrySource = "located"
	}
	c.Geo.Reload.orDefault(DefaultGeoReload)

	st := &c.Store
	if st.Driver == "" {
		st.Driver = "sqlite"
	}
	if st.PurgeSchedule == "" {
		st.PurgeSchedule = DefaultPurgeSchedule
	}
	if st.PurgeBatch == 0 {
		st.PurgeBatch = DefaultPurgeBatch
	}
	// store.retention has no default: off unless set (see retention.go).
	if c.RIPE.Snapshot == "" {
		c.RIPE.Snapshot = "var/ripe-contacts.bin"
	}

	r := &c.RDAP
	r.TTL.orDefault(DefaultRDAPTTL)
	r.NegativeTTL.orDefault(DefaultRDAPNegativeTTL)
	r.Timeout.orDefault(DefaultRDAPTimeout)
	r.MaxWait.orDefault(DefaultRDAPMaxWait)
	r.Budget.orDefault(DefaultRDAPBudget)
	if r.Rate == 0 {
		r.Rate = 1
	}

	m := &c.Mail
	if m.Mode == "" {
		m.Mode = "outbox"
	}
	if m.Mode == "outbox" && m.Outbox == "" {
		m.Outbox = "var/outbox"
	}
	if m.Sign == "" {
		m.Sign = "none"
	}
	if m.SMIME.KeyFile == "" {
		m.SMIME.KeyFile = m.SMIME.CertFile // one PEM file may hold both
	}
	s := &m.SMTP
	if s.TLS == "" {
		s.TLS = "starttls"
	}
	if s.Port == 0 {
		s.Port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[s.TLS]
	}
	s.Timeout.orDefault(DefaultSMTPTimeout)
	if s.Connections == 0 {
		s.Connections = 1
	}

	rp := &c.Report
	if rp.Schedule == "" {
		rp.Schedule = DefaultReportSchedule
	}
	if rp.MaxAttempts == 0 {
		rp.MaxAttempts = 10
	}
	rp.Backoff.orDefault(DefaultBackoff)
	rp.ClaimLease.orDefault(DefaultClaimLease)

	for i := range c.Feeds {
		f := &c.Feeds[i]
		if f.Schedule == "" {
			f.Schedule = DefaultFeedSchedule
		}
		f.Repeat.orDefault(DefaultRepeat)
		// feeds[].max_age has no default: off unless set.
		if f.Source.Spool != "" {
			// Only a spool is read while a cron job may still write it.
			f.Settle.orDefault(DefaultSettle)
		} else {
			f.Source.Timeout.orDefault(DefaultSourceTimeout)
		}
		if a := f.Source.ShadowserverAPI; a != nil {
			if a.URL == "" {
				a.URL = "https://transform.shadowserver.org/api2/"
			}
			if a.DownloadURL == "" {
				a.DownloadURL = "https://dl.shadowserver.org/"
			}
			if a.Days == 0 {
				a.Days = 2
			}
		}
	}
	for i := range c.Flows {
		c.Flows[i].Window.orDefault(DefaultFlowWindow)
		c.Flows[i].Repeat.orDefault(DefaultRepeat)
	}

	c.HTTP.FeedFailing.orDefault(DefaultFeedFailing)
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}
