// Package blocklist parses plain blocklists: one address or CIDR a line,
// comments after # or ; (Spamhaus DROP writes "1.10.16.0/20 ; SBL256894").
// A CIDR entry becomes one event for the network, reported to its owner.
package blocklist

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// Parser is a reporter.Parser for blocklist text.
type Parser struct {
	Classification string // default "blocklist"
	Identifier     string // default the file's base name
}

// maxLine caps one line; longer ones are rejected, not buffered.
const maxLine = 64 << 10

// Parse implements reporter.Parser.
func (p *Parser) Parse(ctx context.Context, r io.Reader, file string, sink reporter.Sink) error {
	class := p.Classification
	if class == "" {
		class = reporter.Blocklist
	}
	ident := p.Identifier
	base := filepath.Base(file)
	if ident == "" {
		ident = strings.TrimSuffix(base, filepath.Ext(base))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		if line&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		text, err := readLine(br)
		if err == io.EOF && text == nil {
			return nil
		}
		if err != nil && err != io.EOF {
			if err == errLong {
				sink.Reject(line, "line longer than 64 KiB", "")
				continue
			}
			return fmt.Errorf("blocklist %s line %d: %w", base, line, err)
		}
		entry, comment := text, []byte(nil)
		if i := bytes.IndexAny(text, "#;"); i >= 0 {
			entry, comment = text[:i], bytes.TrimSpace(text[i+1:])
		}
		entry = bytes.TrimSpace(entry)
		if len(entry) == 0 {
			continue // blank or comment-only
		}
		// "addr  anything": only the first token is the entry.
		if i := bytes.IndexAny(entry, " \t"); i >= 0 {
			entry = entry[:i]
		}
		ip, network, perr := feed.ParseAddrOrNetworkBytes(entry)
		if perr != nil {
			sink.Reject(line, perr.Error(), string(text))
			continue
		}
		if sink.Keep(ip) {
			e := reporter.Event{IP: ip, Classification: class, Identifier: ident, Source: fmt.Sprintf("%s:%d", base, line)}
			if network.IsValid() {
				e.Extra = append(e.Extra, reporter.Field{Key: "network", Value: network.String()})
			}
			if len(comment) > 0 {
				e.Extra = append(e.Extra, reporter.Field{Key: "reference", Value: feed.Clean(string(comment), 256)})
			}
			if serr := sink.Event(&e); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

var errLong = fmt.Errorf("line too long")

func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		total := len(line)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			total += len(line)
			if total > maxLine {
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
				return []byte{}, errLong
			}
		}
		return []byte{}, errLong
	}
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	return bytes.TrimRight(line, "\r\n"), err
}
