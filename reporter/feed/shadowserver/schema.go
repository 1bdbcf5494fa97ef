package shadowserver

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// Schema is Shadowserver's published machine-readable description of its
// reports (reports.json): for each report type its name, RSIT taxonomy and
// type, and its ordered field list. When a schema is loaded it is the
// authority on classifications; the built-in table covers what it leaves
// out and the case where no schema can be had.
type Schema struct {
	Types map[string]SchemaType
}

// SchemaType is one report type of the schema.
type SchemaType struct {
	Name     string   `json:"name"`
	Taxonomy string   `json:"classification.taxonomy"`
	Type     string   `json:"classification.type"`
	Fields   []string `json:"fields"`
	URL      string   `json:"url"`
}

// ReadSchema parses reports.json.
func ReadSchema(r io.Reader, name string) (*Schema, error) {
	var types map[string]SchemaType
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&types); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("schema %s: no report types", name)
	}
	return &Schema{Types: types}, nil
}

// LoadSchema reads reports.json from a file.
func LoadSchema(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	defer f.Close()
	return ReadSchema(f, path)
}

// ReportTypes lists the schema's report types, sorted.
func (s *Schema) ReportTypes() []string {
	out := make([]string, 0, len(s.Types))
	for t := range s.Types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// kind decides a report type's classification: the schema's type when it
// gives one, the built-in rules otherwise. The identifier rules are ours in
// both cases ("rdp" for scan_rdp, the row's infection for events).
func (s *Schema) kind(reportType string) (kind, bool) {
	k, known := lookupKind(reportType)
	if s == nil {
		return k, known
	}
	st, ok := s.Types[reportType]
	if !ok {
		return k, known
	}
	if st.Type != "" {
		k.Classification = st.Type
	}
	return k, true
}
