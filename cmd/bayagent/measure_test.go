package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
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

// TestMeasureTest runs the two-speed idle test from the command line on a
// simulated analyzer whose car a simulated technician drives: progress
// every second and the prompts, then the verdict; the zero the test did is
// kept for the agent, and the next reading shows the instrument's day.
func TestMeasureTest(t *testing.T) {
	dir := t.TempDir()
	readings := func(f string) string { return filepath.Join("..", "..", "testdata", "analyzers", f) }
	code, stdout, stderr := runCmd(t, "measure", "--sim", readings("nha506-repaired.yaml"), "--test", "two_speed_idle",
		"--second", "5ms", "--state-dir", dir, "--lang", "en")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	wantLines(t, "output", stdout,
		"-> Zeroing the analyzer: keep the probe in clean air.\n",
		"-> Hold high idle: 2300-2700 rpm.\n",
		"   high_idle    measure   30/30 s   2500 rpm (2300-2700)",
		"   idle averages:  hc 45 ppm  co 0.25 %vol",
		"Two-speed idle test: PASS (limit set a).")
	code, stdout, _ = runCmd(t, "measure", "--sim", readings("nha506-p0420.yaml"), "--test", "two_speed_idle",
		"--second", "5ms", "--state-dir", dir, "--lang", "zh")
	if code != exitError || !strings.Contains(stdout, "双怠速法检测：不合格（限值a）：高怠速CO 0.9%，超过限值 0.3%") {
		t.Errorf("failing car: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr = runCmd(t, "measure", "--sim", readings("nha506-repaired.yaml"), "--leak-check", "--state-dir", dir)
	if code != 0 || !strings.Contains(stdout, "leak_check: ok\n") {
		t.Errorf("leak check: exit %d %s\n%s", code, stderr, stdout)
	}
	code, stdout, stderr = runCmd(t, "measure", "--sim", readings("nha506-repaired.yaml"), "--state-dir", dir)
	if code != 0 || !regexp.MustCompile(`last zero +\d{4}-\d\d-\d\d \d\d:\d\d, ok\n`).MatchString(stdout) ||
		!regexp.MustCompile(`last leak check +\d{4}-\d\d-\d\d \d\d:\d\d, ok\n`).MatchString(stdout) || !strings.Contains(stdout, "state ") {
		t.Errorf("reading with the instrument's day: exit %d %s\n%s", code, stderr, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "nha506:/dev/null", "--test", "two_speed_idle", "--second", "5ms"}, "--second is for a simulated test"},
		{[]string{"--sim", readings("nha506-repaired.yaml"), "--test", "asm"}, "--test \"asm\""},
		{[]string{"--sim", readings("nha506-repaired.yaml"), "--zero", "--leak-check"}, "at most one of"},
		{[]string{"--sim", readings("nha506-repaired.yaml"), "--test", "two_speed_idle", "--limit-set", "c"}, `limit set "c" is not configured`},
	} {
		code, _, stderr := runCmd(t, append([]string{"measure"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming %q", tc.args, code, stderr, tc.want)
		}
	}
}
