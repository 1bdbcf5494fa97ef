package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/autoreporter/autoreporter/reporter/config"
)

// Serve runs the daemon on the config at path until ctx is done, and
// reloads it on every value from reload (SIGHUP). A reloaded config is
// checked as check-config checks it (Check); a good one takes effect at
// once, the job under way finishing first as on a stop, with everything
// opened anew (feeds added, removed, rescheduled; contacts; templates;
// the .mmdb files); a broken one is refused with every error logged, and
// the running config goes on.
func Serve(ctx context.Context, path string, opt Options, reload <-chan struct{}) error {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	for {
		d, err := New(ctx, cfg, opt)
		if err != nil {
			return err
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		next, err := waitReload(ctx, path, reload, done, log)
		stop()
		if next != nil {
			err = <-done // the job under way finishes, as on a stop
		}
		d.Close()
		if next == nil || err != nil {
			return err
		}
		cfg = next
		log.Info("config reloaded", "config", path)
	}
}

// waitReload waits for Run to end (its error) or for a reload whose config
// passes the checks (the new config).
func waitReload(ctx context.Context, path string, reload <-chan struct{}, done <-chan error, log *slog.Logger) (*config.Config, error) {
	for {
		select {
		case err := <-done:
			return nil, err
		case <-reload:
			next, errs := loadChecked(ctx, path)
			if len(errs) == 0 {
				return next, nil
			}
			for _, e := range errs {
				log.Error("config not reloaded; the running one goes on", "config", path, slog.Any("err", e))
			}
		}
	}
}

// loadChecked loads and checks a config the way check-config does.
func loadChecked(ctx context.Context, path string) (*config.Config, []error) {
	cfg, err := config.Load(path)
	if err != nil {
		var ce *config.Errors
		if errors.As(err, &ce) {
			errs := make([]error, len(ce.List))
			for i, fe := range ce.List {
				errs[i] = fmt.Errorf("%s", fe.Error())
			}
			return nil, errs
		}
		return nil, []error{err}
	}
	if errs := Check(ctx, cfg); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}
