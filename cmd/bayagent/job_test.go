package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJobExport(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "jobs")
	example := filepath.Join(dir, "emission-repair.json")
	want, err := os.ReadFile(filepath.Join(dir, "emission-repair.upload.json"))
	if err != nil {
		t.Fatal(err)
	}
	company := "杭州西湖汽车维修有限公司"
	code, stdout, stderr := runCmd(t, "job", "export", "--file", example, "--company", company)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"vin": "LFV2A21K8A4052691"`) || !strings.Contains(stdout, "costlistcode") {
		t.Errorf("upload form lacks the VIN or the settlement number:\n%s", stdout)
	}
	if stdout != string(want) {
		t.Errorf("output differs from testdata/jobs/emission-repair.upload.json:\n%s", lineDiff(string(want), stdout))
	}
	code, stdout, _ = runCmd(t, "job", "export", "--file", example, "--company", company, "--no-extension")
	if code != 0 || strings.Contains(stdout, "x_bayagent") {
		t.Errorf("--no-extension: exit %d, output has the extension", code)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"job"}, exitUsage, "job export"},
		{[]string{"job", "export"}, exitUsage, "JOB_ID or --file"},
		{[]string{"job", "export", "--file", filepath.Join(t.TempDir(), "none.json")}, exitError, "none.json"},
		{[]string{"job", "export", "--config", filepath.Join(t.TempDir(), "none.yaml"), "J-1"}, exitConfig, "none.yaml"},
	} {
		if code, _, stderr := runCmd(t, tc.args...); code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}

// TestConfigFlags: every command that reads the agent's configuration
// takes its ${NAME} values from --env-file, and says where a missing one
// belongs.
func TestConfigFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("device:\n  id: ${TEST_DEVICE}\n  shop: \"330106000123456\"\n  state_dir: "+dir+"\n"+
		"vehicle:\n  interface: mem:none\nuplink:\n  broker: ssl://b.example.org\n"), 0o600)
	env := filepath.Join(dir, "bayagent.env")
	os.WriteFile(env, []byte("TEST_DEVICE=bay-01\n"), 0o600)
	for _, args := range [][]string{
		{"run", "--check"},
		{"job", "export", "J-1"},
		{"key", "rotate", "--reason", "test"},
	} {
		code, _, stderr := runCmd(t, append(args, "--config", cfg)...)
		if code != exitConfig || !strings.Contains(stderr, "TEST_DEVICE is not set") || !strings.Contains(stderr, "--env-file") {
			t.Errorf("%v without the environment file: exit %d %q", args, code, stderr)
		}
		code, _, stderr = runCmd(t, append(args, "--config", cfg, "--env-file", env)...)
		if code == exitConfig || strings.Contains(stderr, "TEST_DEVICE") {
			t.Errorf("%v --env-file: exit %d %q", args, code, stderr)
		}
	}
}
