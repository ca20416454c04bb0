package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

type env struct{ out *bytes.Buffer }

func program() Program[env] {
	return Program[env]{Name: "prog", Version: "1.2.3", Commands: []Command[env]{
		{Name: "copy", Summary: "copy things", Run: func(_ context.Context, e env, args []string) error {
			fs := NewFlagSet(e.out, e.out, "prog", "copy", "[--to DIR] FILE...", "more help\n")
			to := fs.String("to", ".", "where to")
			if err := fs.ParseArgs(args); err != nil {
				return err
			}
			e.out.WriteString(*to + " " + strings.Join(fs.Args(), ","))
			return nil
		}},
		{Name: "conf", Summary: "fail on the configuration", Run: func(context.Context, env, []string) error {
			return ConfigError{Err: errors.New("device.id: required")}
		}},
		{Name: "bad", Summary: "a usage mistake", Run: func(context.Context, env, []string) error { return Usagef("give a FILE") }},
		{Name: "fail", Summary: "fail", Run: func(context.Context, env, []string) error { return errors.New("broken") }},
		{Name: "key", Summary: "actions", Run: func(_ context.Context, e env, args []string) error {
			_, err := Action(e.out, "prog", "key", args, "rotate")
			return err
		}},
	}}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{nil, ExitUsage, "", "usage: prog COMMAND"},
		{[]string{"--help"}, ExitOK, "copy     copy things\n", ""},
		{[]string{"--help"}, ExitOK, "version  print the version\n", ""},
		{[]string{"--version"}, ExitOK, "prog 1.2.3\n", ""},
		{[]string{"version"}, ExitOK, "prog 1.2.3\n", ""},
		{[]string{"help", "copy"}, ExitOK, "  --to string", ""},
		{[]string{"copy", "--help"}, ExitOK, "more help", ""},
		{[]string{"copy", "a", "--to", "/tmp", "b"}, ExitOK, "/tmp a,b", ""},
		{[]string{"copy", "--to", "x", "--", "--to"}, ExitOK, "x --to", ""},
		{[]string{"copy", "a", "--nope"}, ExitUsage, "", "prog copy: usage: flag provided but not defined: -nope"},
		{[]string{"conf"}, ExitConfig, "", "prog conf: device.id: required"},
		{[]string{"bad"}, ExitUsage, "", "prog bad: usage: give a FILE"},
		{[]string{"fail"}, ExitError, "", "prog fail: broken"},
		{[]string{"nope"}, ExitUsage, "", `unknown command "nope"`},
		{[]string{"key"}, ExitUsage, "", "want an action: rotate"},
		{[]string{"key", "--help"}, ExitOK, "prog key rotate --help", ""},
		{[]string{"key", "spin"}, ExitUsage, "", `unknown action "spin"`},
	} {
		var out, errb bytes.Buffer
		code := program().Run(context.Background(), env{&out}, tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.errs) {
			t.Errorf("%v: exit %d (want %d)\nstdout %q\nstderr %q", tc.args, code, tc.code, out.String(), errb.String())
		}
	}
	if !slices.ContainsFunc(program().Commands, func(c Command[env]) bool { return c.Name == "copy" }) {
		t.Fatal("no copy")
	}
}
