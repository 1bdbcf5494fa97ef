// Package shadowserver parses Shadowserver's CSV reports. All ~100 report
// types share column conventions (timestamp; ip for scans, src_ip for
// events; port, protocol, hostname, tag, infection...), so one table-driven
// parser covers them; the report type, taken from the file name, decides the
// classification. Every event carries its report type (Event.ReportType); a
// type that neither the schema nor the built-in table knows gives events
// marked Unclassified, which are stored but not mailed.
package shadowserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// reportName matches Shadowserver's file names once lower-cased and stripped
// of their extensions: 2024-05-01-scan_rdp-finland-geo, 2026-11-23-scan_rdp.
var reportName = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}-([^-]+)(?:-|$)`)

// extensions are what a report's file name may end in, innermost first:
// Shadowserver mails and serves its CSV gzipped or zipped, and operators
// bzip2 what they keep.
var extensions = regexp.MustCompile(`(?:\.csv)?(?:\.(?:gz|bz2|zip))?$`)

// ReportType returns the report type of a file name, in any case and with or
// without a compression suffix: the second field of a dated name
// (2026-11-23-scan_rdp-sweden-geo.csv.gz), or the bare name of
// "<type>.csv" (scan_rdp.csv.bz2).
func ReportType(file string) string {
	base := strings.ToLower(filepath.Base(file))
	base = base[:extensions.FindStringIndex(base)[0]]
	if m := reportName.FindStringSubmatch(base); m != nil {
		return m[1]
	}
	return base
}

// Parser is a reporter.Parser for Shadowserver CSV reports.
type Parser struct {
	// ReportType forces the report type; empty takes it from the file name.
	ReportType string
	// Schema, when set, is Shadowserver's reports.json; it decides
	// classifications over the built-in table.
	Schema *Schema
	Log    *slog.Logger
}

// Kind says what a report type means with this parser's schema and table:
// its classification, its fixed identifier (empty when rows name it), and
// whether it is known at all. An unknown type's events are Unclassified
// and wait; when a new schema knows the type, the planner classifies them.
func (p *Parser) Kind(reportType string) (classification, identifier string, known bool) {
	k, known := p.Schema.kind(reportType)
	return k.Classification, k.Identifier, known
}

// Reference is the page that explains a report type, from the schema;
// "" when there is none.
func (p *Parser) Reference(reportType string) string {
	if p.Schema == nil {
		return ""
	}
	return p.Schema.Types[reportType].URL
}

// Columns that the event carries in its own fields, or that say what the
// feed believes about geography and ownership: our databases answer those.
var consumed = map[string]bool{
	"timestamp": true, "ip": true, "src_ip": true, "port": true, "src_port": true,
	"protocol": true, "hostname": true, "src_hostname": true,
	"asn": true, "geo": true, "region": true, "city": true, "naics": true, "sic": true, "sector": true,
	"src_asn": true, "src_geo": true, "src_region": true, "src_city": true, "src_naics": true, "src_sector": true,
	"dst_asn": true, "dst_geo": true, "dst_region": true, "dst_city": true, "dst_naics": true, "dst_sector": true,
}

// Parse implements reporter.Parser.
func (p *Parser) Parse(ctx context.Context, r io.Reader, file string, sink reporter.Sink) error {
	rtype := p.ReportType
	if rtype == "" {
		rtype = ReportType(file)
	}
	k, known := p.Schema.kind(rtype)
	if !known && p.Log != nil {
		// Once per file: every row of the file has the same type.
		p.Log.Warn("unknown Shadowserver report type; its events are stored as undetermined and held back from reports until the schema knows the type",
			"file", file, "report_type", rtype)
	}
	var (
		names                                    []string
		ipCol, tsCol, portCol, protoCol, hostCol int
		infCol, famCol, tagCol                   int
		extraCols                                []int
	)
	header := func(cols []string) error {
		names = append([]string(nil), cols...)
		c := feed.NewColumns(names)
		ipCol = c.First("ip", "src_ip")
		tsCol = c.First("timestamp")
		portCol = c.First("port", "src_port")
		protoCol = c.First("protocol")
		hostCol = c.First("hostname", "src_hostname")
		infCol, famCol, tagCol = c.First("infection"), c.First("family"), c.First("tag")
		if tsCol < 0 {
			return fmt.Errorf("report type %s: no timestamp column in the header", rtype)
		}
		for i, n := range names {
			if !consumed[n] {
				extraCols = append(extraCols, i)
			}
		}
		return nil
	}
	row := func(row *feed.Row) error {
		raw := bytes.TrimSpace(row.FieldBytes(ipCol))
		if len(raw) == 0 {
			sink.NoAddress(row.Line)
			return nil
		}
		ip, network, err := feed.ParseAddrOrNetworkBytes(raw)
		if err != nil {
			sink.Reject(row.Line, "ip: "+err.Error(), row.Raw())
			return nil
		}
		if !sink.Keep(ip) {
			return nil
		}
		rec := row.Fields()
		if reason := row.Check(len(names)); reason != "" {
			sink.Reject(row.Line, reason, row.Raw())
			return nil
		}
		var extraNet []reporter.Field
		if network.IsValid() {
			extraNet = []reporter.Field{{Key: "network", Value: network.String()}}
		}
		// Only rows inside the constituency pay for the rest.
		e := reporter.Event{IP: ip, Classification: k.Classification, ReportType: rtype, Unclassified: !known,
			Source: fmt.Sprintf("%s:%d", filepath.Base(file), row.Line), Extra: extraNet}
		if e.Time, err = feed.ParseTime(feed.Get(rec, tsCol), ""); err != nil {
			sink.Reject(row.Line, "timestamp: "+err.Error(), row.Raw())
			return nil
		}
		if e.Port, err = feed.ParsePort(feed.Get(rec, portCol)); err != nil {
			sink.Reject(row.Line, err.Error(), row.Raw())
			return nil
		}
		e.Protocol = strings.ToLower(feed.Clean(feed.Get(rec, protoCol), 16))
		e.Hostname = feed.Clean(feed.Get(rec, hostCol), 255)
		e.Identifier = k.Identifier
		if e.Identifier == "" {
			for _, c := range []int{infCol, famCol, tagCol} {
				if v := feed.Get(rec, c); v != "" {
					e.Identifier = strings.ToLower(feed.Clean(v, 64))
					break
				}
			}
		}
		if e.Identifier == "" {
			e.Identifier = rtype
		}
		extra := feed.NewExtras(e.Extra)
		for _, c := range extraCols {
			extra.Add(names[c], feed.Get(rec, c))
		}
		e.Extra = extra.Fields()
		return sink.Event(&e)
	}
	err := feed.Table{}.Read(ctx, r, header, row, sink.Reject)
	if errors.Is(err, feed.ErrNoHeader) {
		return nil // Shadowserver does send empty reports; nothing to do
	}
	if err != nil {
		return fmt.Errorf("shadowserver %s: %w", rtype, err)
	}
	return nil
}
