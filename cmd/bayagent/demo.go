package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/bayagent/bayagent/agent/demo"
)

// runDemo is `bayagent demo`: the whole bay on this machine (embedded
// broker, simulated vehicle and analyzer, the agent) running one emission
// repair over MQTT, then what the health-record system received. See
// package demo.
func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "demo", "[--keep-running] [--broker URL [--ca FILE]] [--json] [--lang zh|en] [-v]")
	keepRunning := fs.Bool("keep-running", false, "keep broker, simulators and agent running after the job, until Ctrl-C, and print how to watch them")
	broker := fs.String("broker", "", "use this MQTT broker (tcp://host:1883, ssl://host:8883) instead of the embedded one")
	ca := fs.String("ca", "", "CA certificates (PEM) of the --broker, for ssl://; default the system roots")
	asJSON := fs.Bool("json", false, "print the records received, the upload form and the verification as one JSON document")
	verbose := fs.Bool("v", false, "show the agent's and the embedded broker's log on stderr")
	keep := fs.Bool("keep", false, "keep the agent's state directory (device key, outbox, jobs)")
	data := fs.String("data", "", "the repository's testdata directory (default: found from the working directory)")
	timeout := fs.Duration("timeout", demo.DefaultTimeout, "give up on the scripted job after this long")
	screen := fs.String("screen", "127.0.0.1:0", "the bay screen's listen address (host:port; port 0 picks a free one)")
	lang := addLangFlag(fs, "the report")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *ca != "" && *broker == "" {
		return usagef("--ca needs --broker")
	}
	if *timeout <= 0 || *timeout > 24*time.Hour {
		return usagef("--timeout must be positive and at most 24h, got %s", *timeout)
	}
	o := demo.Options{
		Broker: *broker, CAFile: *ca, DataDir: *data,
		KeepRunning: *keepRunning, KeepState: *keep, JSON: *asJSON, Timeout: *timeout, Screen: *screen, Lang: *lang,
	}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	_, err := demo.Run(ctx, e.stdout, o)
	return err
}
