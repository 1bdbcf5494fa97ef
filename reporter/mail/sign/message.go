package sign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"strings"
)

// Errors a caller may branch on. All are permanent: the same bytes fail the
// same way every time, so a report that hits one must not be retried as is.
var (
	// ErrMalformed is raw bytes that are not a message this package can
	// sign: no header/body separator, a header line without a colon, a
	// multipart body without its boundary.
	ErrMalformed = errors.New("malformed message")
	// ErrNotCRLF is a bare CR or LF. Signatures cover exact bytes and the
	// SMTP transport sends them unchanged, so the message must already be
	// in the canonical CRLF form that every receiver sees.
	ErrNotCRLF = errors.New("line ending is not CRLF")
	// ErrNot7bit is a signed entity with 8-bit bytes, a line over 998
	// octets or trailing white space: a relay may rewrite any of those
	// (RFC 3156 section 3, RFC 8551 section 3.1.1), which breaks the
	// signature. The parts must already be quoted-printable or base64.
	ErrNot7bit = errors.New("signed entity is not 7-bit safe")
)

// field is one header field as it was on the wire: name, colon, value and
// any folded continuation lines, with its final CRLF.
type field struct {
	name string
	raw  []byte
}

// value is the unfolded value without the surrounding white space.
func (f field) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte{':'})
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	return strings.TrimSpace(string(v))
}

// entity is a message or a body part split at the end of its header.
type entity struct {
	fields []field
	body   []byte
}

// parseEntity splits b into header fields and body. The header ends at the
// first empty line; a part that starts with CRLF has no header fields
// (RFC 2046 section 5.1.1: it is then text/plain; charset=us-ascii).
func parseEntity(b []byte) (*entity, error) {
	e := &entity{}
	for off := 0; ; {
		if off >= len(b) {
			return nil, fmt.Errorf("%w: no empty line ends the header", ErrMalformed)
		}
		end := bytes.Index(b[off:], []byte("\r\n"))
		if end < 0 {
			return nil, fmt.Errorf("%w: no empty line ends the header", ErrMalformed)
		}
		line := b[off : off+end]
		next := off + end + 2
		switch {
		case len(line) == 0:
			e.body = b[next:]
			return e, nil
		case line[0] == ' ' || line[0] == '\t':
			if len(e.fields) == 0 {
				return nil, fmt.Errorf("%w: header starts with a continuation line", ErrMalformed)
			}
			last := &e.fields[len(e.fields)-1]
			last.raw = b[off-len(last.raw) : next]
		default:
			name, _, ok := bytes.Cut(line, []byte{':'})
			if !ok || len(bytes.TrimRight(name, " \t")) == 0 {
				return nil, fmt.Errorf("%w: header line %.40q has no field name", ErrMalformed, line)
			}
			e.fields = append(e.fields, field{name: string(bytes.TrimRight(name, " \t")), raw: b[off:next]})
		}
		off = next
	}
}

// parseMessage checks that raw is CRLF throughout and splits it.
func parseMessage(raw []byte) (*entity, error) {
	if err := checkCRLF(raw); err != nil {
		return nil, err
	}
	return parseEntity(raw)
}

func checkCRLF(b []byte) error {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return fmt.Errorf("%w: bare CR at byte %d", ErrNotCRLF, i)
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return fmt.Errorf("%w: bare LF at byte %d", ErrNotCRLF, i)
		}
	}
	return nil
}

// get is the unfolded value of the first field called name, or "".
func (e *entity) get(name string) string {
	for _, f := range e.fields {
		if strings.EqualFold(f.name, name) {
			return f.value()
		}
	}
	return ""
}

// mediaType is the entity's Content-Type, with the RFC 2045 default
// text/plain when there is none.
func (e *entity) mediaType() (string, map[string]string, error) {
	v := e.get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{"charset": "us-ascii"}, nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", nil, fmt.Errorf("%w: Content-Type %q: %v", ErrMalformed, v, err)
	}
	return t, params, nil
}

// bytes writes the entity back: for one that was parsed and not changed,
// exactly the bytes it came from.
func (e *entity) bytes() []byte {
	var b bytes.Buffer
	for _, f := range e.fields {
		b.Write(f.raw)
	}
	b.WriteString("\r\n")
	b.Write(e.body)
	return b.Bytes()
}

func isContentField(name string) bool {
	return len(name) > len("content-") && strings.EqualFold(name[:len("content-")], "content-")
}

// split turns a message into the entity to sign and the header fields that
// stay outside it. The Content-* fields describe the body, so they move in
// with it (RFC 3156 section 5, RFC 8551 section 3.5); everything else
// (From, To, Subject, Date, Message-ID, MIME-Version, X-...) stays on top,
// where the signed wrapper's own Content-Type takes the place of the first
// Content-* field. The inner entity ends with CRLF: the CRLF before a
// boundary belongs to the boundary (RFC 2046 section 5.1.1), so without it
// the signed data would end mid-line (the OpenPGP convention RFC 3156
// section 5 asks for).
func split(m *entity) (outer []field, at int, inner []byte) {
	var b bytes.Buffer
	at = -1
	for _, f := range m.fields {
		if isContentField(f.name) {
			if at < 0 {
				at = len(outer)
			}
			b.Write(f.raw)
			continue
		}
		outer = append(outer, f)
	}
	if at < 0 {
		at = len(outer)
	}
	b.WriteString("\r\n")
	b.Write(m.body)
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return outer, at, b.Bytes()
}

// check7bit refuses what a relay could change in transit: a signature over
// it would break on the way (RFC 3156 section 3; RFC 5322 section 2.1.1 for
// the 998-octet limit).
func check7bit(b []byte) error {
	line := 1
	for len(b) > 0 {
		l, rest, _ := bytes.Cut(b, []byte("\r\n"))
		if len(l) > 998 {
			return fmt.Errorf("%w: line %d is %d octets long", ErrNot7bit, line, len(l))
		}
		for _, c := range l {
			if c == 0 || c >= 0x80 {
				return fmt.Errorf("%w: line %d has byte 0x%02x (encode the part as quoted-printable or base64)", ErrNot7bit, line, c)
			}
		}
		if n := len(l); n > 0 && (l[n-1] == ' ' || l[n-1] == '\t') {
			return fmt.Errorf("%w: line %d ends in white space", ErrNot7bit, line)
		}
		b = rest
		line++
	}
	return nil
}

// boundary derives the wrapper's boundary from the Message-ID (or, without
// one, from the bytes), so that the same report signs to the same
// structure. The label keeps it apart from build.go's "ar-" + hex boundary,
// and a boundary that occurs in the content is never used (RFC 2046
// section 5.1.1 forbids it), so the counter moves on.
func boundary(m *entity, raw []byte, label string) string {
	seed := m.get("Message-ID")
	if seed == "" {
		sum := sha256.Sum256(raw)
		seed = hex.EncodeToString(sum[:])
	}
	for n := 0; ; n++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", label, seed, n))
		b := "ar-" + label + "-" + hex.EncodeToString(sum[:12])
		if !bytes.Contains(raw, []byte("--"+b)) {
			return b
		}
	}
}

// wrap writes the signed wrapper: the outer fields, the multipart/signed
// Content-Type in place of the first Content-* field, then the signed
// entity and the signature part (RFC 1847 section 2.1). The entity is
// written exactly as it was signed.
func wrap(outer []field, at int, contentType string, bound string, inner, sigPart []byte) []byte {
	var b bytes.Buffer
	for i, f := range outer {
		if i == at {
			b.WriteString(contentType)
		}
		b.Write(f.raw)
	}
	if at == len(outer) {
		b.WriteString(contentType)
	}
	b.WriteString("\r\n")
	b.WriteString("This is a signed message in MIME format.\r\n")
	b.WriteString("--" + bound + "\r\n")
	b.Write(inner)
	b.WriteString("\r\n--" + bound + "\r\n")
	b.Write(sigPart)
	b.WriteString("\r\n--" + bound + "--\r\n")
	return b.Bytes()
}

// span is one body part of a multipart entity: body[start:end] are its
// bytes, without the CRLF that belongs to the next delimiter.
type span struct{ start, end int }

// parts finds the body parts of a multipart body by its boundary
// (RFC 2046 section 5.1.1): a delimiter is "--" boundary at the start of a
// line, optionally followed by white space; the close delimiter adds "--".
func parts(body []byte, bound string) ([]span, error) {
	delim := []byte("--" + bound)
	var out []span
	open := -1 // start of the current part, -1 before the first delimiter
	for off := 0; off < len(body); {
		end := bytes.Index(body[off:], []byte("\r\n"))
		lineEnd, next := off+end, off+end+2
		if end < 0 {
			lineEnd, next = len(body), len(body)
		}
		line := body[off:lineEnd]
		if rest, ok := bytes.CutPrefix(line, delim); ok {
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing {
				rest = rest[2:]
			}
			if len(bytes.Trim(rest, " \t")) == 0 {
				if open >= 0 {
					// The CRLF before the delimiter is the delimiter's.
					out = append(out, span{open, max(off-2, open)})
				}
				if closing {
					if open < 0 {
						return nil, fmt.Errorf("%w: close delimiter before any part", ErrMalformed)
					}
					return out, nil
				}
				open = next
			}
		}
		off = next
	}
	return nil, fmt.Errorf("%w: no close delimiter for boundary %q", ErrMalformed, bound)
}
