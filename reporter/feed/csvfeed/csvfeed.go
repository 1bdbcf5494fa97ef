// Package csvfeed parses any delimited feed with a header row, given a
// mapping from event fields to column names and constants for what the feed
// does not say (most blocklists carry no classification).
package csvfeed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// Fields that a column mapping may name. url stands in for ip in feeds of
// URLs (URLhaus): a URL whose host is an address gives the event's address,
// one with a domain name counts as a row without an address (ingest does not
// resolve names: the answer would depend on when and where it was asked).
var Fields = []string{"ip", "url", "time", "port", "protocol", "hostname", "classification", "identifier"}

// Parser is a reporter.Parser for delimited files.
type Parser struct {
	Delimiter rune              // default ','
	Comment   rune              // 0 for none
	Columns   map[string]string // event field -> column name; "ip" is required
	// Classification and Identifier are used when no column gives them.
	Classification string
	Identifier     string
	// TimeFormat is a Go time layout; empty tries the usual shapes and epochs.
	TimeFormat string
	// Where keeps only rows whose column has the value (ThreatFox mixes
	// ip:port IOCs with domains and URLs); other rows count as rows without
	// an address.
	Where map[string]string
	// Header names the columns of files without a header row; see
	// feed.Table.
	Header []string
	// TrimLeadingSpace reads `"a", "b"` as two quoted fields.
	TrimLeadingSpace bool
}

// Parse implements reporter.Parser.
func (p *Parser) Parse(ctx context.Context, r io.Reader, file string, sink reporter.Sink) error {
	var (
		names []string
		idx   = map[string]int{}
		extra []int
		where []struct {
			col int
			val string
		}
	)
	header := func(cols []string) error {
		names = append([]string(nil), cols...)
		c := feed.NewColumns(names)
		used := map[int]bool{}
		for _, f := range Fields {
			idx[f] = -1
			col, ok := p.Columns[f]
			if !ok {
				continue
			}
			i := c.First(strings.ToLower(col))
			if i < 0 {
				return fmt.Errorf("column %q (for %s) is not in the header %v", col, f, names)
			}
			idx[f] = i
			// The URL stays among the extra columns: it is what the owner
			// needs to find and clean.
			used[i] = f != "url"
		}
		if idx["ip"] < 0 && idx["url"] < 0 {
			return fmt.Errorf("no column is mapped to ip or url")
		}
		for col, val := range p.Where {
			i := c.First(strings.ToLower(col))
			if i < 0 {
				return fmt.Errorf("where: column %q is not in the header %v", col, names)
			}
			where = append(where, struct {
				col int
				val string
			}{i, val})
		}
		for i := range names {
			if !used[i] {
				extra = append(extra, i)
			}
		}
		return nil
	}
	base := filepath.Base(file)
	row := func(row *feed.Row) error {
		for _, w := range where {
			if string(bytes.TrimSpace(row.FieldBytes(w.col))) != w.val {
				sink.NoAddress(row.Line)
				return nil
			}
		}
		var (
			ip           netip.Addr
			network      netip.Prefix
			endpointPort int
			err          error
		)
		if idx["ip"] >= 0 {
			raw := bytes.TrimSpace(row.FieldBytes(idx["ip"]))
			if len(raw) == 0 {
				sink.NoAddress(row.Line)
				return nil
			}
			if ip, network, endpointPort, err = feed.ParseEndpoint(raw); err != nil {
				sink.Reject(row.Line, "ip: "+err.Error(), row.Raw())
				return nil
			}
		} else {
			var ok bool
			if ip, endpointPort, ok, err = feed.URLAddr(string(bytes.TrimSpace(row.FieldBytes(idx["url"])))); err != nil {
				sink.Reject(row.Line, "url: "+err.Error(), row.Raw())
				return nil
			} else if !ok {
				sink.NoAddress(row.Line)
				return nil
			}
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
		e := reporter.Event{IP: ip, Source: fmt.Sprintf("%s:%d", base, row.Line), Extra: extraNet}
		if i := idx["time"]; i >= 0 {
			if e.Time, err = feed.ParseTime(feed.Get(rec, i), p.TimeFormat); err != nil {
				sink.Reject(row.Line, "time: "+err.Error(), row.Raw())
				return nil
			}
		}
		if e.Port, err = feed.ParsePort(feed.Get(rec, idx["port"])); err != nil {
			sink.Reject(row.Line, err.Error(), row.Raw())
			return nil
		}
		if e.Port == 0 {
			e.Port = endpointPort
		}
		e.Protocol = strings.ToLower(feed.Clean(feed.Get(rec, idx["protocol"]), 16))
		e.Hostname = feed.Clean(feed.Get(rec, idx["hostname"]), 255)
		e.Classification = orDefault(strings.ToLower(feed.Clean(feed.Get(rec, idx["classification"]), 64)), p.Classification)
		e.Identifier = orDefault(strings.ToLower(feed.Clean(feed.Get(rec, idx["identifier"]), 64)), p.Identifier)
		if e.Classification == "" {
			e.Classification = reporter.Undetermined
		}
		kept := feed.NewExtras(e.Extra)
		for _, c := range extra {
			kept.Add(names[c], feed.Get(rec, c))
		}
		e.Extra = kept.Fields()
		return sink.Event(&e)
	}
	t := feed.Table{Delimiter: p.delim(), Comment: p.Comment, Header: p.Header, TrimLeadingSpace: p.TrimLeadingSpace}
	if err := t.Read(ctx, r, header, row, sink.Reject); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

func (p *Parser) delim() rune {
	if p.Delimiter == 0 {
		return ','
	}
	return p.Delimiter
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
