// Command bayreceiver is the receiving side of Bayagent for the health-record
// operator.
//
// It takes the sealed records of every box from the MQTT broker, verifies and
// stores each once, completes every device's chain (asking the boxes to resend
// what is missing), and uploads each closed job to the provincial
// health-record system.
//
// Subcommands:
//
//	bayreceiver run      the service: bayreceiver run --config /etc/bayreceiver/config.yaml
//	bayreceiver check    validate a configuration file
//	bayreceiver enroll   enroll device public keys (device.key.pub.json) in the store
//	bayreceiver provsim  a simulated provincial system on loopback, for trials
//	bayreceiver version  print the version
//
// The service's packages are under this directory: receiver (the
// service), chain (verification, gaps), store (bbolt, PostgreSQL),
// upload (the provincial dialects), provsim (the simulator), config. main
// only maps errors to exit codes and signals to a context.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs // first signal: graceful stop
		cancel()
		<-sigs // second: abort
		fmt.Fprintln(os.Stderr, "bayreceiver: aborted")
		os.Exit(130)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

type env struct {
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the receiver with a configuration file", runService},
		{"check", "validate a configuration file", runCheck},
		{"enroll", "enroll device public keys (device.key.pub.json files) in the store", runEnroll},
		{"provsim", "serve a simulated provincial health-record system on loopback (trials)", runProvsim},
		{"version", "print the version", func(_ context.Context, e env, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "bayreceiver", version)
			return err
		}},
	}
}

var errUsage = errors.New("usage")

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := env{stdout: stdout, stderr: stderr, getenv: os.LookupEnv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "bayreceiver %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "bayreceiver %s: %v\n", c.name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "bayreceiver: unknown command %q\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bayreceiver COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'bayreceiver COMMAND -h' for a command's flags.")
}

func newFlagSet(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("bayreceiver "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: bayreceiver %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
