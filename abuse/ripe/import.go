package ripe

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options tune an import.
type Options struct {
	// Keep, when set, keeps only ranges it accepts (the constituency).
	Keep func(first, last netip.Addr) bool
	Log  *slog.Logger
	Now  func() time.Time
	// Progress, when set, is told as the dumps are read how many bytes of
	// the dump files (as stored, gzipped or not) were read, of how many.
	Progress func(done, total int64)
}

// Dump file names, in the order they are read: roles and organisations
// first, so that each range's contact is known as it streams past.
var dumps = []string{"role", "organisation", "inetnum", "inet6num", "aut-num"}

func dumpPath(dir, kind string) (string, bool) {
	for _, name := range []string{"ripe.db." + kind + ".gz", "ripe.db." + kind} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// importer holds the small maps (roles, organisations) while the big
// files stream past.
type importer struct {
	opt      Options
	mailbox  map[string]int32  // role nic-hdl (upper case) -> contact
	orgAbuse map[string]string // organisation id -> abuse-c
	contacts []Contact
	byBox    map[string]int32
	t        *Table
	// read and total are bytes of the dump files, for Options.Progress.
	read, total int64
}

// Import reads the split dumps in dir. ripe.db.role and at least one of
// ripe.db.inetnum and ripe.db.inet6num are required; organisation and
// aut-num are read when present. Each may be gzipped.
func Import(ctx context.Context, dir string, opt Options) (*Table, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	im := &importer{opt: opt, mailbox: map[string]int32{}, orgAbuse: map[string]string{}, byBox: map[string]int32{},
		t: &Table{Stats: Stats{Objects: map[string]int{}}}}
	if _, ok := dumpPath(dir, "role"); !ok {
		return nil, fmt.Errorf("ripe import %s: ripe.db.role.gz is missing: without roles there are no abuse mailboxes", dir)
	}
	_, v4 := dumpPath(dir, "inetnum")
	_, v6 := dumpPath(dir, "inet6num")
	if !v4 && !v6 {
		return nil, fmt.Errorf("ripe import %s: neither ripe.db.inetnum.gz nor ripe.db.inet6num.gz is there", dir)
	}
	for _, kind := range dumps {
		if path, ok := dumpPath(dir, kind); ok {
			if info, err := os.Stat(path); err == nil {
				im.total += info.Size()
			}
		}
	}
	for _, kind := range dumps {
		path, ok := dumpPath(dir, kind)
		if !ok {
			opt.Log.Warn("ripe dump not found; going on without it", "dir", dir, "kind", kind)
			continue
		}
		start := time.Now()
		if err := im.file(ctx, path); err != nil {
			return nil, err
		}
		opt.Log.Info("ripe dump read", "file", filepath.Base(path), "objects", im.t.Stats.Objects[kind], "took", time.Since(start).Round(time.Millisecond))
	}
	t := im.t
	t.Contacts = im.contacts
	t.Imported = opt.Now().UTC()
	t.Stats.Ranges = len(t.Ranges)
	t.Stats.ASNs = len(t.ASNs)
	sortRanges(t.Ranges)
	slices.SortFunc(t.ASNs, func(a, b ASN) int { return int(int64(a.ASN) - int64(b.ASN)) })
	t.flatten()
	return t, nil
}

func (im *importer) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ripe import: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if im.opt.Progress != nil {
		r = &progressReader{r: f, im: im}
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("ripe import %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	base := filepath.Base(path)
	logged := 0
	bad := func(line int, reason string) {
		im.t.Stats.Skipped++
		if logged < 10 {
			logged++
			im.opt.Log.Warn("ripe object skipped", "file", base, "line", line, "reason", reason)
		}
	}
	err = Parse(ctx, r, func(o *Object) error {
		im.t.Stats.Objects[o.Type()]++
		if err := im.object(o); err != nil {
			bad(o.Line, err.Error())
		}
		return nil
	}, bad)
	if err != nil {
		return fmt.Errorf("ripe import %s: %w", path, err)
	}
	return nil
}

// progressReader counts the bytes of a dump file read, before they are
// unpacked: the sizes of the files are what is known up front.
type progressReader struct {
	r  io.Reader
	im *importer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.im.read += int64(n)
	p.im.opt.Progress(p.im.read, p.im.total)
	return n, err
}

func (im *importer) contact(mailbox, role string) int32 {
	if i, ok := im.byBox[mailbox]; ok {
		return i
	}
	i := int32(len(im.contacts))
	im.contacts = append(im.contacts, Contact{Mailbox: mailbox, Role: role})
	im.byBox[mailbox] = i
	return i
}

// abuseOf finds an object's abuse contact: its own abuse-c, or its
// organisation's.
func (im *importer) abuseOf(o *Object) int32 {
	h := o.Get("abuse-c")
	if h == "" {
		if org := o.Get("org"); org != "" {
			h = im.orgAbuse[strings.ToUpper(org)]
		}
	}
	if h == "" {
		return -1
	}
	if i, ok := im.mailbox[strings.ToUpper(h)]; ok {
		return i
	}
	return -1
}

func (im *importer) object(o *Object) error {
	switch o.Type() {
	case "role":
		box := o.Get("abuse-mailbox")
		if box == "" {
			return nil
		}
		h := strings.ToUpper(o.Get("nic-hdl"))
		if h == "" {
			return errors.New("role without nic-hdl")
		}
		im.mailbox[h] = im.contact(box, h)
		im.t.Stats.Roles++
	case "organisation":
		if a := o.Get("abuse-c"); a != "" {
			im.orgAbuse[strings.ToUpper(o.Key())] = a
		}
	case "inetnum", "inet6num":
		lo, hi, err := parseRange(o.Type(), o.Key())
		if err != nil {
			return err
		}
		if im.opt.Keep != nil && !im.opt.Keep(lo, hi) {
			im.t.Stats.Outside++
			return nil
		}
		c := im.abuseOf(o)
		if c >= 0 {
			im.t.Stats.WithAbuse++
		}
		im.t.Ranges = append(im.t.Ranges, Range{Lo: toU128(lo), Hi: toU128(hi), Contact: c})
	case "aut-num":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(o.Key()), "AS"), 10, 32)
		if err != nil {
			return fmt.Errorf("aut-num %q is not an AS number", o.Key())
		}
		if c := im.abuseOf(o); c >= 0 {
			im.t.ASNs = append(im.t.ASNs, ASN{ASN: uint32(n), Contact: c})
		}
	}
	return nil
}

// parseRange reads "192.0.2.0 - 192.0.2.255" (inetnum) or "2001:db8::/32"
// (inet6num).
func parseRange(kind, key string) (lo, hi netip.Addr, err error) {
	if a, b, ok := strings.Cut(key, "-"); ok {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() || hi.Less(lo) {
			return lo, hi, fmt.Errorf("%s %q is not a range", kind, key)
		}
		return lo, hi, nil
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(key))
	if err != nil {
		return lo, hi, fmt.Errorf("%s %q is not a range or prefix", kind, key)
	}
	p = p.Masked()
	return p.Addr(), lastOf(p), nil
}
