package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	typeOfConfig = reflect.TypeOf(Config{})
	typeOfSecret = reflect.TypeOf(Secret(""))
)

// checkKeys walks the YAML tree beside the Go type and reports every key the
// type does not have, with its full path, so that a typo such as
// "mail.smpt" is an error instead of a silently ignored block.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == typeOfDuration && n.Kind != yaml.ScalarNode && n.Kind != yaml.AliasNode {
		// A struct in Go but one value in the file: Duration.UnmarshalYAML
		// keeps the mistake, and the validator names it with its key.
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			checkKeys(c, t, path, errs)
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				key := join(path, k.Value)
				ft, ok := fields[k.Value]
				if !ok {
					errs.add(key, k.Line, "unknown key; known keys here: %s", strings.Join(known(fields), ", "))
					continue
				}
				checkKeys(val, ft, key, errs)
			}
		case reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
			}
		default:
			errs.add(orRoot(path), n.Line, "expected %s, found a mapping", kindName(t))
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			errs.add(orRoot(path), n.Line, "expected %s, found a list", kindName(t))
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case yaml.ScalarNode:
		// A ${NAME} anywhere else would be used as written: in a From
		// header, a folder name. Refused rather than expanded, so that a
		// config says what it does, and secrets stay the one indirection.
		if i := strings.Index(n.Value, "${"); i >= 0 && t != typeOfSecret {
			ref := n.Value[i:]
			if j := strings.IndexByte(ref, '}'); j >= 0 {
				ref = ref[:j+1]
			}
			errs.add(orRoot(path), n.Line, "%s is not read from the environment: only secrets are (store.dsn, mail.smtp.password, "+
				"a url source's headers and query, shadowserver_api key and secret); write the value itself", ref)
		}
		switch t.Kind() {
		case reflect.Struct, reflect.Map:
			if n.Tag != "!!null" && t != typeOfDuration {
				errs.add(orRoot(path), n.Line, "expected a mapping, found %q", n.Value)
			}
		case reflect.Slice:
			if n.Tag != "!!null" && t != reflect.TypeOf(List{}) {
				errs.add(orRoot(path), n.Line, "expected a list, found %q (write [%s])", n.Value, n.Value)
			}
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out[name] = f.Type
	}
	return out
}

func known(fields map[string]reflect.Type) []string {
	var out []string
	for k := range fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return "a single value"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

// lineIndex maps every key path of the document to its line, so that
// validation errors found after decoding can still point at the file.
func lineIndex(root *yaml.Node) map[string]int {
	out := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := join(path, n.Content[i].Value)
				out[key] = n.Content[i+1].Line
				walk(n.Content[i+1], key)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				key := fmt.Sprintf("%s[%d]", path, i)
				out[key] = c.Line
				walk(c, key)
			}
		}
	}
	walk(root, "")
	return out
}
