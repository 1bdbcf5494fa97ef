package feed

import (
	"strconv"

	"github.com/autoreporter/autoreporter/reporter"
)

// Caps on what one event carries beyond its own fields. A real report is
// well inside them: Shadowserver's widest report type (scan_mysql) has 81
// columns besides those an event consumes, and the widest row of the shared
// samples carries 51 values in 3.2 KiB. A file with 100,000 columns is
// broken or hostile, and every extra field is stored, mailed and attached
// for every event, so it is cut at ingest.
const (
	// MaxExtraFields caps the extra fields of one event, not counting the
	// TruncatedKey field. It is above the 64 one might guess so that no
	// Shadowserver report type is ever cut.
	MaxExtraFields = 128
	// MaxExtraBytes caps the bytes of one event's extra keys and values
	// together (keys count: a header name can be as long as a value).
	MaxExtraBytes = 16 << 10
	// MaxExtraValue cuts each extra value, as Clean does.
	MaxExtraValue = 1024
)

// TruncatedKey is the extra field added, last, to an event whose extra
// fields were cut: its value is "N columns dropped", N counting the
// non-empty values that did not fit.
const TruncatedKey = "truncated"

// Extras collects an event's extra fields in column order within
// MaxExtraFields and MaxExtraBytes. Once a cap is reached every later value
// is dropped and counted, so the fields kept are always the first ones.
type Extras struct {
	fields  []reporter.Field
	bytes   int
	dropped int
}

// NewExtras starts from fields already set (such as "network"), which count
// against the caps.
func NewExtras(fields []reporter.Field) Extras {
	x := Extras{fields: fields}
	for _, f := range fields {
		x.bytes += len(f.Key) + len(f.Value)
	}
	return x
}

// Add appends key with value cleaned (Clean, MaxExtraValue), unless value
// is empty, or a cap is reached: then value is only counted. A value that
// is dropped is not cleaned, so a row far over the caps costs little more
// than its split.
func (x *Extras) Add(key, value string) {
	if value == "" {
		return
	}
	if x.Full() {
		x.dropped++
		return
	}
	value = Clean(value, MaxExtraValue)
	if x.bytes+len(key)+len(value) > MaxExtraBytes {
		x.dropped++
		return
	}
	x.bytes += len(key) + len(value)
	x.fields = append(x.fields, reporter.Field{Key: key, Value: value})
}

// Full reports whether every later value will be dropped, so that a caller
// can skip preparing it.
func (x *Extras) Full() bool { return x.dropped > 0 || len(x.fields) >= MaxExtraFields }

// Dropped is how many non-empty values did not fit.
func (x *Extras) Dropped() int { return x.dropped }

// Fields returns the fields kept, and a TruncatedKey field when anything
// was dropped.
func (x *Extras) Fields() []reporter.Field {
	if x.dropped == 0 {
		return x.fields
	}
	return append(x.fields, reporter.Field{Key: TruncatedKey, Value: strconv.Itoa(x.dropped) + " columns dropped"})
}
