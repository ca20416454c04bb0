package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "records")
	good := filepath.Join(dir, "chain-good.jsonl")
	bad := filepath.Join(dir, "chain-problems.jsonl")
	key := filepath.Join(dir, "bay-01.pub.json")
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"good file", []string{"verify", "--key", key, good}, exitOK, "OK: 7 lines"},
		{"problem file", []string{"verify", "--key", key, bad}, exitError, "PROBLEMS FOUND"},
		{"json", []string{"verify", "--key", key, "--json", good}, exitOK, `"signatures_checked": true`},
		{"without key", []string{"verify", good}, exitOK, "signatures NOT checked"},
		{"clock_sync", []string{"verify", "--key", key, filepath.Join(dir, "chain-clock.jsonl")}, exitOK,
			"seq 1: time 2026-01-01T00:00:10.000Z corrected to 2026-11-29T05:00:10.000Z (clock_sync seq 4)"},
		{"no args", []string{"verify"}, exitUsage, ""},
		{"two args", []string{"verify", good, bad}, exitUsage, ""},
		{"missing file", []string{"verify", "/nonexistent/x"}, exitError, ""},
		{"bad key", []string{"verify", "--key", good, good}, exitError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.out) {
				t.Fatalf("exit %d (want %d), stdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if tc.name == "json" && !json.Valid([]byte(stdout)) {
				t.Fatal("--json output is not JSON")
			}
		})
	}
}
