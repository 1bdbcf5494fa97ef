package shadowserver

import "strings"

// kind is what a report type means for the people who receive it.
type kind struct {
	Classification string
	// Identifier is fixed for the type ("rdp" for scan_rdp); empty takes it
	// from the row (infection, family or tag).
	Identifier string
}

// builtin maps report types to RSIT classifications. Shadowserver's
// published schema (reports.json) is the authority; this table covers the
// common types so that the parser works with no schema at hand, and the
// prefix rules below cover the long tail of scan reports.
var builtin = map[string]kind{
	"blocklist":                      {"blocklist", "blocklist"},
	"compromised_website":            {"system-compromise", ""},
	"device_id":                      {"undetermined", "device"},
	"malware_url":                    {"malware-distribution", ""},
	"sandbox_url":                    {"malware-distribution", ""},
	"sandbox_conn":                   {"malware-distribution", ""},
	"event4_sinkhole":                {"infected-system", ""},
	"event6_sinkhole":                {"infected-system", ""},
	"event4_sinkhole_http":           {"infected-system", ""},
	"event6_sinkhole_http":           {"infected-system", ""},
	"event4_sinkhole_http_referer":   {"infected-system", ""},
	"event6_sinkhole_http_referer":   {"infected-system", ""},
	"event4_microsoft_sinkhole":      {"infected-system", ""},
	"event4_microsoft_sinkhole_http": {"infected-system", ""},
	"event4_sinkhole_dns":            {"infected-system", ""},
	"event6_sinkhole_dns":            {"infected-system", ""},
	"event4_honeypot_brute_force":    {"brute-force", ""},
	"event6_honeypot_brute_force":    {"brute-force", ""},
	"event4_honeypot_darknet":        {"scanner", ""},
	"event6_honeypot_darknet":        {"scanner", ""},
	"event4_honeypot_http_scan":      {"scanner", ""},
	"event6_honeypot_http_scan":      {"scanner", ""},
	"event4_honeypot_ddos_amp":       {"ddos-amplifier", ""},
	"event4_ddos_participant":        {"ddos", ""},
	"event4_ip_spoofer":              {"masquerade", "ip-spoofer"},
	"event6_ip_spoofer":              {"masquerade", "ip-spoofer"},
	"event4_exploited_vulnerable":    {"system-compromise", ""},
	"event4_exploited_ddos_amp":      {"ddos-amplifier", ""},
	"spam_url":                       {"spam", ""},
	"ssl_freak_vulnerable_servers":   {"vulnerable-system", "ssl-freak"},
	"ssl_poodle_vulnerable_servers":  {"vulnerable-system", "ssl-poodle"},
	"scan_ssl_freak":                 {"vulnerable-system", "ssl-freak"},
	"scan_ssl_poodle":                {"vulnerable-system", "ssl-poodle"},
	"scan_ssl":                       {"vulnerable-system", "ssl"},
	"scan_dns":                       {"ddos-amplifier", "dns-openresolver"},
	"scan_ntp":                       {"ddos-amplifier", "ntp"},
	"scan_ntpmonitor":                {"ddos-amplifier", "ntp-monitor"},
	"scan_snmp":                      {"ddos-amplifier", "snmp"},
	"scan_ssdp":                      {"ddos-amplifier", "ssdp"},
	"scan_memcached":                 {"ddos-amplifier", "memcached"},
	"scan_chargen":                   {"ddos-amplifier", "chargen"},
	"scan_qotd":                      {"ddos-amplifier", "qotd"},
	"scan_portmapper":                {"ddos-amplifier", "portmapper"},
	"scan_mdns":                      {"ddos-amplifier", "mdns"},
	"scan_netbios":                   {"ddos-amplifier", "netbios"},
	"scan_ubiquiti":                  {"ddos-amplifier", "ubiquiti"},
	"scan_cwmp":                      {"vulnerable-system", "cwmp"},
	"scan_http":                      {"vulnerable-system", "http"},
	"scan_rdp":                       {"vulnerable-system", "rdp"},
	"scan_smb":                       {"vulnerable-system", "smb"},
	"scan_telnet":                    {"vulnerable-system", "telnet"},
	"scan_vnc":                       {"vulnerable-system", "vnc"},
	"scan_ftp":                       {"vulnerable-system", "ftp"},
	"scan_ssh":                       {"vulnerable-system", "ssh"},
	"scan_redis":                     {"vulnerable-system", "redis"},
	"scan_mongodb":                   {"vulnerable-system", "mongodb"},
	"scan_mysql":                     {"vulnerable-system", "mysql"},
	"scan_elasticsearch":             {"vulnerable-system", "elasticsearch"},
	"scan_ipp":                       {"vulnerable-system", "ipp"},
	"scan_ics":                       {"vulnerable-system", "ics"},
}

// lookupKind returns the kind of a report type and whether it is known.
// scan_* and scan6_* types not in the table are vulnerable systems whose
// identifier is the service name; other unknown types are undetermined.
func lookupKind(reportType string) (kind, bool) {
	if k, ok := builtin[reportType]; ok {
		return k, true
	}
	v4 := strings.Replace(reportType, "6_", "4_", 1)
	if k, ok := builtin[v4]; ok {
		return k, true
	}
	if k, ok := builtin[strings.Replace(reportType, "scan6_", "scan_", 1)]; ok {
		return k, true
	}
	for _, p := range []string{"scan6_", "scan_"} {
		if svc, ok := strings.CutPrefix(reportType, p); ok && svc != "" {
			return kind{"vulnerable-system", strings.ReplaceAll(svc, "_", "-")}, true
		}
	}
	if strings.HasPrefix(reportType, "event4_sinkhole") || strings.HasPrefix(reportType, "event6_sinkhole") {
		return kind{"infected-system", ""}, true
	}
	return kind{"undetermined", ""}, false
}
