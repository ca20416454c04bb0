package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/uplink"
)

// runDaemon is `bayagent run --config FILE`: the agent until SIGTERM or
// SIGINT (a second signal aborts; see main). With --check it validates the
// configuration, checks it against this box and prints a summary.
func runDaemon(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "run", "--config FILE [--env-file FILE] [--check]",
		"The configuration references per-box values as ${NAME}; under systemd they come from the unit's\n"+
			"EnvironmentFile, "+config.DefaultEnvFile+" (with the MQTT password). --check reads that file\n"+
			"(--env-file, or that file when it can be read), so that it checks what the service will see:\n"+
			"  bayagent run --check --config "+defaultConfig+" --env-file "+config.DefaultEnvFile+"\n")
	cf := addConfigFlags(fs, "see firmware-config/")
	check := fs.Bool("check", false, "validate the configuration, check it against this box, print a summary and exit")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := cf.load() // parses and validates
	if err != nil {
		return err
	}
	log := slog.New(cfg.Log.NewHandler(e.stderr))
	if *check {
		writeSummary(e.stdout, *cf.path, cfg)
		return nil
	}
	for _, w := range cfg.Warnings() {
		log.Warn("configuration: " + w)
	}
	a, err := agent.New(cfg, agent.Deps{Version: version, Logger: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// writeSummary prints what a valid configuration sets up, and its
// warnings, for a person checking a box.
func writeSummary(w io.Writer, path string, c *config.Config) {
	fmt.Fprintf(w, "%s is valid.\n\n", path)
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-10s %s\n", k, fmt.Sprintf(format, a...)) }
	d := c.Device
	bay := d.Bay
	if bay == "" {
		bay = "1 (default)"
	}
	row("device", "%s at shop %s (%s), bay %s", d.ID, d.Shop, orNone(d.CompanyName), bay)
	row("vehicle", "%s, protocol %s, looked for every %s", c.Vehicle.Interface, c.Vehicle.Protocol, c.Vehicle.DetectInterval)
	if c.Analyzer.Interface == "" {
		row("analyzer", "none")
	} else {
		row("analyzer", "%s, method %s", c.Analyzer.Interface, orDefault(c.Analyzer.Method))
	}
	u := c.Uplink
	login := "no login"
	if u.Username != "" {
		login = fmt.Sprintf("user %s, password from $%s", u.Username, u.PasswordEnv)
	}
	tls := "server verified by " + orDefault(u.CAFile)
	switch {
	case strings.HasPrefix(strings.ToLower(u.Broker), "tcp:"):
		tls = "PLAIN TEXT"
	case u.InsecureSkipVerify:
		tls = "server NOT verified"
	}
	if u.CertFile != "" {
		tls += ", client certificate " + u.CertFile
	}
	row("broker", "%s (%s; %s)", u.Broker, tls, login)
	t := uplink.DeviceTopics(u.TopicPrefix, d.Shop, d.ID)
	row("topics", "%s/{records,status,cmd,reply,live}", t.Root)
	row("state", "%s: key %s, outbox %s (at most %s)", d.StateDir, d.KeyFile, c.Outbox.Path, c.Outbox.MaxBytes)
	row("live feed", "at most %d Hz for %s", c.Live.MaxRateHz, c.Live.MaxDuration)
	row("log", "%s, %s", c.Log.Level, c.Log.Format)
	warnings := append(c.Warnings(), c.HostWarnings()...)
	if len(warnings) == 0 {
		fmt.Fprintln(w, "\nNo warnings.")
		return
	}
	fmt.Fprintf(w, "\n%d warning(s):\n", len(warnings))
	for _, x := range warnings {
		fmt.Fprintf(w, "  - %s\n", x)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no company name"
	}
	return s
}

func orDefault(s string) string {
	if s == "" {
		return "the default"
	}
	return s
}
