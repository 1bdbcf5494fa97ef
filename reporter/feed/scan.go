package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode"
	"unicode/utf8"
)

// ErrUnterminated is a record whose quoted field never closes before the
// end of the file.
var ErrUnterminated = errors.New("quoted field not closed before the end of the file")

// MaxRecord caps one record. A longer one (a runaway quote, a hostile file)
// is reported and skipped instead of growing memory without bound.
const MaxRecord = 4 << 20

// errTooLong is a record over MaxRecord.
var errTooLong = errors.New("record longer than 4 MiB")

// scanner reads delimited records without splitting them: a record is
// usually one physical line, and a line whose quotes balance needs no
// further look. Only the rows a parser keeps are split into fields, which
// is what makes a global feed cheap when 99% of it is someone else's.
type scanner struct {
	br    *bufio.Reader
	delim byte
	trim  bool   // spaces before a field's opening quote are skipped
	line  int    // physical lines read so far
	rec   []byte // a record that spans lines, or a line longer than the buffer
}

func newScanner(r io.Reader, delim byte, trim bool) *scanner {
	br := bufio.NewReaderSize(r, 256<<10)
	// A UTF-8 byte order mark would otherwise stick to the first column name.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	return &scanner{br: br, delim: delim, trim: trim}
}

// next returns the next record without its line ending, and the line it
// starts on. The bytes are valid until the following call. On a broken
// record it returns the error with the record's start line and what was
// read of it, and reading can go on.
func (s *scanner) next() (rec []byte, start int, err error) {
	s.rec = s.rec[:0]
	start = s.line + 1
	for {
		line, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(s.rec)+len(line) > MaxRecord {
				s.skipLine()
				return nil, start, errTooLong
			}
			s.rec = append(s.rec, line...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, start, err
		}
		if len(line) == 0 && len(s.rec) == 0 {
			return nil, 0, io.EOF
		}
		if len(line) > 0 {
			s.line++
		}
		r := line // the common case: a whole record in the buffer, no copy
		if len(s.rec) > 0 {
			if len(s.rec)+len(line) > MaxRecord {
				return nil, start, errTooLong // this line is read whole already
			}
			s.rec = append(s.rec, line...)
			r = s.rec
		}
		if !openQuote(r, s.delim, s.trim) {
			return trimEOL(r), start, nil
		}
		if err == io.EOF {
			return trimEOL(r), start, ErrUnterminated
		}
		if len(s.rec) == 0 {
			// The next ReadSlice overwrites line: keep a copy.
			s.rec = append(s.rec, line...)
		}
	}
}

func (s *scanner) skipLine() {
	for {
		_, err := s.br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			s.line++
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// openQuote reports whether rec ends inside a quoted field. Well-formed
// CSV has an even number of quotes on every complete record (pairs and ""
// escapes), so the count decides almost always; only an odd count, which a
// quoted newline or a stray quote gives, pays for the state machine.
func openQuote(rec []byte, delim byte, trim bool) bool {
	n := bytes.Count(rec, []byte{'"'})
	if n == 0 {
		return false
	}
	if n&1 == 0 {
		return false
	}
	in := false
	fieldStart := true
	for i := 0; i < len(rec); i++ {
		c := rec[i]
		switch {
		case in:
			if c == '"' {
				if i+1 < len(rec) && rec[i+1] == '"' {
					i++
				} else {
					in = false
				}
			}
		case c == '"' && fieldStart:
			in = true
			fieldStart = false
		case trim && fieldStart && c != delim && spaceAt(rec, i) > 0:
			i += spaceAt(rec, i) - 1
		case c == delim:
			fieldStart = true
		default:
			fieldStart = false
		}
	}
	return in
}

// field returns field i of rec without splitting the rest: quotes are
// removed and "" unescaped (only then is the field copied). ok is false
// when the record has fewer fields.
func field(rec []byte, i int, delim byte, trim bool) (f []byte, ok bool) {
	pos := 0
	for k := 0; ; k++ {
		if pos > len(rec) {
			return nil, false
		}
		if trim {
			pos = skipSpace(rec, pos, delim)
		}
		var end int
		quoted := pos < len(rec) && rec[pos] == '"'
		if quoted {
			end = closingQuote(rec, pos+1)
			// After the closing quote comes the delimiter (or junk, kept lazily).
			next := bytes.IndexByte(rec[end:], delim)
			if k == i {
				return unquote(rec[pos:end]), true
			}
			if next < 0 {
				return nil, false
			}
			pos = end + next + 1
			continue
		}
		next := bytes.IndexByte(rec[pos:], delim)
		if next < 0 {
			end = len(rec)
		} else {
			end = pos + next
		}
		if k == i {
			return rec[pos:end], true
		}
		if next < 0 {
			return nil, false
		}
		pos = end + 1
	}
}

// skipSpace skips white space from pos, as encoding/csv's TrimLeadingSpace
// does (unicode.IsSpace, so U+00A0 too).
func skipSpace(rec []byte, pos int, delim byte) int {
	for pos < len(rec) && rec[pos] != delim {
		n := spaceAt(rec, pos)
		if n == 0 {
			break
		}
		pos += n
	}
	return pos
}

// spaceAt is the length of the white space character at rec[i], or 0.
func spaceAt(rec []byte, i int) int {
	if c := rec[i]; c < utf8.RuneSelf {
		if c == ' ' || (c >= '\t' && c <= '\r') {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRune(rec[i:])
	if unicode.IsSpace(r) {
		return n
	}
	return 0
}

// closingQuote returns the index just past the quote that closes a quoted
// field whose content starts at from, or len(rec) when it does not close.
func closingQuote(rec []byte, from int) int {
	i := from
	for {
		j := bytes.IndexByte(rec[i:], '"')
		if j < 0 {
			return len(rec)
		}
		i += j
		if i+1 < len(rec) && rec[i+1] == '"' {
			i += 2
			continue
		}
		return i + 1
	}
}

// unquote strips the quotes of a quoted field and unescapes "".
func unquote(q []byte) []byte {
	if len(q) < 1 || q[0] != '"' {
		return q
	}
	q = q[1:]
	if n := len(q); n > 0 && q[n-1] == '"' {
		q = q[:n-1]
	}
	if bytes.Contains(q, []byte(`""`)) {
		return bytes.ReplaceAll(q, []byte(`""`), []byte(`"`))
	}
	return q
}

// split splits a record into fields, reusing dst.
func split(rec []byte, delim byte, trim bool, dst []string) []string {
	dst = dst[:0]
	pos := 0
	for {
		if trim {
			pos = skipSpace(rec, pos, delim)
		}
		if pos < len(rec) && rec[pos] == '"' {
			end := closingQuote(rec, pos+1)
			val := string(unquote(rec[pos:end]))
			next := bytes.IndexByte(rec[end:], delim)
			if next < 0 {
				// Anything after the closing quote belongs to the field (lazy).
				dst = append(dst, val+string(rec[end:]))
				return dst
			}
			if next > 0 {
				val += string(rec[end : end+next])
			}
			dst = append(dst, val)
			pos = end + next + 1
			continue
		}
		next := bytes.IndexByte(rec[pos:], delim)
		if next < 0 {
			dst = append(dst, string(rec[pos:]))
			return dst
		}
		dst = append(dst, string(rec[pos:pos+next]))
		pos += next + 1
	}
}

// Row is one record; Line is where it starts in the file (1-based). Fields
// are split on first use.
type Row struct {
	Line   int
	raw    []byte
	delim  byte
	trim   bool
	fields []string
	split  bool
}

// FieldBytes returns field i without splitting the row, or nil. The bytes
// are valid only during the callback.
func (r *Row) FieldBytes(i int) []byte {
	if i < 0 {
		return nil
	}
	if r.split {
		if i < len(r.fields) {
			return []byte(r.fields[i])
		}
		return nil
	}
	f, _ := field(r.raw, i, r.delim, r.trim)
	return f
}

// Fields splits the row. The slice is reused for the next row: copy what
// you keep beyond the callback (the strings themselves are yours).
func (r *Row) Fields() []string {
	if !r.split {
		r.fields = split(r.raw, r.delim, r.trim, r.fields)
		r.split = true
	}
	return r.fields
}

// Raw is the record as read, for error reports.
func (r *Row) Raw() string { return string(r.raw) }
