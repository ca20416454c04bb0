package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
)

// runOutbox inspects the durable record buffer: stats, ls (one JSON line per
// record: pending, archived or quarantined) or export (every sealed record
// it holds, the archive of acknowledged ones included, as JSON lines, for
// `bayagent verify` or a hand-over by other means). The database is opened read-only; while
// the agent runs it holds the file lock, so stop the agent or work on a copy.
func runOutbox(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "outbox", "[--config FILE [--env-file FILE] | --db PATH] stats|ls|export")
	db := fs.String("db", "", "the outbox database file (default: outbox.path of --config)")
	cf := addConfigFlags(fs, "which says where the outbox is")
	wait := fs.Duration("wait", time.Second, "how long to wait for the file lock held by a running agent")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	if *db == "" {
		p, err := outboxPath(cf)
		if err != nil {
			return err
		}
		*db = p
	}
	if fs.NArg() != 1 {
		return usagef("give one action: stats, ls or export")
	}
	action := fs.Arg(0)
	if action != "stats" && action != "ls" && action != "export" {
		return usagef("unknown action %q: want stats, ls or export", action)
	}
	if _, err := os.Stat(*db); err != nil {
		return err // a read-only open must not create the file
	}
	ob, err := outbox.Open(*db, outbox.Options{ReadOnly: true, Timeout: *wait})
	if errors.Is(err, outbox.ErrLocked) {
		return fmt.Errorf("%w: stop the agent, or copy the file and inspect the copy", err)
	}
	if err != nil {
		return err
	}
	defer ob.Close()
	switch action {
	case "ls":
		return ob.List(e.stdout)
	case "export":
		return ob.Export(e.stdout)
	}
	st, err := ob.Stats()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// outboxPath is the outbox file the configuration names. Only the file is
// parsed, not validated.
func outboxPath(cf configFlags) (string, error) {
	c, err := cf.parse()
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w (or give the outbox file with --db)", err)
	}
	if err != nil {
		return "", fmt.Errorf("config %s: %w\n(give the environment file with --env-file, or the outbox file with --db)", *cf.path, err)
	}
	return c.Outbox.Path, nil
}
