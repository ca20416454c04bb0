package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/analyzer"
)

// TestHelp: every command answers --help on stdout with exit 0, and says
// what a newcomer needs (every address form, every analyzer, the actions).
func TestHelp(t *testing.T) {
	want := map[string][]string{
		"run":     {"--config", "--check", "--env-file"},
		"scan":    {"--iface", "--sim", "examples:"},
		"measure": {"--iface", "--method", "methods (--method"},
		"job":     {"bayagent job export --help"},
		"outbox":  {"--db", "--config", "stats"},
		"verify":  {"--key"},
		"screen":  {"bayagent screen pin --help"},
		"key":     {"bayagent key rotate --help"},
		"demo":    {"--keep-running"},
	}
	for _, a := range vehicle.Addresses() {
		want["scan"] = append(want["scan"], a.Example)
	}
	for _, d := range analyzer.Builtin() {
		want["measure"] = append(want["measure"], d.Name+":", d.Model)
	}
	want["measure"] = append(want["measure"], analyzer.Methods()...)
	for _, c := range program().Commands {
		for _, form := range [][]string{{c.Name, "--help"}, {c.Name, "-h"}, {"help", c.Name}} {
			code, stdout, stderr := runCmd(t, form...)
			if code != exitOK || stdout == "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", form, code, stdout, stderr)
				continue
			}
			for _, w := range want[c.Name] {
				if !strings.Contains(stdout, w) {
					t.Errorf("%v: the help does not mention %q:\n%s", form, w, stdout)
				}
			}
		}
		if _, ok := want[c.Name]; !ok {
			t.Errorf("command %s: the test does not say what its help must show", c.Name)
		}
	}
	for _, sub := range [][]string{{"job", "export", "--help"}, {"key", "rotate", "--help"}, {"screen", "pin", "--help"}} {
		if code, stdout, _ := runCmd(t, sub...); code != exitOK || !strings.Contains(stdout, "flags:") {
			t.Errorf("%v: exit %d:\n%s", sub, code, stdout)
		}
	}
	code, stdout, _ := runCmd(t, "--help")
	if code != exitOK || !strings.Contains(stdout, "docs/commands.md") {
		t.Errorf("--help: exit %d:\n%s", code, stdout)
	}
	for _, v := range [][]string{{"--version"}, {"version"}} {
		if code, stdout, _ := runCmd(t, v...); code != exitOK || !strings.HasPrefix(stdout, "bayagent ") {
			t.Errorf("%v: exit %d %q", v, code, stdout)
		}
	}
	if code, _, stderr := runCmd(t, "job"); code != exitUsage || !strings.Contains(stderr, "export") {
		t.Errorf("job without an action: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "job", "import"); code != exitUsage || !strings.Contains(stderr, `unknown action "import"`) {
		t.Errorf("job import: exit %d %q", code, stderr)
	}
}

// TestFlagsAfterArguments: flags after a positional argument are read, not
// silently ignored.
func TestFlagsAfterArguments(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "records")
	good := filepath.Join(dir, "chain-good.jsonl")
	key := filepath.Join(dir, "bay-01.pub.json")
	code, stdout, stderr := runCmd(t, "verify", good, "--key", key)
	if code != exitOK || strings.Contains(stdout, "NOT checked") || !strings.Contains(stdout, "OK") {
		t.Errorf("verify FILE --key KEY: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, "verify", "--", "--key"); code != exitError || !strings.Contains(stderr, "--key") {
		t.Errorf("after --, --key is a file name: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "verify", good, "--nope"); code != exitUsage || !strings.Contains(stderr, "nope") {
		t.Errorf("an unknown flag after the file: exit %d %q", code, stderr)
	}
}

// TestAddressHints: a device path without its scheme is answered with the
// address meant; a bad --method is refused before anything is opened.
func TestAddressHints(t *testing.T) {
	code, _, stderr := runCmd(t, "scan", "--iface", "/dev/ttyUSB0", "--timeout", "5s")
	if code != exitError || !strings.Contains(stderr, "did you mean elm327:/dev/ttyUSB0?") {
		t.Errorf("scan --iface /dev/ttyUSB0: exit %d %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "measure", "--iface", "nha506:/dev/ttyUSB1", "--method", "idle_twice")
	if code != exitUsage || !strings.Contains(stderr, `--method "idle_twice": want one of realtime, two_speed_idle`) {
		t.Errorf("measure --method idle_twice: exit %d %q", code, stderr)
	}
}
