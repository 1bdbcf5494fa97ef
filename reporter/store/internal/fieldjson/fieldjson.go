// Package fieldjson writes an event's extra columns as both stores keep
// them: a JSON array of {"k","v"} objects in the feed's column order (an
// object would not keep the order: PostgreSQL's jsonb sorts its keys).
// Ingest writes one per event, so it is written by hand, without
// encoding/json's reflection and allocations; encoding/json reads it back.
package fieldjson

import (
	"unicode/utf8"

	"github.com/autoreporter/autoreporter/reporter"
)

// NUL says what becomes of a NUL character in a key or value.
type NUL int

const (
	// KeepNUL writes it as \u0000, as encoding/json does.
	KeepNUL NUL = iota
	// ReplaceNUL writes U+FFFD instead: PostgreSQL's jsonb refuses \u0000.
	ReplaceNUL
)

// Append appends the JSON of fields to b: [] when there are none. As with
// encoding/json, each byte that is not UTF-8 becomes U+FFFD.
func Append(b []byte, fields []reporter.Field, nul NUL) []byte {
	b = append(b, '[')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"k":`...)
		b = appendString(b, f.Key, nul)
		b = append(b, `,"v":`...)
		b = appendString(b, f.Value, nul)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string, nul NUL) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == 0 && nul == ReplaceNUL:
			b = append(b, `\ufffd`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
