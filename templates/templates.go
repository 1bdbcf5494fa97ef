// Package templates holds the default mail templates, one file per
// language, and lets an operator's folder override any of them by name.
package templates

import (
	"embed"
	"errors"
	"io/fs"
	"os"
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

type overlay struct{ top, base fs.FS }

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

// ReportName is the file name of the report body for a language.
func ReportName(lang string) string { return "report." + lang + ".txt.tmpl" }
