// Package ripe imports the RIPE database's split dumps (ripe.db.inetnum.gz,
// ripe.db.inet6num.gz, ripe.db.aut-num.gz, ripe.db.organisation.gz,
// ripe.db.role.gz) into a compact table that answers "where does abuse mail
// for this address go" in a binary search: the most specific inet(6)num with
// an abuse-c, its own or its organisation's, gives the role's
// abuse-mailbox, and a range without one inherits from the range that
// covers it. The dumps are streamed, so the import's memory grows with the
// number of ranges kept, not with the size of the files.
package ripe

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"unicode/utf8"
)

// Object is one RPSL object as the parser hands it over: only valid until
// the callback returns.
type Object struct {
	Line  int // where it starts in the file
	attrs []attr
	buf   []byte
}

type attr struct {
	name       string // lower case, interned for the few names asked for
	start, end int    // value in buf
}

// Type is the object's class, its first attribute's name.
func (o *Object) Type() string {
	if len(o.attrs) == 0 {
		return ""
	}
	return o.attrs[0].name
}

// Key is the first attribute's value.
func (o *Object) Key() string {
	if len(o.attrs) == 0 {
		return ""
	}
	return o.value(0)
}

func (o *Object) value(i int) string {
	return string(bytes.TrimSpace(o.buf[o.attrs[i].start:o.attrs[i].end]))
}

// Get returns the first value of an attribute, or "".
func (o *Object) Get(name string) string {
	for i := range o.attrs {
		if o.attrs[i].name == name {
			return o.value(i)
		}
	}
	return ""
}

// All returns every value of an attribute.
func (o *Object) All(name string) []string {
	var out []string
	for i := range o.attrs {
		if o.attrs[i].name == name {
			out = append(out, o.value(i))
		}
	}
	return out
}

// maxObject caps one object; a real one is a few KiB.
const maxObject = 1 << 20

// Parse streams RPSL objects from r. Objects are separated by blank lines;
// lines starting with % or # are comments; a line starting with a space, a
// tab or + continues the attribute before it (its text joins the value
// with a space). Bytes that are not UTF-8 are read as latin-1, the dumps'
// historical encoding. An object over 1 MiB is skipped and reported to bad.
func Parse(ctx context.Context, r io.Reader, fn func(*Object) error, bad func(line int, reason string)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var o Object
	line := 0
	skipping := false
	flush := func() error {
		defer func() { o.attrs, o.buf, skipping = o.attrs[:0], o.buf[:0], false }()
		if skipping || len(o.attrs) == 0 {
			return nil
		}
		return fn(&o)
	}
	for {
		raw, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line over the buffer: keep reading it, then give up on the
			// object.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			line++
			if !skipping && bad != nil {
				bad(line, "line longer than 1 MiB")
			}
			skipping = true
			continue
		}
		if len(raw) == 0 && err == io.EOF {
			return flush()
		}
		if err != nil && err != io.EOF {
			return err
		}
		line++
		if line&8191 == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		text := bytes.TrimRight(raw, "\r\n")
		switch {
		case len(bytes.TrimSpace(text)) == 0:
			if ferr := flush(); ferr != nil {
				return ferr
			}
		case text[0] == '%' || text[0] == '#':
		case skipping:
		case text[0] == ' ' || text[0] == '\t' || text[0] == '+':
			if len(o.attrs) == 0 {
				if bad != nil {
					bad(line, "continuation line before any attribute")
				}
				skipping = true
				break
			}
			o.buf = append(o.buf, ' ')
			o.buf = appendText(o.buf, bytes.TrimLeft(text[1:], " \t"))
			o.attrs[len(o.attrs)-1].end = len(o.buf)
		default:
			colon := bytes.IndexByte(text, ':')
			if colon <= 0 {
				if bad != nil {
					bad(line, "not an attribute line")
				}
				skipping = true
				break
			}
			if len(o.attrs) == 0 {
				o.Line = line
			}
			name := internName(text[:colon])
			start := len(o.buf)
			o.buf = appendText(o.buf, text[colon+1:])
			o.attrs = append(o.attrs, attr{name: name, start: start, end: len(o.buf)})
			if len(o.buf) > maxObject {
				if bad != nil {
					bad(o.Line, "object larger than 1 MiB")
				}
				skipping = true
			}
		}
		if err == io.EOF {
			return flush()
		}
	}
}

// appendText appends b as UTF-8: valid UTF-8 is kept, anything else is read
// as latin-1.
func appendText(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for _, c := range b {
		dst = utf8.AppendRune(dst, rune(c))
	}
	return dst
}

// The attribute names the import reads are interned, so that the
// comparisons in Get are on shared strings and the parse allocates nothing
// per attribute for them.
var known = map[string]string{}

func init() {
	for _, n := range []string{"inetnum", "inet6num", "aut-num", "organisation", "role", "person", "mntner",
		"abuse-c", "org", "abuse-mailbox", "nic-hdl", "netname", "country", "status", "as-name", "e-mail"} {
		known[n] = n
	}
}

func internName(b []byte) string {
	var lower [32]byte
	if len(b) > len(lower) {
		return string(bytes.ToLower(b))
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	if s, ok := known[string(lower[:len(b)])]; ok {
		return s
	}
	return string(lower[:len(b)])
}
