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

// Purge removes what is older than before from the store, a batch
// (PurgeStore.PurgeBatch) at a time, each in its own short transaction, so
// that ingest and planning go on beside it. It stops when nothing is left
// (done), when stop says so between batches (a time budget: the daemon
// purges a slice at a time so that its other jobs are not held up), or at
// an error. after, when not nil, is called after each batch with what it
// removed.
func Purge(ctx context.Context, s PurgeStore, before time.Time, batch int, stop func() bool, after func(PurgeStats)) (total PurgeStats, done bool, err error) {
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, false, err
		}
		if stop != nil && stop() {
			return total, false, nil
		}
		st, err := s.PurgeBatch(ctx, before, batch)
		if err != nil {
			return total, false, fmt.Errorf("purge before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		if st.Zero() {
			return total, true, nil
		}
		total.Add(st)
		if after != nil {
			after(st)
		}
	}
}
