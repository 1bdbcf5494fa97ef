package geo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stamp identifies a file's version: geoipupdate writes a new file and
// renames it over the old one, which changes all three.
type stamp struct {
	size  int64
	mod   time.Time
	inode uint64
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = uint64(sys.Ino)
	}
	return st, nil
}

// Snapshot is one consistent pair: the databases and the constituency
// compiled from them. It never changes; a reload makes a new one.
type Snapshot struct {
	DB           *DB
	Constituency *Constituency
	Loaded       time.Time
}

// Live serves lookups and constituency tests from the current snapshot and
// replaces it when the files change, without a window where lookups fail: a
// new snapshot is opened, verified and compiled beside the old one, then
// swapped in with one atomic store. A broken new file leaves the old
// snapshot serving, and Reload says why.
type Live struct {
	asnPath, countryPath string
	layout               Layout
	spec                 ConstituencySpec
	log                  *slog.Logger

	cur    atomic.Pointer[Snapshot]
	mu     sync.Mutex // one reload at a time
	failed [2]stamp   // the versions that failed last, not retried until they change
}

// OpenLive opens the databases and compiles the constituency; any problem is
// an error naming the file.
func OpenLive(asnPath, countryPath string, layout Layout, spec ConstituencySpec, log *slog.Logger) (*Live, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Live{asnPath: asnPath, countryPath: countryPath, layout: layout, spec: spec, log: log}
	snap, err := l.load()
	if err != nil {
		return nil, err
	}
	l.cur.Store(snap)
	return l, nil
}

func (l *Live) load() (*Snapshot, error) {
	db, err := Open(l.asnPath, l.countryPath, l.layout)
	if err != nil {
		return nil, err
	}
	spec := l.spec
	if spec.DelegatedFile != "" {
		if spec.Delegated, err = LoadDelegated(spec.DelegatedFile, spec.Countries); err != nil {
			return nil, err
		}
	}
	cons, err := Compile(db, spec)
	if err != nil {
		return nil, fmt.Errorf("constituency: %w", err)
	}
	return &Snapshot{DB: db, Constituency: cons, Loaded: time.Now()}, nil
}

// Current is the snapshot in use; use one snapshot for answers that must
// agree with each other.
func (l *Live) Current() *Snapshot { return l.cur.Load() }

// Lookup implements the ingest's enricher on the current snapshot.
func (l *Live) Lookup(a netip.Addr) (Info, error) { return l.cur.Load().DB.Lookup(a) }

// Contains implements the ingest's membership test on the current snapshot.
func (l *Live) Contains(a netip.Addr) bool { return l.cur.Load().Constituency.Contains(a) }

// ErrUnchanged is Reload's answer when no file changed.
var ErrUnchanged = errors.New("databases unchanged")

// Reload swaps in the files on disk if either changed since they were
// loaded. It returns ErrUnchanged when none did, and an error naming the
// file when the new version cannot be used; the old one keeps serving.
func (l *Live) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.cur.Load()
	changed := false
	var now [2]stamp
	for i, s := range []*source{cur.DB.asn, cur.DB.country} {
		if s == nil {
			continue
		}
		st, err := stampOf(s.path)
		if err != nil {
			// Mid-replacement, or removed: keep serving what is loaded.
			return fmt.Errorf("mmdb %s: %w; still serving the version loaded %s", s.path, err, cur.Loaded.Format(time.RFC3339))
		}
		now[i] = st
		if st != s.stamp {
			changed = true
		}
	}
	if !changed {
		return ErrUnchanged
	}
	if now == l.failed {
		return ErrUnchanged // already reported; wait for the next version
	}
	next, err := l.load()
	if err != nil {
		l.failed = now
		return fmt.Errorf("%w; still serving the version loaded %s", err, cur.Loaded.Format(time.RFC3339))
	}
	l.failed = [2]stamp{}
	l.cur.Store(next)
	// The old snapshot is not closed: lookups may still hold it, and its
	// memory goes with the last of them.
	return nil
}

// Watch checks the files every interval until ctx is done, and logs each
// swap and each refused version.
func (l *Live) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch err := l.Reload(); {
		case errors.Is(err, ErrUnchanged):
		case err != nil:
			l.log.Error("new geo database refused", "err", err)
		default:
			l.log.Info("geo databases reloaded", "asn_db", l.asnPath, "country_db", l.countryPath,
				"ranges", l.cur.Load().Constituency.Ranges())
		}
	}
}

// Close releases nothing: snapshots are in memory and dropped with the
// last reference. It exists so that Live can stand where DB stood.
func (l *Live) Close() error { return nil }
