package templates_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/templates"
)

// An operator's folder overrides by name: what it does not hold, the
// built-ins still provide, whichever way the folder is listed.
func TestOverlayListsBothLayers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("report.sv.txt.tmpl", "svenska")
	write("report.en.txt.tmpl", "operator english")
	fsys := templates.FS(dir)

	tests := []struct {
		name string
		list func() ([]string, error)
	}{
		{"Glob", func() ([]string, error) { return fs.Glob(fsys, "report.*.txt.tmpl") }},
		{"ReadDir", func() ([]string, error) {
			ents, err := fs.ReadDir(fsys, ".")
			var out []string
			for _, e := range ents {
				out = append(out, e.Name())
			}
			return out, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, err := tt.list()
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"report.en.txt.tmpl", "report.fi.txt.tmpl", "report.sv.txt.tmpl"}
			for _, w := range want {
				if !slices.Contains(names, w) {
					t.Errorf("%s missing from %v", w, names)
				}
			}
			if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Errorf("listing not sorted or has duplicates: %v", names)
			}
		})
	}
	for name, want := range map[string]string{"report.en.txt.tmpl": "operator english", "report.sv.txt.tmpl": "svenska", "report.fi.txt.tmpl": "{{"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v, does not contain %q", name, err, want)
		}
	}
}

func TestLanguages(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.sv.txt.tmpl"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	tests := []struct {
		name string
		fsys fs.FS
		want []string
	}{
		{"built-in", templates.FS(""), []string{"en", "fi"}},
		{"folder adds sv", templates.FS(dir), []string{"en", "fi", "sv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := templates.Languages(tt.fsys)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Languages = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
