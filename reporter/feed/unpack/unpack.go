// Package unpack opens what feeds deliver, the same way on every path (the
// spool folder, an HTTP download, a file given to the ingest command): a
// plain file, or gzip, bzip2 or a zip of one file, recognised by its magic
// bytes whatever it is called, with caps on what it may unpack to against
// decompression bombs. It also says what name to hand the parser: the
// name without its compression suffix, or the zip member's, because parsers
// read meaning from names (Shadowserver's report type).
package unpack

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrTooLarge is an unpacked body over its cap.
var ErrTooLarge = errors.New("over the size cap")

// ErrNotCompressed is a file whose name says it is compressed and whose
// bytes say it is not: a truncated or mislabelled file, refused rather than
// parsed as text.
var ErrNotCompressed = errors.New("name says compressed, bytes are not gzip, bzip2 or zip")

// ErrZipMembers is a zip that does not hold exactly one file. Feeds send one
// report per zip; with several, which one is the report (and which name
// decides its type) would be a guess.
var ErrZipMembers = errors.New("zip must hold exactly one file")

// Default caps, as httpsrc has always used them.
const (
	DefaultMaxUnpacked = 8 << 30
	DefaultMaxRatio    = 200
)

// Limits caps what a compressed file may unpack to. Zero values take the
// defaults.
type Limits struct {
	// MaxUnpacked caps the unpacked bytes.
	MaxUnpacked int64
	// MaxRatio caps unpacked/packed bytes; packed files under 1 MiB count as
	// 1 MiB, so that a small file of real data is never refused for its ratio.
	MaxRatio int64
}

// cap is the most a packed file of size bytes may unpack to.
func (l Limits) cap(size int64) int64 {
	maxUnpacked, ratio := l.MaxUnpacked, l.MaxRatio
	if maxUnpacked <= 0 {
		maxUnpacked = DefaultMaxUnpacked
	}
	if ratio <= 0 {
		ratio = DefaultMaxRatio
	}
	return min(maxUnpacked, max(size, 1<<20)*ratio)
}

// Format is what the magic bytes say a file is.
type Format int

// The formats Detect knows.
const (
	Plain Format = iota
	Gzip
	Bzip2
	Zip
)

func (f Format) String() string {
	switch f {
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Zip:
		return "zip"
	}
	return "plain"
}

// Detect reads the format from a file's first bytes.
func Detect(magic []byte) Format {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return Gzip
	// "BZh" and a block size digit: three letters alone start too many
	// plain files.
	case len(magic) >= 4 && bytes.HasPrefix(magic, []byte("BZh")) && magic[3] >= '1' && magic[3] <= '9':
		return Bzip2
	// A local file header, or the end record that is all of an empty zip.
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")), bytes.HasPrefix(magic, []byte("PK\x05\x06")):
		return Zip
	}
	return Plain
}

// suffixes are the compression suffixes a name may end in, lower case.
var suffixes = []string{".gz", ".bz2", ".zip"}

// compressedName returns name without a compression suffix (any case), and
// whether it had one.
func compressedName(name string) (string, bool) {
	for _, s := range suffixes {
		if n := len(name) - len(s); n > 0 && strings.EqualFold(name[n:], s) {
			return name[:n], true
		}
	}
	return name, false
}

// Open opens the file at path, unpacked. name is what to hand the parser:
// path itself for a plain file, path without its compression suffix for
// gzip and bzip2, and for a zip the member's base name in path's folder.
// Closing rc closes the file.
func Open(path string, lim Limits) (rc io.ReadCloser, name string, err error) {
	// os errors name the operation and the path already.
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	r, name, err := Reader(f, info.Size(), path, lim)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return &readCloser{Reader: r, close: f.Close}, name, nil
}

// Reader unpacks size bytes of ra, a file called name, and returns the
// unpacked bytes and the name to hand the parser (see Open). The reader
// fails with ErrTooLarge once the unpacked bytes pass the cap. Errors name
// the file.
func Reader(ra io.ReaderAt, size int64, name string, lim Limits) (io.Reader, string, error) {
	var magic [4]byte
	n, err := ra.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	limit := lim.cap(size)
	sr := io.NewSectionReader(ra, 0, size)
	inner, hasSuffix := compressedName(name)
	switch Detect(magic[:n]) {
	case Gzip:
		zr, err := gzip.NewReader(sr)
		if err != nil {
			return nil, "", fmt.Errorf("%s: gzip: %w", name, err)
		}
		return capped(zr, limit, name), inner, nil
	case Bzip2:
		return capped(bzip2.NewReader(sr), limit, name), inner, nil
	case Zip:
		zr, err := zip.NewReader(ra, size)
		if err != nil {
			return nil, "", fmt.Errorf("%s: zip: %w", name, err)
		}
		m, err := member(zr)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		if m.UncompressedSize64 > uint64(limit) {
			return nil, "", fmt.Errorf("%s: zip member %s: %w (%d bytes unpacked)", name, m.Name, ErrTooLarge, limit)
		}
		rc, err := m.Open()
		if err != nil {
			return nil, "", fmt.Errorf("%s: zip member %s: %w", name, m.Name, err)
		}
		// Zips made on Windows may separate folders with backslashes.
		inner := path.Base(strings.ReplaceAll(m.Name, "\\", "/"))
		if dir := filepath.Dir(name); dir != "." {
			inner = filepath.Join(dir, inner)
		}
		// The header's size can lie; the cap holds on what is read.
		return capped(rc, limit, name), inner, nil
	}
	if hasSuffix {
		return nil, "", fmt.Errorf("%s: %w", name, ErrNotCompressed)
	}
	return sr, name, nil
}

// member is the one file of a zip. Folders and the __MACOSX/ metadata that
// macOS's Finder adds to every zip it makes are not files of the feed.
func member(zr *zip.Reader) (*zip.File, error) {
	var files []*zip.File
	for _, m := range zr.File {
		if m.FileInfo().IsDir() || strings.HasPrefix(m.Name, "__MACOSX/") {
			continue
		}
		files = append(files, m)
	}
	switch len(files) {
	case 1:
		return files[0], nil
	case 0:
		return nil, fmt.Errorf("%w: it holds none", ErrZipMembers)
	}
	names := make([]string, 0, 3)
	for _, m := range files[:min(3, len(files))] {
		names = append(names, m.Name)
	}
	more := ""
	if len(files) > 3 {
		more = ", ..."
	}
	return nil, fmt.Errorf("%w: it holds %d (%s%s); unzip it and ingest each", ErrZipMembers, len(files), strings.Join(names, ", "), more)
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// capped fails with ErrTooLarge once more than limit bytes come out.
func capped(r io.Reader, limit int64, name string) io.Reader {
	return &capReader{r: r, left: limit, name: name}
}

type capReader struct {
	r    io.Reader
	left int64
	name string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a stream that ends exactly at the cap from one
		// that goes on.
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%s: unpacked: %w", c.name, ErrTooLarge)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", c.name, err)
	}
	return n, err
}
