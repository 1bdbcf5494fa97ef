package feed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// ErrUnterminated is a record whose quoted field never closes before the
// end of the file.
var ErrUnterminated = errors.New("quoted field not closed before the end of the file")

// ErrStrayQuote is a record that a quote made run over several lines and
// that cannot be one record: still open after MaxRecordLines lines, not as
// wide as the header, or not CSV once closed. Only its first line is
// rejected; the lines after it are read again as rows.
var ErrStrayQuote = errors.New("stray quote")

var (
	errOpenTooLong = fmt.Errorf("%w: quoted field still open after %d lines", ErrStrayQuote, MaxRecordLines)
	errWidth       = fmt.Errorf("%w: a quoted field spans lines and the record is not as wide as the header", ErrStrayQuote)
	errMalformed   = fmt.Errorf("%w: a quoted field spans lines and the record is not CSV (text after a closing quote, or a quote inside an unquoted field)", ErrStrayQuote)
)

// MaxRecord caps one record. A longer one (a runaway quote, a hostile file)
// is reported and skipped instead of growing memory without bound.
const MaxRecord = 4 << 20

// MaxRecordLines caps the physical lines of one record. Feeds put line
// breaks in a field now and then (a banner, a postal address), seldom more
// than a few; a quote still open after this many lines is far more likely
// a stray one (a hostname that lost its closing quote) that would swallow
// every row after it into one record. Its first line is rejected and the
// lines read ahead are read again, so a stray quote costs one row and at
// most MaxRecordLines-1 lines read twice.
const MaxRecordLines = 8

// errTooLong is a record over MaxRecord.
var errTooLong = errors.New("record longer than 4 MiB")

// scanner reads delimited records without splitting them: a record is
// usually one physical line, and a line whose quotes balance needs no
// further look. Only the rows a parser keeps are split into fields, which
// is what makes a global feed cheap when 99% of it is someone else's.
//
// A record that spans lines is checked before it is believed (see
// MaxRecordLines, ErrStrayQuote); when it is refused, the lines after its
// first go to a push-back buffer and are scanned again, so that reading
// resumes at the line after the refused one.
type scanner struct {
	br    *bufio.Reader
	delim byte
	trim  bool // spaces before a field's opening quote are skipped
	// fields is the header's width once known (0 before): a record that
	// spans lines must have exactly as many fields.
	fields int
	line   int    // physical lines handed out so far
	rec    []byte // a record that spans lines
	long   []byte // a line longer than the bufio buffer
	// back holds physical lines to read again, each with its line ending,
	// from backOff on; spare is the other buffer, swapped in on a refusal.
	back, spare []byte
	backOff     int
	// tooLong is a line over MaxRecord that comes right after back: it was
	// skipped while reading ahead and is reported when its turn comes.
	tooLong bool
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
// read of it (for a record that spans lines, its first line only), and
// reading can go on.
func (s *scanner) next() (rec []byte, start int, err error) {
	var line []byte
	if len(s.back) == 0 && !s.tooLong {
		// readLine's common case, written out here: the call is not inlined
		// and costs a few per cent on a global feed.
		line, err = s.br.ReadSlice('\n')
		if err == nil {
			s.line++
		} else {
			line, err = s.readRest(line, err)
		}
	} else {
		line, err = s.readLine()
	}
	if err != nil {
		if err == errTooLong {
			return nil, s.line, err
		}
		return nil, s.line + 1, err
	}
	// The common case: a whole record on one line, in the buffer, no copy.
	if !openQuote(line, s.delim, s.trim) {
		return trimEOL(line), s.line, nil
	}
	return s.multiLine(line)
}

// multiLine reads on from first, a line that ends inside a quoted field,
// until the field closes, and refuses what cannot be one record.
func (s *scanner) multiLine(first []byte) ([]byte, int, error) {
	start := s.line
	s.rec = append(s.rec[:0], first...)
	n := len(first)
	for lines := 1; ; {
		if lines >= MaxRecordLines {
			return s.refuse(n, start, errOpenTooLong)
		}
		line, err := s.readLine()
		switch {
		case err == io.EOF:
			return s.refuse(n, start, ErrUnterminated)
		case err == errTooLong:
			// The field ran into a line too long to keep: it did not close
			// in time. That line is reported in its turn.
			s.tooLong = true
			return s.refuse(n, start, errOpenTooLong)
		case err != nil:
			return nil, start, err
		}
		s.rec = append(s.rec, line...)
		lines++
		if len(s.rec) > MaxRecord {
			return s.refuse(n, start, errTooLong)
		}
		if openQuote(s.rec, s.delim, s.trim) {
			continue
		}
		rec := trimEOL(s.rec)
		fields, ok := shape(rec, s.delim, s.trim)
		if !ok {
			return s.refuse(n, start, errMalformed)
		}
		if s.fields > 0 && fields != s.fields {
			return s.refuse(n, start, errWidth)
		}
		return rec, start, nil
	}
}

// refuse rejects the first line (s.rec[:n]) of the record being read and
// pushes the lines read after it back, ahead of what back still held, so
// that reading resumes at the line after start.
func (s *scanner) refuse(n, start int, err error) ([]byte, int, error) {
	s.spare = append(append(s.spare[:0], s.rec[n:]...), s.back[s.backOff:]...)
	s.back, s.spare = s.spare, s.back
	s.backOff = 0
	s.line = start
	return trimEOL(s.rec[:n]), start, err
}

// readLine returns the next physical line with its line ending (none on a
// last line without one), from back first. The bytes are valid until the
// following call. A line over MaxRecord is skipped and counted, and
// errTooLong returned for it.
func (s *scanner) readLine() ([]byte, error) {
	if len(s.back) > 0 || s.tooLong {
		if line, ok, err := s.readBack(); ok {
			return line, err
		}
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		return s.readRest(line, err)
	}
	s.line++
	return line, nil
}

// readRest finishes a ReadSlice that did not end in a line break: a line
// longer than the buffer, the last line, or a read error.
func (s *scanner) readRest(line []byte, err error) ([]byte, error) {
	if err == bufio.ErrBufferFull {
		return s.readLong(line)
	}
	if err != io.EOF {
		return nil, err
	}
	if len(line) == 0 {
		return nil, io.EOF
	}
	s.line++
	return line, nil
}

// readBack takes the next line from back, or the skipped line after it.
// ok is false when both are used up.
func (s *scanner) readBack() (line []byte, ok bool, err error) {
	if s.backOff < len(s.back) {
		b := s.back[s.backOff:]
		i := bytes.IndexByte(b, '\n') + 1
		if i == 0 {
			i = len(b)
		}
		s.backOff += i
		s.line++
		return b[:i], true, nil
	}
	// Used up. Emptying back overwrites nothing: it is written only by
	// refuse, into spare, after what was handed out from it was copied.
	s.back, s.backOff = s.back[:0], 0
	if s.tooLong {
		s.tooLong = false
		s.line++
		return nil, true, errTooLong
	}
	return nil, false, nil
}

// readLong assembles a line longer than the bufio buffer, or skips it
// when it passes MaxRecord.
func (s *scanner) readLong(part []byte) ([]byte, error) {
	s.long = append(s.long[:0], part...)
	for {
		part, err := s.br.ReadSlice('\n')
		if len(s.long)+len(part) > MaxRecord {
			for err == bufio.ErrBufferFull {
				_, err = s.br.ReadSlice('\n')
			}
			s.line++
			return nil, errTooLong
		}
		s.long = append(s.long, part...)
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil, io.EOF:
			s.line++
			return s.long, nil
		default:
			return nil, err
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

// shape counts the fields of a record and reports whether it is CSV in
// encoding/csv's strict sense: every closing quote followed by the
// delimiter or the end, no quote inside an unquoted field. Only records
// that span lines are asked: a stray quote that merged lines almost always
// leaves one of these marks where it closed.
func shape(rec []byte, delim byte, trim bool) (fields int, ok bool) {
	pos := 0
	for {
		fields++
		if trim {
			pos = skipSpace(rec, pos, delim)
		}
		if pos < len(rec) && rec[pos] == '"' {
			end := closingQuote(rec, pos+1)
			if end >= len(rec) {
				return fields, true
			}
			if rec[end] != delim {
				return fields, false
			}
			pos = end + 1
			continue
		}
		f := rec[pos:]
		next := bytes.IndexByte(f, delim)
		if next >= 0 {
			f = f[:next]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return fields, false
		}
		if next < 0 {
			return fields, true
		}
		pos += next + 1
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

// Check says why a row's values cannot be trusted to be in their columns,
// or "": a quote that opens and closes within the line around a delimiter
// (`"h1.example.fi,"rdp"`) merges two fields, so every later value moves
// one column left; such a row is not CSV (text after a closing quote, a
// quote inside an unquoted field). A row wider than the header is wrong
// too. A narrower one is not: Shadowserver writes rows without the
// trailing columns a header gained later, and their values are in place.
// Parsers call it on the rows they keep, so the rest cost nothing.
func (r *Row) Check(width int) string {
	n, ok := shape(r.raw, r.delim, r.trim)
	switch {
	case !ok:
		return "not CSV: text after a closing quote, or a quote inside an unquoted field (a stray quote would shift the columns)"
	case width > 0 && n > width:
		return fmt.Sprintf("row has %d fields, the header %d", n, width)
	}
	return ""
}
