package config

import (
	"go.yaml.in/yaml/v3"
	"regexp"
)

// Secret is a value that never prints: logs, errors and a dumped config show
// <secret>. Written as ${NAME} it is read from the environment.
type Secret string

const redacted = "<secret>"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing it either.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML keeps a dumped config from carrying it.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// secret expands ${VAR} references; a missing variable is an error on key.
func (v *validator) secret(key string, s Secret) (string, bool) {
	ok := true
	out := envRef.ReplaceAllStringFunc(string(s), func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		val, found := v.env(name)
		if !found {
			v.add(key, "environment variable %s is not set", name)
			ok = false
		}
		return val
	})
	return out, ok
}

// List is a list of strings that may also be written as one string:
// `fallback_contact: soc@cert.example` and `fallback_contact: [a, b]`.
type List []string

// UnmarshalYAML accepts a scalar or a sequence.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = List{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}
