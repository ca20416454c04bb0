package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDemo runs `bayagent demo` as `make demo` does: it exits 0 and shows
// the verified record chain.
func TestDemo(t *testing.T) {
	code, stdout, stderr := runCmd(t, "demo")
	if code != exitOK || !strings.Contains(stdout, "\n  verified: ") || !strings.Contains(stdout, "BEFORE REPAIR") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
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
