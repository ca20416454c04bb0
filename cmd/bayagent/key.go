package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bayagent/bayagent/agent"
)

// runKey is `bayagent key rotate`: a new device key, on the record.
func runKey(ctx context.Context, e env, args []string) error {
	if _, err := subcommandHelp(e, "key", args, "rotate"); err != nil {
		return err
	}
	fs := newFlagSet(e, "key rotate", "[--config FILE [--env-file FILE]] --reason TEXT")
	cf := addConfigFlags(fs, "where its key, chain file and outbox are")
	reason := fs.String("reason", "", "why the key changes (stored in the key_rotation record), e.g. \"key file lost with the SD card\"")
	if err := fs.ParseArgs(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *reason == "" {
		return usagef("--reason is required: it goes into the key_rotation record")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	log := slog.New(cfg.Log.NewHandler(e.stderr))
	r, err := agent.RotateKey(ctx, cfg, *reason, log)
	if err != nil {
		return err
	}
	old := r.OldFingerprint
	if old == "" {
		old = "(unknown)"
	}
	if r.OldKeyLost {
		old += " (lost: the rotation is not signed by it; the health-record operator must trust the new key by hand)"
	}
	_, err = fmt.Fprintf(e.stdout, "device key rotated in record %d\n  old key %s\n  new key %s\n  public key for the health-record operator: %s\n",
		r.Seq, old, r.NewFingerprint, cfg.Device.KeyFile+".pub.json")
	return err
}
