package main

import (
	"context"
	"log/slog"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
)

// runDaemon is `bayagent run --config FILE`: the agent until SIGTERM or
// SIGINT (a second signal aborts; see main).
func runDaemon(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "run", "--config FILE")
	path := fs.String("config", "/etc/bayagent/config.yaml", "the configuration file (see firmware-config/)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(*path) // parses and validates
	if err != nil {
		return err
	}
	log := slog.New(cfg.Log.NewHandler(e.stderr))
	for _, w := range cfg.Warnings() {
		log.Warn("configuration: " + w)
	}
	if *check {
		log.Info("configuration is valid", "config", cfg)
		return nil
	}
	a, err := agent.New(cfg, agent.Deps{Version: version, Logger: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
