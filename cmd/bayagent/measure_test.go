package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// TestMeasureSim reads each simulated instrument through a pseudo-terminal,
// the real serial path, and checks the values of its readings file.
func TestMeasureSim(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]float64
	}{
		{"nha506-before.yaml", map[string]float64{"hc": 180, "co": 1.20, "co2": 13.10, "o2": 1.10, "no": 420, "lambda": 0.97}},
		{"nht6-free-accel.yaml", map[string]float64{"k1": 1.05, "k2": 0.98, "k3": 1.01}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "measure", "--sim", filepath.Join("..", "..", "testdata", "analyzers", tc.file), "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var rd analyzer.Reading
			if err := json.Unmarshal([]byte(stdout), &rd); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			for name, want := range tc.want {
				q, ok := rd.Value(name)
				if !ok || q.Value != want {
					t.Errorf("%s = %v (present %v), want %g", name, q.Value, ok, want)
				}
			}
		})
	}
}

func TestMeasureErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"measure"}, exitUsage, "exactly one"},
		{[]string{"measure", "--iface", "frob:/dev/null"}, exitError, "frob"},
		{[]string{"measure", "--iface", "nha506:/dev/nonexistent-tty"}, exitError, "nonexistent-tty"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
