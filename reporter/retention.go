package reporter

import (
	"context"
	"fmt"
	"time"
)

// DefaultPurgeBatch is how many rows one purge transaction removes at most
// (store.purge_batch): small enough that the SQLite write lock is held for
// well under a second, large enough that a million events take a few
// hundred transactions.
const DefaultPurgeBatch = 5000

// PurgeOptions say how Purge goes.
type PurgeOptions struct {
	// Batch is how many rows a transaction removes at most
	// (DefaultPurgeBatch when 0).
	Batch int
	// Pause waits between batches. A store with one writer (SQLite) needs
	// it: a writer in another process that waits for the lock polls it
	// every 100 ms at most, and a purge that took the lock again at once
	// could keep it out for the whole purge.
	Pause time.Duration
	// Stop, when not nil, ends the purge between two batches (a time
	// budget: the daemon purges a slice at a time so that its other jobs
	// are not held up).
	Stop func() bool
	// After, when not nil, is called after each batch with what it
	// removed.
	After func(PurgeStats)
}

// Purge removes what is older than before from the store, a batch
// (PurgeStore.PurgeBatch) at a time, each in its own short transaction, so
// that ingest and planning go on beside it. It stops when nothing is left
// (done), when opt.Stop says so, or at an error.
func Purge(ctx context.Context, s PurgeStore, before time.Time, opt PurgeOptions) (total PurgeStats, done bool, err error) {
	if opt.Batch <= 0 {
		opt.Batch = DefaultPurgeBatch
	}
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return total, false, err
		}
		if opt.Stop != nil && opt.Stop() {
			return total, false, nil
		}
		if !first && opt.Pause > 0 {
			t := time.NewTimer(opt.Pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, false, ctx.Err()
			case <-t.C:
			}
		}
		st, err := s.PurgeBatch(ctx, before, opt.Batch)
		if err != nil {
			return total, false, fmt.Errorf("purge before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		if st.Zero() {
			return total, true, nil
		}
		total.Add(st)
		if opt.After != nil {
			opt.After(st)
		}
	}
}
