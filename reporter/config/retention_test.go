package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	const store = "store: {driver: sqlite, dsn: var/autoreporter.db}"
	const feed = "  - {name: shadowserver, format: shadowserver, source: {spool: var/spool/shadowserver}, repeat: 24h}"
	tests := []struct {
		name, store, feed string
		want              time.Duration
		batch             int
		err               string
	}{
		{"off by default", store, feed, 0, DefaultPurgeBatch, ""},
		{"400 days", "store: {retention: 400d, purge_batch: 1000}", feed, 400 * 24 * time.Hour, 1000, ""},
		{"written off", "store: {retention: 0}", feed, 0, DefaultPurgeBatch, ""},
		{"as long as the longest repeat", "store: {retention: 7d}",
			feed + "\n  - {name: c2, format: feodo, source: {spool: var/c2}, repeat: 7d}", 7 * 24 * time.Hour, DefaultPurgeBatch, ""},
		{"shorter than a feed's repeat", "store: {retention: 3d}",
			feed + "\n  - {name: c2, format: feodo, source: {spool: var/c2}, repeat: 7d}", 0, 0,
			`store.retention: "3d" is shorter than feeds[1].repeat (c2), 168h0m0s`},
		{"minutes meant as months", "store: {retention: 400m}", feed, 0, 0, `store.retention: "400m" is less than a day`},
		{"not a duration", "store: {retention: forever}", feed, 0, 0, `store.retention: "forever" is not a duration`},
		{"shorter than the API's listing", "store: {retention: 2d}",
			`  - {name: ss, format: shadowserver, source: {shadowserver_api: {key: k, secret: s, days: 3}}}`, 0, 0,
			"store.retention: \"2d\" is shorter than feeds[0].source.shadowserver_api.days (3) and a day"},
		{"bad batch", "store: {retention: 400d, purge_batch: -5}", feed, 0, 0, "store.purge_batch: -5 must be from 1"},
		{"bad schedule", "store: {retention: 400d, purge_schedule: sometimes}", feed, 0, 0, `store.purge_schedule: "sometimes" is not a valid schedule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t)
			src := strings.Replace(strings.Replace(issueConfig, store, tt.store, 1), "  - {name: shadowserver, format: shadowserver, source: {spool: var/spool/shadowserver}, repeat: 24h}", tt.feed, 1)
			cfg, err := Parse([]byte(src), filepath.Join(dir, "config.yaml"), noEnv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error does not contain %q:\n%v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store.Retention.Duration() != tt.want || cfg.Store.PurgeBatch != tt.batch || cfg.Store.PurgeSchedule != DefaultPurgeSchedule {
				t.Errorf("retention %v batch %d schedule %q; want %v, %d, %q", cfg.Store.Retention.Duration(), cfg.Store.PurgeBatch,
					cfg.Store.PurgeSchedule, tt.want, tt.batch, DefaultPurgeSchedule)
			}
		})
	}
}
