package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/web"
)

// runScreen is `bayagent screen pin`: set the bay screen's PIN.
func runScreen(_ context.Context, e env, args []string) error {
	if _, err := subcommandHelp(e, "screen", args, "pin"); err != nil {
		return err
	}
	fs := newFlagSet(e, "screen pin", "[--file PATH] [--random]")
	file := fs.String("file", filepath.Join(config.DefaultStateDir, config.DefaultPINName), "the PIN file (screen.pin_file; default <state_dir>/screen.pin)")
	random := fs.Bool("random", false, "make a random 6-digit PIN and print it, instead of reading one from standard input")
	if err := fs.ParseArgs(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	var pin string
	if *random {
		pin = web.RandomPIN(web.MinPINDigits)
	} else {
		fmt.Fprintf(e.stderr, "PIN or password for the bay screen (at least %d digits, or %d characters), then Enter:\n", web.MinPINDigits, web.MinPasswordChars)
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("no PIN on standard input: %w", err)
		}
		pin = strings.TrimRight(line, "\r\n")
	}
	if err := web.CheckPIN(pin); err != nil {
		return usagef("%v", err)
	}
	if err := web.WritePINFile(*file, pin, 0); err != nil {
		return err
	}
	if err := ownLikeDir(*file); err != nil {
		return err
	}
	if *random {
		fmt.Fprintln(e.stdout, pin)
	}
	fmt.Fprintf(e.stderr, "bay screen PIN set in %s (only its hash is kept); it applies at the next login\n", *file)
	return nil
}

// ownLikeDir gives a file written by root the owner of its directory (the
// agent's user owns its state directory), so that the agent can read it.
func ownLikeDir(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil
	}
	return os.Chown(path, int(sys.Uid), int(sys.Gid))
}
