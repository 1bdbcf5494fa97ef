package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) checkConfig(ctx context.Context, args []string) error {
	fs := e.flags("check-config", help{"check-config",
		"Validates the config and every file it names: the .mmdb files and their database types, the\nstore, the templates (rendered against sample data), the schema and spool folders, the\noverrides stored with contacts set. Exits 1 listing every problem with its key.",
		"autoreporter check-config --config /etc/autoreporter/config.yaml"})
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if errs := daemon.Check(ctx, cfg); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = "  " + err.Error()
		}
		return fmt.Errorf("config %s: %d problem(s):\n%s", cfg.Path, len(errs), strings.Join(msgs, "\n"))
	}
	fmt.Fprintf(e.stdout, "config %s is valid: %d feed(s), %d contact override(s)\n", cfg.Path, len(cfg.Feeds), len(cfg.Contacts))
	return nil
}
