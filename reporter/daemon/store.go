package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/store/postgres"
	"github.com/autoreporter/autoreporter/reporter/store/sqlite"
)

// OpenStore opens the store that store.driver names, in one place for the
// daemon and for the commands that need nothing else (history, rejects,
// feeds). Instances starting at once apply the migrations one at a time.
// The locker it returns gives each job to one instance at a time.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (reporter.Store, locker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Store.DSN.Reveal(), postgres.Options{MaxConns: cfg.Store.MaxConns, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("store.dsn: %w", err)
		}
		return st, st, nil
	}
	return nil, nil, fmt.Errorf("store.driver: %q is not a store driver", cfg.Store.Driver)
}

// Migrate applies the store's pending migrations and returns their names,
// for operators who run them apart from the daemon.
func Migrate(ctx context.Context, cfg *config.Config) ([]string, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return postgres.Migrate(ctx, cfg.Store.DSN.Reveal())
	}
	st, _, err := OpenStore(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	return nil, st.Close()
}
