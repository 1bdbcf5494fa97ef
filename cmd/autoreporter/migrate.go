package main

import (
	"context"
	"fmt"

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) migrate(ctx context.Context, args []string) error {
	fs := e.flags("migrate", help{"migrate",
		"Applies the store's pending migrations and exits, for operators who run them apart from the\ndaemon (a database role that may change the schema, a deployment step). Every command applies\nthem too when it opens the store; instances starting together take turns.",
		"autoreporter migrate --config /etc/autoreporter/config.yaml"})
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	applied, err := daemon.Migrate(ctx, cfg)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(e.stdout, "applied %s\n", m)
	}
	fmt.Fprintf(e.stdout, "the %s store is up to date\n", cfg.Store.Driver)
	return nil
}
