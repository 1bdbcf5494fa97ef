// Package jsonfeed parses JSON feeds: JSON-lines (one object a line) or one
// top-level array of objects (Feodo Tracker's ipblocklist.json), streamed
// either way, with a mapping from event fields to (dotted) JSON paths.
package jsonfeed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// Parser is a reporter.Parser for JSON feeds.
type Parser struct {
	// Fields maps event fields (ip, time, port, protocol, hostname,
	// classification, identifier) to JSON paths such as "ip_address" or
	// "source.ip". ip is required.
	Fields         map[string]string
	Classification string
	Identifier     string
	TimeFormat     string
}

// Parse implements reporter.Parser. Records are numbered from 1; for
// JSON-lines the number is the line of a non-blank line.
func (p *Parser) Parse(ctx context.Context, r io.Reader, file string, sink reporter.Sink) error {
	if p.Fields["ip"] == "" {
		return errors.New("json: no field is mapped to ip")
	}
	base := filepath.Base(file)
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	if first == '[' {
		return p.array(ctx, br, base, sink)
	}
	return p.lines(ctx, br, base, sink)
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.Discard(1)
		case 0xEF: // a UTF-8 byte order mark
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				br.Discard(3)
				continue
			}
			return b[0], nil
		default:
			return b[0], nil
		}
	}
}

func (p *Parser) array(ctx context.Context, r io.Reader, base string, sink reporter.Sink) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("json %s: %w", base, err)
	}
	for n := 1; dec.More(); n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			// A syntax error leaves the decoder lost in the stream; what
			// follows cannot be trusted, so this ends the file.
			sink.Reject(n, "not a JSON object: "+err.Error(), "")
			return nil
		}
		if err := p.record(obj, n, base, nil, sink); err != nil {
			return err
		}
	}
	return nil
}

func (p *Parser) lines(ctx context.Context, br *bufio.Reader, base string, sink reporter.Sink) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), feed.MaxRecord)
	for line := 1; sc.Scan(); line++ {
		if line&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			sink.Reject(line, "not a JSON object: "+err.Error(), feed.Clip(string(text), 2048))
			continue
		}
		if err := p.record(obj, line, base, text, sink); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("json %s: %w", base, err)
	}
	return nil
}

func (p *Parser) record(obj map[string]any, n int, base string, raw []byte, sink reporter.Sink) error {
	rawString := func() string {
		if raw != nil {
			return feed.Clip(string(raw), 2048)
		}
		b, _ := json.Marshal(obj)
		return feed.Clip(string(b), 2048)
	}
	addr := lookup(obj, p.Fields["ip"])
	if addr == "" {
		sink.NoAddress(n)
		return nil
	}
	ip, network, endpointPort, err := feed.ParseEndpoint([]byte(addr))
	if err != nil {
		sink.Reject(n, "ip: "+err.Error(), rawString())
		return nil
	}
	if !sink.Keep(ip) {
		return nil
	}
	e := reporter.Event{IP: ip, Source: fmt.Sprintf("%s:%d", base, n)}
	if network.IsValid() {
		e.Extra = append(e.Extra, reporter.Field{Key: "network", Value: network.String()})
	}
	if path := p.Fields["time"]; path != "" {
		if e.Time, err = feed.ParseTime(lookup(obj, path), p.TimeFormat); err != nil {
			sink.Reject(n, "time: "+err.Error(), rawString())
			return nil
		}
	}
	if e.Port, err = feed.ParsePort(lookup(obj, p.Fields["port"])); err != nil {
		sink.Reject(n, err.Error(), rawString())
		return nil
	}
	if e.Port == 0 {
		e.Port = endpointPort
	}
	e.Protocol = strings.ToLower(feed.Clean(lookup(obj, p.Fields["protocol"]), 16))
	e.Hostname = feed.Clean(lookup(obj, p.Fields["hostname"]), 255)
	e.Classification = strings.ToLower(feed.Clean(lookup(obj, p.Fields["classification"]), 64))
	if e.Classification == "" {
		e.Classification = p.Classification
	}
	if e.Classification == "" {
		e.Classification = reporter.Undetermined
	}
	e.Identifier = strings.ToLower(feed.Clean(lookup(obj, p.Fields["identifier"]), 64))
	if e.Identifier == "" {
		e.Identifier = p.Identifier
	}
	// Top-level scalars not mapped to a field go along, in name order.
	used := map[string]bool{}
	for _, path := range p.Fields {
		used[strings.SplitN(path, ".", 2)[0]] = true
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if !used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	extra := feed.NewExtras(e.Extra)
	for _, k := range keys {
		if v := scalar(obj[k]); v != "" {
			if !extra.Full() { // a key that is only counted need not be cleaned
				k = feed.Clean(k, 64)
			}
			extra.Add(k, v)
		}
	}
	e.Extra = extra.Fields()
	return sink.Event(&e)
}

// lookup follows a dotted path to a scalar and returns it as text.
func lookup(obj map[string]any, path string) string {
	if path == "" {
		return ""
	}
	var cur any = obj
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[part]
	}
	return strings.TrimSpace(scalar(cur))
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
