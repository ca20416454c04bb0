package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeCommands returns the commands README.md tells its reader to type:
// the lines of its ```sh blocks (comments cut) and its inline code spans
// that start with a program name, white space folded and the table
// escapes (\|) undone.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	add := func(s string) {
		s = strings.Join(strings.Fields(strings.ReplaceAll(s, `\|`, "|")), " ")
		for _, prefix := range []string{"sudo ", "go run "} {
			s = strings.TrimPrefix(s, prefix)
		}
		for _, p := range []string{"bayagent ", "make ", "scripts/", "./cmd/"} {
			if strings.HasPrefix(s, p) {
				cmds = append(cmds, s)
				return
			}
		}
	}
	text := string(b)
	for _, block := range regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```").FindAllStringSubmatch(text, -1) {
		text = strings.Replace(text, block[0], "", 1)
		if block[1] != "sh" {
			continue // program output
		}
		for _, line := range strings.Split(block[2], "\n") {
			line, _, _ = strings.Cut(line, " #")
			for _, part := range strings.Split(line, "&&") {
				add(strings.TrimSuffix(strings.TrimSpace(part), "&"))
			}
		}
	}
	for _, span := range regexp.MustCompile("(?s)`([^`]+)`").FindAllStringSubmatch(text, -1) {
		add(span[1])
	}
	return cmds
}

var longFlag = regexp.MustCompile(`(?:^| |\[|\()(--[a-z][a-z0-9-]*)`)

// TestReadmeCommands: every command README.md shows works as written:
// each bayagent command and action exists and takes the flags shown (its
// --help lists them), each make target is in the Makefile, each script
// and each file it names exists, and vehiclesim takes the flags shown.
func TestReadmeCommands(t *testing.T) {
	repo := filepath.Join("..", "..")
	makefile, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	vehiclesim, err := os.ReadFile(filepath.Join(repo, "cmd", "vehiclesim", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t)
	seen := map[string]bool{}
	for _, c := range cmds {
		words := strings.Fields(c)
		flags := map[string]bool{}
		for _, m := range longFlag.FindAllStringSubmatch(c, -1) {
			flags[m[1]] = true
		}
		for _, w := range words[1:] { // files the command names must exist
			if w = strings.Trim(w, "[]()"); regexp.MustCompile(`^(testdata|firmware-config|scripts|docs)/[^*]+\.[a-z]+$`).MatchString(w) {
				if _, err := os.Stat(filepath.Join(repo, w)); err != nil {
					t.Errorf("README: %s: %v", c, err)
				}
			}
		}
		switch {
		case words[0] == "bayagent":
			seen[words[1]] = true
			if words[1] == "COMMAND" || words[1] == "--version" {
				continue
			}
			help := []string{words[1]}
			if len(words) > 2 && regexp.MustCompile(`^[a-z]+$`).MatchString(words[2]) && slices.Contains([]string{"job", "key", "screen"}, words[1]) {
				help = append(help, words[2])
			}
			code, stdout, stderr := runCmd(t, append(help, "--help")...)
			if code != exitOK {
				t.Errorf("README: %s: %v --help: exit %d %s", c, help, code, stderr)
				continue
			}
			for f := range flags {
				if f != "--help" && !strings.Contains(stdout, "\n  "+f+" ") && !strings.Contains(stdout, "\n  "+f+"\n") {
					t.Errorf("README: %s: bayagent %s has no flag %s:\n%s", c, strings.Join(help, " "), f, stdout)
				}
			}
		case words[0] == "make":
			for _, target := range words[1:] {
				if target = strings.SplitN(target, "=", 2)[0]; !strings.Contains(target, "FLAGS") && !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(target)+`:`).Match(makefile) {
					t.Errorf("README: %s: no target %s in the Makefile", c, target)
				}
			}
		case strings.HasPrefix(words[0], "scripts/"):
			if _, err := os.Stat(filepath.Join(repo, words[0])); err != nil {
				t.Errorf("README: %s: %v", c, err)
				continue
			}
			if len(flags) == 0 {
				continue
			}
			out, err := exec.Command("bash", filepath.Join(repo, words[0]), "--help").CombinedOutput()
			if err != nil {
				t.Errorf("README: %s: --help: %v\n%s", c, err, out)
			}
			for f := range flags {
				if !strings.Contains(string(out), f) {
					t.Errorf("README: %s: %s --help does not know %s", c, words[0], f)
				}
			}
		case words[0] == "./cmd/vehiclesim":
			for f := range flags {
				if !strings.Contains(string(vehiclesim), `"`+strings.TrimPrefix(f, "--")+`"`) {
					t.Errorf("README: %s: vehiclesim has no flag %s", c, f)
				}
			}
		}
	}
	// The test reads what the README says: the commands it must find.
	for _, want := range []string{"run", "scan", "measure", "job", "outbox", "verify", "key", "screen", "demo"} {
		if !seen[want] {
			t.Errorf("README shows no bayagent %s command (found %d commands: %q)", want, len(cmds), cmds)
		}
	}
}
