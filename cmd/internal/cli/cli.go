// Package cli is what the bayagent and bayreceiver command lines share: subcommands, flags, help.
//
// Both programs work alike, so that what an integrator learns on one holds
// on the other: `PROG COMMAND [flags]`, `PROG help COMMAND` and `PROG
// COMMAND --help` print the command's help on stdout (exit 0), `PROG
// --version` the version; flags may come before or after the positional
// arguments ("--" ends them) and are shown as --name; a usage mistake exits
// 2, a configuration the program cannot use 78 (EX_CONFIG, which the
// systemd units do not restart on), any other error 1. Only Main touches
// the process (signals, os.Exit).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
	// ExitConfig (EX_CONFIG of sysexits.h): a configuration the program
	// cannot use; restarting it would not help.
	ExitConfig = 78
)

var (
	// ErrUsage marks a command-line mistake (exit 2); the message is enough.
	ErrUsage = errors.New("usage")
	// ErrHelp: help was asked for and printed (exit 0).
	ErrHelp = flag.ErrHelp
)

// Usagef returns a usage error (ErrUsage) with the message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// ConfigError marks an error of the configuration file or its environment
// (exit 78).
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the configuration's error.
func (e ConfigError) Unwrap() error { return e.Err }

// Command is one subcommand; E is what the program gives its commands of
// the process (its standard streams, its environment).
type Command[E any] struct {
	Name, Summary string
	Run           func(ctx context.Context, e E, args []string) error
}

// Program is a command line with subcommands. Besides its Commands it has
// "version" (and --version), which prints Name and Version.
type Program[E any] struct {
	Name     string // "bayagent"
	Version  string
	Commands []Command[E]
	// Footer is printed after the list of commands.
	Footer string
}

// Main runs the program with the process's arguments and standard streams
// until it returns or a second SIGINT/SIGTERM aborts it (the first one ends
// ctx: a graceful stop), and exits with its code.
func (p Program[E]) Main(e E) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs // first signal: graceful stop
		cancel()
		<-sigs // second: abort
		fmt.Fprintln(os.Stderr, p.Name+": aborted")
		os.Exit(130)
	}()
	code := p.Run(ctx, e, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// commands are the program's commands and "version".
func (p Program[E]) commands() []Command[E] {
	return append(slices.Clip(p.Commands), Command[E]{Name: "version", Summary: "print the version"})
}

// Run dispatches args to a subcommand and maps its error to an exit code.
func (p Program[E]) Run(ctx context.Context, e E, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			p.usage(stderr)
			return ExitUsage
		}
		if len(args) > 1 { // PROG help COMMAND
			return p.Run(ctx, e, []string{args[1], "--help"}, stdout, stderr)
		}
		p.usage(stdout)
		return ExitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(stdout, p.Name, p.Version)
		return ExitOK
	}
	for _, c := range p.Commands {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(ctx, e, args[1:])
		switch {
		case err == nil, errors.Is(err, ErrHelp):
			return ExitOK
		case errors.Is(err, ErrUsage):
			fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
			return ExitUsage
		case errors.As(err, new(ConfigError)):
			fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
			return ExitConfig
		default:
			fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
			return ExitError
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, args[0])
	p.usage(stderr)
	return ExitUsage
}

func (p Program[E]) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags]\n\ncommands:\n", p.Name)
	width := 0
	for _, c := range p.commands() {
		width = max(width, len(c.Name))
	}
	for _, c := range p.commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width+1, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags; '%s --version' prints the version.\n", p.Name, p.Name)
	if p.Footer != "" {
		fmt.Fprintln(w, p.Footer)
	}
}

// FlagSet is one command's flags: errors go to stderr, help to stdout.
type FlagSet struct {
	*flag.FlagSet
	stdout io.Writer
}

// NewFlagSet returns the flags of command name of program prog. Its help
// (-h, --help) shows usage, the flags as --name, then more (address forms,
// examples).
func NewFlagSet(stdout, stderr io.Writer, prog, name, usage string, more ...string) *FlagSet {
	fs := &FlagSet{flag.NewFlagSet(prog+" "+name, flag.ContinueOnError), stdout}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s %s %s\n\nflags:\n", prog, name, usage)
		var b strings.Builder // the flags as they are usually written: --name
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(w)
		io.WriteString(w, strings.ReplaceAll("\n"+b.String(), "\n  -", "\n  --")[1:])
		for _, m := range more {
			fmt.Fprintf(w, "\n%s", m)
		}
	}
	return fs
}

// ParseArgs parses args, flags and positional arguments in any order ("--"
// ends the flags). Help is printed on stdout and returned as ErrHelp; a
// parse error is a usage error (flag has printed it, with the usage).
func (fs *FlagSet) ParseArgs(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(fs.stdout)
			fs.Usage()
			return ErrHelp
		}
	}
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// Action handles a command with actions (PROG job export, PROG key
// rotate): no action or --help prints what it takes (help on stdout, exit
// 0); an unknown action is a usage error.
func Action(stdout io.Writer, prog, name string, args []string, actions ...string) (string, error) {
	usage := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "usage: %s %s ACTION [flags]\n\nactions:\n", prog, name)
		for _, a := range actions {
			fmt.Fprintf(&b, "  %s %s %s --help\n", prog, name, a)
		}
		return b.String()
	}
	switch {
	case len(args) == 0:
		return "", Usagef("want an action: %s\n%s", strings.Join(actions, ", "), usage())
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		if _, err := fmt.Fprint(stdout, usage()); err != nil {
			return "", err
		}
		return "", ErrHelp
	}
	for _, a := range actions {
		if args[0] == a {
			return a, nil
		}
	}
	return "", Usagef("unknown action %q: want %s", args[0], strings.Join(actions, ", "))
}
