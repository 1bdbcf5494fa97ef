package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// ErrBusy is returned when another instance is doing the same job now (a
// feed's ingest, the report pass): this one leaves it to that one.
var ErrBusy = errors.New("another autoreporter instance is doing this now")

// locker lets one instance at a time run a job. Several `autoreporter run`
// processes may share one store; each job is done by whichever takes its
// lock, and the others skip it for that tick.
type locker interface {
	// TryLock takes the named lock if it is free; release gives it back.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
	// Wait takes the named lock, waiting while another instance holds it.
	Wait(ctx context.Context, name string) (release func(), err error)
}

// fileLocker locks with flock(2) on a file per job next to the embedded
// store. The kernel releases a lock when its process dies, however it dies,
// so a crash never leaves a job locked. flock locks belong to an open file,
// so two daemons in one process exclude each other too.
type fileLocker struct {
	dir, prefix string
}

func newFileLocker(storePath string) fileLocker {
	return fileLocker{dir: filepath.Dir(storePath), prefix: filepath.Base(storePath)}
}

var unsafeLockName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (l fileLocker) TryLock(ctx context.Context, name string) (func(), bool, error) {
	path := filepath.Join(l.dir, l.prefix+"."+unsafeLockName.ReplaceAllString(name, "_")+".lock")
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, true, nil
}

// Wait takes the named lock, waiting for it while another instance holds it.
func (l fileLocker) Wait(ctx context.Context, name string) (func(), error) {
	for {
		release, ok, err := l.TryLock(ctx, name)
		if err != nil || ok {
			return release, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exclusive runs fn under the named job lock. When another instance holds
// it, it waits for it (wait) or returns ErrBusy.
func (d *Daemon) exclusive(ctx context.Context, name string, wait bool, fn func() error) error {
	if wait {
		release, err := d.locks.Wait(ctx, name)
		if err != nil {
			return err
		}
		defer release()
		return fn()
	}
	release, ok, err := d.locks.TryLock(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrBusy)
	}
	defer release()
	return fn()
}
