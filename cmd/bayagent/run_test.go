package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCheck: run --check reads the environment file the unit uses,
// says which file a missing value belongs in, warns about what does not
// exist on this box and about an empty password, and prints a summary.
func TestRunCheck(t *testing.T) {
	board := filepath.Join("..", "..", "firmware-config", "pi-usb-elm327.yaml")
	for _, v := range []string{"BAYAGENT_DEVICE_ID", "BAYAGENT_SHOP", "BAYAGENT_COMPANY_NAME", "BAYAGENT_BROKER", "BAYAGENT_MQTT_USERNAME", "BAYAGENT_MQTT_PASSWORD", "BAYAGENT_COMMAND_KEY"} {
		if _, set := os.LookupEnv(v); set {
			t.Skipf("%s is set in the test's environment", v) // the check would read it
		}
	}
	code, _, stderr := runCmd(t, "run", "--check", "--config", board)
	if code != exitConfig || !strings.Contains(stderr, "BAYAGENT_DEVICE_ID is not set") ||
		!strings.Contains(stderr, "set them in /etc/bayagent/bayagent.env (read it with --env-file)") {
		t.Errorf("without the environment file: exit %d\n%s", code, stderr)
	}

	env := filepath.Join(t.TempDir(), "bayagent.env")
	os.WriteFile(env, []byte("# the box's values\nBAYAGENT_DEVICE_ID=bay3-pi\nBAYAGENT_SHOP=\"440300123456789\"\n"+
		"export BAYAGENT_COMPANY_NAME='Example Auto'\nBAYAGENT_BROKER=ssl://records.example.org:8883\n"+
		"BAYAGENT_MQTT_USERNAME=bay3\nBAYAGENT_MQTT_PASSWORD=\nBAYAGENT_COMMAND_KEY=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"), 0o600)
	code, stdout, stderr := runCmd(t, "run", "--check", "--config", board, "--env-file", env)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	wantLines(t, "the summary", stdout,
		"pi-usb-elm327.yaml is valid.",
		"device     bay3-pi at shop 440300123456789 (Example Auto)",
		"vehicle    elm327:/dev/ttyUSB0@38400",
		"topics     bayagent/440300123456789/bay3-pi/{records,status,cmd,reply,live}",
		"user bay3, password from $BAYAGENT_MQTT_PASSWORD",
		"BAYAGENT_MQTT_PASSWORD is set but empty")
	if _, err := os.Stat("/dev/ttyUSB0"); err != nil && !strings.Contains(stdout, "/dev/ttyUSB0 does not exist on this box") {
		t.Errorf("no warning about the missing adapter:\n%s", stdout)
	}

	bad := filepath.Join(t.TempDir(), "bad.env")
	os.WriteFile(bad, []byte("BAYAGENT_SHOP 440300123456789\n"), 0o600)
	if code, _, stderr := runCmd(t, "run", "--check", "--config", board, "--env-file", bad); code != exitConfig || !strings.Contains(stderr, "line 1: want NAME=VALUE") {
		t.Errorf("a broken environment file: exit %d %s", code, stderr)
	}
}
