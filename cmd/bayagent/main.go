// Command bayagent is the diagnostic gateway of a repair bay: it reads the
// vehicle over OBD-II, attaches what it read to the repair job, stores it
// durably and publishes it to the maintenance health-record system.
//
// Subcommands:
//
//	bayagent run      the daemon: bayagent run --config /etc/bayagent/config.yaml
//	bayagent scan     one-shot health scan, a report or --json
//	bayagent measure  one reading from an exhaust analyzer or opacimeter
//	bayagent job      job export: a closed job as the health-record upload
//	bayagent outbox   inspect the durable record buffer
//	bayagent verify   check a stream of sealed records (JSON lines)
//	bayagent key      key rotate: a new device key, on the record
//	bayagent screen   set the bay screen's PIN: bayagent screen pin
//	bayagent demo     the whole bay on this machine: simulators, embedded broker, one job
//	bayagent version  print the version
//
// main only maps errors to exit codes and signals to a context; the work is
// done by the agent packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitConfig (EX_CONFIG of sysexits.h): a configuration the agent
	// cannot use; the systemd unit does not restart on it
	// (RestartPreventExitStatus).
	exitConfig = 78
)

// configError marks an error of the configuration file or environment:
// exit code exitConfig.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs // first signal: graceful stop
		cancel()
		<-sigs // second: abort
		fmt.Fprintln(os.Stderr, "bayagent: aborted")
		os.Exit(130)
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// env is what a subcommand may touch of the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the bay agent (the daemon) with a configuration file", runDaemon},
		{"scan", "read a vehicle's health snapshot (report, or --json)", runScan},
		{"measure", "take one reading from an exhaust analyzer or opacimeter", runMeasure},
		{"job", "job export: a closed job in the health-record upload form", runJob},
		{"outbox", "inspect the durable record buffer: stats, ls, export", runOutbox},
		{"verify", "check a stream of sealed records for gaps, edits and re-orders", runVerify},
		{"screen", "set the bay screen's PIN (bayagent screen pin)", runScreen},
		{"key", "replace the device key, on the record (bayagent key rotate)", runKey},
		{"demo", "run the whole bay on this machine: simulators, embedded broker, one repair job", runDemo},
		{"version", "print the version", func(_ context.Context, e env, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "bayagent", version)
			return err
		}},
	}
}

// errUsage marks a command-line mistake: exit code 2, the message is enough.
var errUsage = errors.New("usage")

// errHelp: help was asked for and printed; exit code 0.
var errHelp = flag.ErrHelp

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// run dispatches a subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			printUsage(stderr)
			return exitUsage
		}
		if len(args) > 1 { // bayagent help COMMAND
			return run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "bayagent %s: %v\n", c.name, err)
			return exitUsage
		case errors.As(err, new(configError)):
			fmt.Fprintf(stderr, "bayagent %s: %v\n", c.name, err)
			return exitConfig
		default:
			fmt.Fprintf(stderr, "bayagent %s: %v\n", c.name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "bayagent: unknown command %q\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bayagent COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'bayagent COMMAND --help' for a command's flags; 'bayagent --version' prints the version.")
	fmt.Fprintln(w, "Documentation: README.md; the MQTT commands and reply codes: docs/commands.md.")
}

// flagSet is a subcommand's flags; see newFlagSet and parseFlags.
type flagSet struct {
	*flag.FlagSet
	e env
}

// newFlagSet returns a flag set that reports errors instead of exiting.
// Its help (-h, --help) goes to stdout and shows usage, the flags, then
// more (address forms, examples); a flag error goes to stderr.
func newFlagSet(e env, name, usage string, more ...string) *flagSet {
	fs := &flagSet{flag.NewFlagSet("bayagent "+name, flag.ContinueOnError), e}
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: bayagent %s %s\n\nflags:\n", name, usage)
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

// parseFlags parses args, flags and positional arguments in any order
// ("--" ends the flags); a parse error is a usage error (flag has already
// printed it, with the usage). Help goes to stdout.
func parseFlags(fs *flagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(fs.e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
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
