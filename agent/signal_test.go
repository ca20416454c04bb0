package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/uplink"
)

// TestRunStopsGracefullyOnSIGTERM runs `bayagent run` as the box does and
// stops it with SIGTERM: it exits 0 and the broker's retained status says
// offline because of a shutdown, not a lost connection.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bayagent")
	build(t, bin, "../cmd/bayagent")
	br := mosquittotest.Start(t, mosquittotest.Options{})
	obs := mosquittotest.Subscribe(t, br.PlainURL, uplink.DeviceTopics(uplink.DefaultPrefix, "330106000123456", "sig-01").Status, mosquittotest.SubOptions{QoS: 1})
	cfg := filepath.Join(dir, "config.yaml")
	conf := fmt.Sprintf("device: {id: sig-01, shop: \"330106000123456\", state_dir: %s}\nvehicle: {interface: \"mem:none\"}\nuplink: {broker: %s, allow_plaintext: true}\n",
		filepath.Join(dir, "state"), br.PlainURL)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	log := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case log <- sc.Text():
			default:
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })

	status := func(state, reason string) func([]mosquittotest.Message) bool {
		return func(ms []mosquittotest.Message) bool {
			for _, m := range ms {
				var st map[string]any
				if json.Unmarshal(m.Payload, &st) == nil && st["state"] == state && (reason == "" || st["reason"] == reason) {
					return true
				}
			}
			return false
		}
	}
	obs.WaitFor(30*time.Second, "status online", status("online", ""))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("bayagent run after SIGTERM: %v (want exit 0)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bayagent run did not stop within 30 s of SIGTERM")
	}
	obs.WaitFor(10*time.Second, "status offline after a shutdown", status("offline", "shutdown"))
	var lines []string
	for len(log) > 0 {
		lines = append(lines, <-log)
	}
	if all := strings.Join(lines, "\n"); !strings.Contains(all, "agent stopping") {
		t.Errorf("the log does not say the agent stopped:\n%s", all)
	}
}
