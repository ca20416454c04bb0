package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/i18n/i18ntest"
)

// TestDemo runs `bayagent demo` as `make demo` does, in Chinese (package
// demo's test reads it in English): it exits 0, shows the verified record
// chain, and has no English left in what it prints (the upload form's
// JSON member names, codes, file names and the record stream's kinds
// aside, which are single words).
func TestDemo(t *testing.T) {
	code, stdout, stderr := runCmd(t, "demo", "--lang", "zh")
	if code != exitOK || !strings.Contains(stdout, "\n  校验通过：") || !strings.Contains(stdout, "维修前") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if m := i18ntest.English(line); m != "" {
			t.Errorf("English %q in %q", m, line)
		}
	}
	if code, _, stderr := runCmd(t, "demo", "--lang", "fr"); code != exitUsage || !strings.Contains(stderr, `invalid value "fr" for flag -lang`) {
		t.Errorf("--lang fr: exit %d, %s", code, stderr)
	}
}

func TestDemoJSON(t *testing.T) {
	code, stdout, stderr := runCmd(t, "demo", "--json", "--data", "../../testdata")
	var doc struct {
		Records  []string `json:"records"`
		Verified bool     `json:"verified"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &doc) != nil || !doc.Verified || len(doc.Records) == 0 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestDemoUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"extra argument", []string{"demo", "now"}, exitUsage, `unexpected argument "now"`},
		{"ca without broker", []string{"demo", "--ca", "x.pem"}, exitUsage, "--ca needs --broker"},
		{"bad flag", []string{"demo", "--frob"}, exitUsage, "frob"},
		{"bad timeout", []string{"demo", "--timeout", "-1s"}, exitUsage, "--timeout"},
		{"no data", []string{"demo", "--data", "/nonexistent"}, exitError, "simulator data not found"},
		{"help", []string{"demo", "-h"}, exitOK, "--keep-running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			out := stderr
			if tc.code == exitOK { // help goes to stdout
				out = stdout
			}
			if code != tc.code || !strings.Contains(out, tc.err) {
				t.Fatalf("exit %d (want %d), stdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
		})
	}
}
