// Command bayagent is the diagnostic gateway of a repair bay.
//
// It reads the vehicle over OBD-II, attaches what it read to the repair job,
// stores it durably and publishes it to the maintenance health-record system.
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
	"io"
	"os"

	"github.com/bayagent/bayagent/cmd/internal/cli"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes (package cli).
const (
	exitOK     = cli.ExitOK
	exitError  = cli.ExitError
	exitUsage  = cli.ExitUsage
	exitConfig = cli.ExitConfig // the systemd unit does not restart on it
)

func main() { program().Main(env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}) }

// env is what a subcommand may touch of the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func program() cli.Program[env] {
	return cli.Program[env]{Name: "bayagent", Version: version, Commands: []cli.Command[env]{
		{Name: "run", Summary: "run the bay agent (the daemon) with a configuration file", Run: runDaemon},
		{Name: "scan", Summary: "read a vehicle's health snapshot (report, or --json)", Run: runScan},
		{Name: "measure", Summary: "take one reading from an exhaust analyzer or opacimeter", Run: runMeasure},
		{Name: "job", Summary: "job export: a closed job in the health-record upload form", Run: runJob},
		{Name: "outbox", Summary: "inspect the durable record buffer: stats, ls, export", Run: runOutbox},
		{Name: "verify", Summary: "check a stream of sealed records for gaps, edits and re-orders", Run: runVerify},
		{Name: "screen", Summary: "set the bay screen's PIN (bayagent screen pin)", Run: runScreen},
		{Name: "key", Summary: "replace the device key, on the record (bayagent key rotate)", Run: runKey},
		{Name: "demo", Summary: "run the whole bay on this machine: simulators, embedded broker, one repair job", Run: runDemo},
	}, Footer: "Documentation: README.md; the MQTT commands and reply codes: docs/commands.md."}
}

// run dispatches a subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program().Run(ctx, env{stdin: stdin, stdout: stdout, stderr: stderr}, args, stdout, stderr)
}

// The command line's helpers, bound to this program (package cli).
var usagef = cli.Usagef

type configError = cli.ConfigError

func newFlagSet(e env, name, usage string, more ...string) *cli.FlagSet {
	return cli.NewFlagSet(e.stdout, e.stderr, "bayagent", name, usage, more...)
}

func subcommandHelp(e env, name string, args []string, actions ...string) (string, error) {
	return cli.Action(e.stdout, "bayagent", name, args, actions...)
}
