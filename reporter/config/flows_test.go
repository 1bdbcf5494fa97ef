package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The flows block from the issue, with the feeds it watches.
var flowsConfig = strings.Replace(issueConfig, "contacts:\n", `  - {name: feodo, format: feodo, source: {spool: var/spool/feodo}}
  - {name: threatfox, format: threatfox, source: {spool: var/spool/threatfox}}
contacts:
`, 1) + `flows:
  - name: backbone
    netflow: 127.0.0.1:2055
    sflow: 127.0.0.1:6343
    exporters: [192.0.2.1]
    watch: [feodo, threatfox]
    window: 1h
    repeat: 24h
`

func TestFlows(t *testing.T) {
	dir := writeTree(t)
	cfg, err := Parse([]byte(flowsConfig), filepath.Join(dir, "config.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := cfg.Flow("backbone")
	if !ok || f.Window.Duration() != time.Hour || f.Repeat.Duration() != 24*time.Hour || len(f.ExporterPrefixes) != 1 ||
		f.ExporterPrefixes[0].String() != "192.0.2.1/32" {
		t.Fatalf("flow: %+v", f)
	}
	if w := cfg.WatchedFeeds(); len(w) != 2 || w["feodo"] || !w["threatfox"] {
		t.Errorf("watched feeds (and whether ports count): %v", w)
	}

	for _, tt := range []struct {
		name    string
		replace [2]string
		want    []string
	}{
		{"no source", [2]string{"    netflow: 127.0.0.1:2055\n    sflow: 127.0.0.1:6343\n", ""}, []string{"flows[0]: needs netflow, sflow or goflow2"}},
		{"bad listen", [2]string{"netflow: 127.0.0.1:2055", "netflow: 2055"}, []string{`flows[0].netflow: "2055" is not host:port`}},
		{"one port twice", [2]string{"sflow: 127.0.0.1:6343", "sflow: 127.0.0.1:2055"}, []string{"flows[0].sflow: 127.0.0.1:2055 is also flows[0].netflow"}},
		{"bad exporter", [2]string{"exporters: [192.0.2.1]", "exporters: [192.0.2.1, router-1]"}, []string{`flows[0].exporters[1]: "router-1" is not an address or CIDR`}},
		{"unknown feed", [2]string{"watch: [feodo, threatfox]", "watch: [feodo, urlhaus]"}, []string{`flows[0].watch[1]: "urlhaus" is not a configured feed`}},
		{"nothing watched", [2]string{"watch: [feodo, threatfox]", "watch: []"}, []string{"flows[0].watch: is empty"}},
		{"bad window", [2]string{"window: 1h", "window: 1"}, []string{`flows[0].window: "1" is not a duration`}},
		{"tiny window", [2]string{"window: 1h", "window: 10ms"}, []string{`flows[0].window: "10ms" is less than a second`}},
		{"bad repeat", [2]string{"repeat: 24h\n", "repeat: daily\n"}, []string{`flows[0].repeat: "daily" is not a duration`}},
		{"a feed's name", [2]string{"name: backbone", "name: feodo"}, []string{`flows[0].name: "feodo" is a feed's name`}},
		{"unknown key", [2]string{"window: 1h", "windw: 1h"}, []string{"flows[0].windw: unknown key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, flowsConfig, tt.replace, dir, tt.want)
		})
	}
}
