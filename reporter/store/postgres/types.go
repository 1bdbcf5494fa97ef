package postgres

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// utcTime scans a timestamptz into a time.Time: NULL and -infinity as the
// zero time (a moment not set; a report due at once), any other in UTC.
// pgx alone would give the local time zone.
type utcTime time.Time

// at is the scan target for a time.Time.
func at(t *time.Time) *utcTime { return (*utcTime)(t) }

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (u *utcTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*u = utcTime{}
		return nil
	}
	*u = utcTime(v.Time.UTC())
	return nil
}

// maybe is a moment that may be unset: NULL for the zero time.
func maybe(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// due is a report's next try: the zero time (due at once, or never again
// for a report given up) is -infinity, before any clock.
func due(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// text returns s as a PostgreSQL text value can hold it: text is UTF-8
// and has no NUL, so each NUL and each byte that is not UTF-8 becomes
// U+FFFD, as encoding/json does to bytes that are not UTF-8. Feeds carry
// whatever their sources sent; one Latin-1 banner must not fail a batch.
// Valid strings, nearly all, are returned as they are, without copying.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s { // a byte that is not UTF-8 comes as one RuneError
		if r == 0 {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

// addrs is a contact's list of addresses as the domain keeps it: nil for
// none, as PostgreSQL's empty array reads back as an empty slice.
func addrs(a []string) []string {
	if len(a) == 0 {
		return nil
	}
	return a
}

// texts is a list to store, each element as text keeps it (text); never
// NULL, as the columns are NOT NULL: an empty list is '{}'.
func texts(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = text(s)
	}
	return out
}

// limit is a LIMIT argument: a negative one is no limit (NULL), as SQLite
// reads it, where PostgreSQL would refuse it.
func limit(n int) any {
	if n < 0 {
		return nil
	}
	return n
}
