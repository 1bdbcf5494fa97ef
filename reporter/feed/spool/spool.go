// Package spool is the folder source: files dropped into a feed's folder are
// claimed by an atomic rename, read, and moved to done/ or failed/ (with a
// sidecar that says why). A crash leaves claimed files in processing/, and
// the next pass takes them again; ingest is idempotent, so nothing doubles.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed/unpack"
)

// Subfolders of a spool folder.
const (
	Processing = "processing"
	Done       = "done"
	Failed     = "failed"
)

// Spool is one feed's folder.
type Spool struct {
	Dir string
	// Settle is how long a file must be left unmodified before it is taken,
	// so that a file still being copied in is not read half-way. Names
	// starting with a dot or ending in .part or .tmp are never taken: a
	// writer that writes under such a name and renames when done is safe
	// whatever its pace.
	Settle time.Duration
	Now    func() time.Time
	// Limits caps what a compressed file may unpack to; zero takes
	// unpack's defaults.
	Limits unpack.Limits
	// Skipped, when set, is told of every entry Claim leaves alone for
	// good (not for a settle): a symlink, a folder, a name it never takes.
	// The caller says so once, or an operator waits for a file that will
	// never be read.
	Skipped func(name, why string)
	// Unsettled, when set, is told of each file left for now because it
	// changed within Settle, and when it will have settled: a caller
	// whose next pass is far off looks again then.
	Unsettled func(name string, settled time.Time)
}

// File is a claimed file.
type File struct {
	Name string // the name it was dropped with
	Path string // where it is now, inside processing/
	s    *Spool
}

// Claim takes every settled file in the folder, oldest first, and files a
// crash left in processing/.
func (s *Spool) Claim(ctx context.Context) ([]*File, error) {
	proc := filepath.Join(s.Dir, Processing)
	if err := os.MkdirAll(proc, 0o750); err != nil {
		return nil, fmt.Errorf("spool %s: %w", s.Dir, err)
	}
	var out []*File
	left, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", s.Dir, err)
	}
	for _, e := range left {
		if e.Type().IsRegular() {
			out = append(out, &File{Name: e.Name(), Path: filepath.Join(proc, e.Name()), s: s})
		}
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", s.Dir, err)
	}
	type cand struct {
		name string
		mod  time.Time
		size int64
	}
	var cands []cand
	now := s.now()
	for _, e := range entries {
		name := e.Name()
		if why, ok := skip(e); !ok {
			if s.Skipped != nil && why != "" {
				s.Skipped(name, why)
			}
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		if s.Settle > 0 && now.Sub(info.ModTime()) < s.Settle {
			if s.Unsettled != nil {
				s.Unsettled(name, info.ModTime().Add(s.Settle))
			}
			continue
		}
		cands = append(cands, cand{name, info.ModTime(), info.Size()})
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].mod.Equal(cands[j].mod) {
			return cands[i].mod.Before(cands[j].mod)
		}
		return cands[i].name < cands[j].name
	})
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		// A second look just before the claim: a file that grew or was
		// touched since the listing is still being written.
		if info, err := os.Lstat(filepath.Join(s.Dir, c.name)); err != nil || info.Size() != c.size || !info.ModTime().Equal(c.mod) {
			continue
		}
		dst := filepath.Join(proc, c.name)
		// rename is atomic: of two instances claiming one file, one wins.
		if err := os.Rename(filepath.Join(s.Dir, c.name), dst); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return out, fmt.Errorf("spool %s: claim %s: %w", s.Dir, c.name, err)
		}
		out = append(out, &File{Name: c.name, Path: dst, s: s})
	}
	return out, nil
}

func (s *Spool) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Open opens the file for reading, unpacked (see Unpack).
func (f *File) Open() (io.ReadCloser, error) {
	rc, _, err := f.Unpack()
	return rc, err
}

// Unpack opens the file for reading, unpacked as package unpack does on
// every path: gzip, bzip2 or a zip of one file, known by their bytes, within
// the spool's Limits. name is what to hand the parser: the file's name
// without its compression suffix, or the zip member's name, so that a
// zipped Shadowserver report keeps its report type.
func (f *File) Unpack() (rc io.ReadCloser, name string, err error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, "", err
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, "", err
	}
	// Errors name the file as it was dropped, not where it sits in
	// processing/ meanwhile.
	r, inner, err := unpack.Reader(fh, info.Size(), f.Name, f.s.Limits)
	if err != nil {
		fh.Close()
		return nil, "", err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, fh}, filepath.Base(inner), nil
}

// Done moves the file to done/.
func (f *File) Done() error { return f.finish(Done, "") }

// Fail moves the file to failed/ and writes why beside it.
func (f *File) Fail(cause error) error { return f.finish(Failed, cause.Error()) }

func (f *File) finish(sub, why string) error {
	dir := filepath.Join(f.s.Dir, sub)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("spool %s: %w", f.s.Dir, err)
	}
	dst := filepath.Join(dir, f.Name)
	if _, err := os.Stat(dst); err == nil {
		// The same name came twice; keep both.
		ext := filepath.Ext(f.Name)
		dst = filepath.Join(dir, fmt.Sprintf("%s.%s%s", strings.TrimSuffix(f.Name, ext), f.s.now().UTC().Format("20060102T150405.000000000"), ext))
	}
	if why != "" {
		if err := os.WriteFile(dst+".error.txt", []byte(why+"\n"), 0o640); err != nil {
			return fmt.Errorf("spool %s: %w", f.s.Dir, err)
		}
	}
	if err := os.Rename(f.Path, dst); err != nil {
		return fmt.Errorf("spool %s: move %s to %s: %w", f.s.Dir, f.Name, sub, err)
	}
	f.Path = dst
	return nil
}

// skip says whether an entry of the spool folder may be taken (ok), and
// when not, why (empty for the spool's own subfolders).
func skip(e os.DirEntry) (why string, ok bool) {
	name := e.Name()
	switch {
	case e.IsDir():
		if name == Processing || name == Done || name == Failed {
			return "", false
		}
		return "a folder: files are taken from the spool folder itself, not its subfolders", false
	case e.Type()&os.ModeSymlink != 0:
		return "a symbolic link: links are not followed; move or copy the file in", false
	case !e.Type().IsRegular():
		return "not a regular file", false
	case strings.HasPrefix(name, "."):
		return "a dot name: taken once it is renamed to a name without the dot", false
	case strings.HasSuffix(name, ".part"), strings.HasSuffix(name, ".tmp"):
		return "a .part or .tmp name: taken once it is renamed", false
	}
	return "", true
}
