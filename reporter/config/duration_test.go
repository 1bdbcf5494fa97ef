package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Two bad durations in one file are both reported, each with its full key
// and line: Duration keeps its mistake instead of stopping the decode.
func TestBadDurationsAllNamed(t *testing.T) {
	dir := writeTree(t)
	src := strings.NewReplacer(
		"repeat: 24h}", "repeat: often, settle: {s: 1}}",
		"mail: {mode: outbox, outbox: var/outbox}", "mail: {mode: outbox, outbox: var/outbox}\nrdap: {budget: 2 minutes}",
	).Replace(issueConfig)
	_, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
	var errs *Errors
	if !asErrors(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	want := []string{
		`feeds[0].repeat: "often" is not a duration (like 30m, 24h, 7d) (line 9)`,
		`feeds[0].settle: expected a duration (like 30m, 24h, 7d), found a mapping (line 9)`,
		`rdap.budget: "2 minutes" is not a duration (like 30m, 24h, 7d) (line 7)`,
	}
	if len(errs.List) != len(want) {
		t.Errorf("want %d problems, got %d:\n%v", len(want), len(errs.List), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q not in:\n%v", w, err)
		}
	}
}

// A key left out has its default before validation; one written keeps its
// value, 0 included.
func TestDurationDefaults(t *testing.T) {
	dir := writeTree(t)
	src := strings.Replace(issueConfig, "repeat: 24h}", "repeat: 2w, max_age: 0}", 1) + "rdap: {ttl: 1.5d}\n"
	cfg, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Feeds[0]
	for _, tt := range []struct {
		key  string
		got  Duration
		want time.Duration
		set  bool
	}{
		{"shutdown_grace", cfg.ShutdownGrace, DefaultShutdownGrace, false},
		{"geo.reload", cfg.Geo.Reload, DefaultGeoReload, false},
		{"store.retention", cfg.Store.Retention, 0, false},
		{"rdap.ttl", cfg.RDAP.TTL, 36 * time.Hour, true},
		{"rdap.negative_ttl", cfg.RDAP.NegativeTTL, DefaultRDAPNegativeTTL, false},
		{"rdap.timeout", cfg.RDAP.Timeout, DefaultRDAPTimeout, false},
		{"rdap.max_wait", cfg.RDAP.MaxWait, DefaultRDAPMaxWait, false},
		{"rdap.budget", cfg.RDAP.Budget, DefaultRDAPBudget, false},
		{"mail.smtp.timeout", cfg.Mail.SMTP.Timeout, DefaultSMTPTimeout, false},
		{"mail.dkim.expire", cfg.Mail.DKIM.Expire, 0, false},
		{"report.backoff", cfg.Report.Backoff, DefaultBackoff, false},
		{"report.claim_lease", cfg.Report.ClaimLease, DefaultClaimLease, false},
		{"feeds[0].repeat", f.Repeat, 14 * 24 * time.Hour, true},
		{"feeds[0].max_age", f.MaxAge, 0, true},
		{"feeds[0].settle", f.Settle, DefaultSettle, false},
		{"feeds[0].source.timeout", f.Source.Timeout, 0, false}, // a spool has none
		{"http.feed_failing", cfg.HTTP.FeedFailing, DefaultFeedFailing, false},
	} {
		if tt.got.Duration() != tt.want || tt.got.IsSet() != tt.set {
			t.Errorf("%s = %v (set %v); want %v (set %v)", tt.key, tt.got.Duration(), tt.got.IsSet(), tt.want, tt.set)
		}
	}
}

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		set  bool
		err  string
	}{
		{"d: 90m", 90 * time.Minute, true, ""},
		{"d: 7d", 7 * 24 * time.Hour, true, ""},
		{"d: 0", 0, true, ""},
		{"d: ~", 0, false, ""},
		{`d: ""`, 0, false, ""},
		{"d: 24", 0, true, `"24" is not a duration`},
		{"d: [1h]", 0, true, "found a list"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			if err := yaml.Unmarshal([]byte(tt.in), &v); err != nil {
				t.Fatalf("the decode failed, and must not: %v", err)
			}
			if v.D.Duration() != tt.want || v.D.IsSet() != tt.set {
				t.Errorf("got %v (set %v); want %v (set %v)", v.D.Duration(), v.D.IsSet(), tt.want, tt.set)
			}
			switch {
			case tt.err == "" && v.D.err != nil:
				t.Errorf("unexpected error %v", v.D.err)
			case tt.err != "" && (v.D.err == nil || !strings.Contains(v.D.err.Error(), tt.err)):
				t.Errorf("error %v; want %q", v.D.err, tt.err)
			}
		})
	}
}
