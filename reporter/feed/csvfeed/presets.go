package csvfeed

import "maps"

// Presets are the published layouts of abuse.ch's CSV exports, so that an
// operator writes `format: feodo` instead of a column mapping. abuse.ch
// writes the header as a comment, so each preset names its columns.
var presets = map[string]Parser{
	// Feodo Tracker's botnet C2 IP blocklist (ipblocklist.csv and
	// ipblocklist_recommended.csv).
	"feodo": {
		Comment:        '#',
		Header:         []string{"first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware"},
		Columns:        map[string]string{"ip": "dst_ip", "time": "first_seen_utc", "port": "dst_port", "identifier": "malware"},
		Classification: "c2-server",
	},
	// ThreatFox's CSV export: ip:port IOCs among domains, URLs and hashes;
	// `"a", "b"` with a space after each comma.
	"threatfox": {
		Comment: '#',
		Header: []string{"first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias",
			"malware_printable", "last_seen_utc", "confidence_level", "reference", "tags", "anonymous", "reporter"},
		TrimLeadingSpace: true,
		Columns:          map[string]string{"ip": "ioc_value", "time": "first_seen_utc", "identifier": "malware_printable"},
		Where:            map[string]string{"ioc_type": "ip:port"},
		Classification:   "c2-server",
	},
	// URLhaus's CSV dumps (csv_recent, csv_online): URLs, reported by the
	// address in the URL's host; URLs on domain names count as rows without
	// an address.
	"urlhaus": {
		Comment:        '#',
		Header:         []string{"id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter"},
		Columns:        map[string]string{"url": "url", "time": "dateadded", "identifier": "threat"},
		Classification: "malware-distribution",
	},
}

// Presets lists the preset names.
func Presets() []string {
	return []string{"feodo", "threatfox", "urlhaus"}
}

// Preset returns a parser for a named layout.
func Preset(name string) (*Parser, bool) {
	p, ok := presets[name]
	if !ok {
		return nil, false
	}
	// Each parser gets its own maps: parsers must not share mutable state.
	p.Columns, p.Where = maps.Clone(p.Columns), maps.Clone(p.Where)
	p.Header = append([]string(nil), p.Header...)
	return &p, true
}
