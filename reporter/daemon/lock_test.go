package daemon

import (
	"context"
	"path/filepath"
	"testing"
)

func TestFileLocker(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	a, b := newFileLocker(db), newFileLocker(db) // two instances on one store
	ctx := context.Background()
	release, ok, err := a.TryLock(ctx, "feed shadowserver")
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "feed shadowserver"); err != nil || ok {
		t.Fatalf("second instance took a held lock: %v %v", ok, err)
	}
	if r, ok, err := b.TryLock(ctx, "report"); err != nil || !ok {
		t.Fatalf("another job's lock: %v %v", ok, err)
	} else {
		r()
	}
	release()
	r, ok, err := b.TryLock(ctx, "feed shadowserver")
	if err != nil || !ok {
		t.Fatalf("after release: %v %v", ok, err)
	}
	r()
}
