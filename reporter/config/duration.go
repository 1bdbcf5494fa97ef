package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a span of time as the config writes it: Go's units plus
// days and weeks ("90s", "36h", "7d", "2w"; see ParseDuration).
//
// It reads itself from YAML but never fails the decode: yaml.v3 stops at
// an Unmarshaler's first plain error, and a TypeError would carry a line
// but not the key. So a value that is not a duration is kept with its
// mistake, and the validator reports every such value at once with its
// full key path (validator.durations), as it does every other mistake.
type Duration struct {
	d    time.Duration
	set  bool   // written in the file (or given by DurationOf)
	text string // as written, for messages that quote it
	err  error  // why text is not a duration
}

var typeOfDuration = reflect.TypeOf(Duration{})

// DurationOf returns a Duration set to d, as if the file had said so.
func DurationOf(d time.Duration) Duration { return Duration{d: d, set: true} }

// Duration returns the value: what the file said, or the default applied
// when the key was absent (0 when it has none).
func (d Duration) Duration() time.Duration { return d.d }

// IsSet reports whether the file gave the value (the defaults pass fills
// only the ones it did not).
func (d Duration) IsSet() bool { return d.set }

// String is the value as written when it was, else the value itself.
func (d Duration) String() string {
	if d.text != "" {
		return d.text
	}
	return d.d.String()
}

// UnmarshalYAML keeps what was written and, when it is not a duration,
// why not; a null or empty value leaves the key unset, as if absent.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	*d = Duration{}
	if n.Kind != yaml.ScalarNode {
		kind := map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[n.Kind]
		if kind == "" {
			kind = "no single value"
		}
		d.set, d.err = true, fmt.Errorf("expected a duration (like 30m, 24h, 7d), found %s", kind)
		return nil
	}
	if n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		return nil
	}
	d.set, d.text = true, n.Value
	d.d, d.err = ParseDuration(n.Value)
	return nil
}

// MarshalYAML writes the value back as it was written.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// orDefault gives an unset Duration its default.
func (d *Duration) orDefault(def time.Duration) {
	if !d.set {
		d.d = def
	}
}

// ParseDuration accepts Go durations plus days and weeks: "36h", "7d", "2w".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			if f, err := strconv.ParseFloat(n, 64); err == nil && f >= 0 {
				return time.Duration(f * float64(unit)), nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (like 30m, 24h, 7d)", s)
	}
	return d, nil
}

// durations reports every Duration in the config that could not be read,
// with its key path: the walk follows the yaml tags as checkKeys does, so
// the keys are the ones the file uses ("feeds[2].source.timeout").
func (v *validator) durations(rv reflect.Value, path string) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.durations(rv.Elem(), path)
		}
	case reflect.Struct:
		if rv.Type() == typeOfDuration {
			if err := rv.Interface().(Duration).err; err != nil {
				v.add(orRoot(path), "%v", err)
			}
			return
		}
		t := rv.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			v.durations(rv.Field(i), join(path, name))
		}
	case reflect.Slice:
		for i := range rv.Len() {
			v.durations(rv.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}
