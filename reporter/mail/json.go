package mail

import (
	"encoding/json"
	"io"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// WriteJSON writes events as a JSON array, one object per event with
// IntelMQ's field names (the harmonization most CERT tools read), and the
// source's own columns under "extra.". Nothing is defused: JSON is not run
// by spreadsheets, and the values stay what the feed said.
func WriteJSON(w io.Writer, events []reporter.Event) error {
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range events {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(jsonObject(&events[i])); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]\n")
	return err
}

// jsonObject is e with IntelMQ's names. Encode sorts the keys: the same
// event gives the same bytes.
func jsonObject(e *reporter.Event) map[string]any {
	o := map[string]any{
		"time.source":               e.Time.UTC().Format(time.RFC3339),
		"source.ip":                 e.IP.String(),
		"classification.type":       e.Classification,
		"classification.identifier": e.Identifier,
		"feed.name":                 e.Feed,
	}
	if e.Port != 0 {
		o["source.port"] = e.Port
	}
	if e.Protocol != "" {
		o["protocol.transport"] = e.Protocol
	}
	if e.ASN != 0 {
		o["source.asn"] = e.ASN
	}
	if e.ASOrg != "" {
		o["source.as_name"] = e.ASOrg
	}
	if e.Country != "" {
		o["source.geolocation.cc"] = e.Country
	}
	if e.Hostname != "" {
		o["source.fqdn"] = e.Hostname
	}
	if e.ReportType != "" {
		o["extra.report_type"] = e.ReportType
	}
	for _, f := range e.Extra {
		if _, dup := o["extra."+f.Key]; !dup {
			o["extra."+f.Key] = f.Value
		}
	}
	return o
}

// jsonSize is about how many bytes e takes in the JSON attachment.
func jsonSize(e *reporter.Event) int {
	n := 260 + len(e.Hostname) + len(e.ASOrg) + len(e.Identifier) + len(e.Feed) + len(e.ReportType)
	for _, f := range e.Extra {
		n += len(f.Key) + len(f.Value) + 14
	}
	return n + n/4
}
