package daemon

import (
	"context"
	"fmt"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/store/sqlite"
)

// OpenStore opens the store that store.driver names, in one place for the
// daemon and for the commands that need nothing else (history, rejects,
// feeds). Instances starting at once apply the migrations one at a time.
// The locker it returns gives each job to one instance at a time.
func OpenStore(ctx context.Context, cfg *config.Config) (reporter.Store, locker, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		files := newFileLocker(cfg.Store.DSN.Reveal())
		release, err := files.Wait(ctx, "migrate")
		if err != nil {
			return nil, nil, fmt.Errorf("store.dsn: %w", err)
		}
		defer release()
		st, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, nil, fmt.Errorf("store.dsn: %w", err)
		}
		return st, files, nil
	}
	return nil, nil, fmt.Errorf("store.driver: %q is not a store driver", cfg.Store.Driver)
}
