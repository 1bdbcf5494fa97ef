package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
)

func (e *env) checkConfig(ctx context.Context, args []string) error {
	fs := e.flags("check-config")
	if err := fs.Parse(args); err != nil {
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
