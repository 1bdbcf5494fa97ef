// Package templates holds the default mail templates, one file per
// language, and lets an operator's folder override any of them by name.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

//go:embed *.tmpl
var defaults embed.FS

// FS returns the templates: a file in dir, when dir is set and has it, wins
// over the embedded default of the same name.
func FS(dir string) fs.FS {
	if dir == "" {
		return defaults
	}
	return overlay{top: os.DirFS(dir), base: defaults}
}

// overlay reads a file from top when top has it and from base otherwise.
// It lists a folder as the union of both layers (ReadDir): fs.Glob and
// fs.ReadDir would otherwise see only top's folder, and a folder holding
// one override would hide every built-in it does not override.
type overlay struct{ top, base fs.FS }

var _ fs.ReadDirFS = overlay{}

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}

// ReadDir lists name in both layers, sorted by name; an entry of top hides
// the base entry of the same name. A folder missing from one layer is
// listed from the other; missing from both, it is fs.ErrNotExist.
func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	top, errTop := fs.ReadDir(o.top, name)
	if errTop != nil && !errors.Is(errTop, fs.ErrNotExist) {
		return nil, errTop
	}
	base, errBase := fs.ReadDir(o.base, name)
	if errBase != nil && !errors.Is(errBase, fs.ErrNotExist) {
		return nil, errBase
	}
	if errTop != nil && errBase != nil {
		return nil, errTop
	}
	byName := make(map[string]fs.DirEntry, len(top)+len(base))
	for _, e := range base {
		byName[e.Name()] = e
	}
	for _, e := range top {
		byName[e.Name()] = e
	}
	out := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ReportName is the file name of the report body for a language.
func ReportName(lang string) string { return "report." + lang + ".txt.tmpl" }

// ReportPattern matches the report bodies' file names, for fs.Glob.
const ReportPattern = "report.*.txt.tmpl"

// Languages lists, sorted, the languages fsys has a report body for.
func Languages(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, ReportPattern)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, LanguageOf(n))
	}
	sort.Strings(out)
	return out, nil
}

// LanguageOf is the language of a body's file name: "sv" for
// report.sv.txt.tmpl and fallback.sv.txt.tmpl.
func LanguageOf(name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "report."), "fallback.")
	return strings.TrimSuffix(name, ".txt.tmpl")
}

// FallbackPattern matches the fallback mailbox's report bodies: events
// whose owner had no contact, told to the CERT's own staff.
const FallbackPattern = "fallback.*.txt.tmpl"

// FallbackName is the file name of the fallback body for a language.
func FallbackName(lang string) string { return "fallback." + lang + ".txt.tmpl" }
