package abuse

import (
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autoreporter/autoreporter/abuse/ripe"
)

// Source is a contact database consulted after the operator's overrides
// and before the fallback. ok is false when it has no answer.
type Source interface {
	Lookup(ip netip.Addr, asn uint32) (c Contact, ok bool)
}

// RIPE answers from an imported RIPE snapshot, and picks up a new import
// without a restart.
type RIPE struct {
	path     string
	language string
	cur      atomic.Pointer[ripeSnap]
	mu       sync.Mutex
	// lazy defers the load to the first question, for commands that
	// seldom ask one: a full-RIPE snapshot takes most of a second to load.
	lazy atomic.Bool
	once sync.Once
}

type ripeSnap struct {
	t     *ripe.Table
	to    [][]string // each contact's mailbox, normalised; nil when unreadable
	stamp fileStamp
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stampFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

// OpenRIPE loads the snapshot at path. A missing file is not an error: the
// source answers nothing until an import writes one.
func OpenRIPE(path, language string) (*RIPE, error) {
	r := &RIPE{path: path, language: language}
	if _, err := r.Reload(); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return r, nil
}

// OpenRIPELazy is OpenRIPE that reads the snapshot only when first asked.
// A snapshot that cannot be read then answers nothing; Reload reports why.
func OpenRIPELazy(path, language string) *RIPE {
	r := &RIPE{path: path, language: language}
	r.lazy.Store(true)
	return r
}

func (r *RIPE) ensure() {
	if r.lazy.Load() {
		r.once.Do(func() {
			_, _ = r.Reload()
			r.lazy.Store(false)
		})
	}
}

// Reload loads the snapshot if it changed; it reports whether it did.
func (r *RIPE) Reload() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := stampFile(r.path)
	if err != nil {
		return false, err
	}
	if cur := r.cur.Load(); cur != nil && cur.stamp == st {
		return false, nil
	}
	t, err := ripe.Load(r.path)
	if err != nil {
		return false, err
	}
	r.cur.Store(newRIPESnap(t, st))
	return true, nil
}

// Use serves t (just imported) without reading it back from disk.
func (r *RIPE) Use(t *ripe.Table) {
	st, _ := stampFile(r.path)
	r.cur.Store(newRIPESnap(t, st))
}

func newRIPESnap(t *ripe.Table, st fileStamp) *ripeSnap {
	s := &ripeSnap{t: t, to: make([][]string, len(t.Contacts)), stamp: st}
	for i, c := range t.Contacts {
		s.to[i] = mailboxAddresses(c.Mailbox)
	}
	return s
}

// Table is the loaded import, or nil.
func (r *RIPE) Table() *ripe.Table {
	r.ensure()
	if s := r.cur.Load(); s != nil {
		return s.t
	}
	return nil
}

var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// mailboxAddresses reads an abuse-mailbox value: a list with display
// names as RFC 5322 has it, or, failing that, whatever addresses it holds
// (the database has every shape).
func mailboxAddresses(v string) []string {
	if to, err := NormalizeAddresses([]string{v}); err == nil && len(to) > 0 {
		return to
	}
	var out []string
	for _, m := range emailRE.FindAllString(v, -1) {
		if a, err := mail.ParseAddress(m); err == nil {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Lookup implements Source: the most specific range, then the aut-num.
func (r *RIPE) Lookup(ip netip.Addr, asn uint32) (Contact, bool) {
	r.ensure()
	s := r.cur.Load()
	if s == nil {
		return Contact{}, false
	}
	if m, ok := s.t.Lookup(ip); ok {
		if to := s.to[m.Index]; len(to) > 0 {
			kind := "inetnum"
			if m.Range.First().Is6() {
				kind = "inet6num"
			}
			return Contact{To: to, Language: r.language, Source: fmt.Sprintf("ripe %s %s (abuse-c %s)", kind, m.Range, m.Contact.Role),
				Rule: fmt.Sprintf("ripe %s %s", kind, m.Range)}, true
		}
	}
	if asn != 0 {
		if m, ok := s.t.LookupASN(asn); ok {
			if to := s.to[m.Index]; len(to) > 0 {
				return Contact{To: to, Language: r.language, Source: fmt.Sprintf("ripe aut-num AS%d (abuse-c %s)", asn, m.Contact.Role),
					Rule: fmt.Sprintf("ripe aut-num AS%d", asn)}, true
			}
		}
	}
	return Contact{}, false
}
