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
	"io"
	"os"

	"github.com/bayagent/bayagent/cmd/internal/cli"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() { program().Main(env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv}) }

type env struct {
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

func program() cli.Program[env] {
	return cli.Program[env]{Name: "bayreceiver", Version: version, Commands: []cli.Command[env]{
		{Name: "run", Summary: "run the receiver with a configuration file", Run: runService},
		{Name: "check", Summary: "validate a configuration file", Run: runCheck},
		{Name: "enroll", Summary: "enroll device public keys (device.key.pub.json files) in the store", Run: runEnroll},
		{Name: "provsim", Summary: "serve a simulated provincial health-record system on loopback (trials)", Run: runProvsim},
	}}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program().Run(ctx, env{stdout: stdout, stderr: stderr, getenv: os.LookupEnv}, args, stdout, stderr)
}

// The command line's helpers, bound to this program (package cli).
var usagef = cli.Usagef

func newFlagSet(e env, name, usage string) *cli.FlagSet {
	return cli.NewFlagSet(e.stdout, e.stderr, "bayreceiver", name, usage)
}
