package agent_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
)

// BenchmarkDaemon measures the box's figures: the stripped binary for
// armv7 and arm64, and for `bayagent run` on this machine the time from
// start to ready and its resident memory once a vehicle is connected and
// scanned, each beside a bare Go program (which only prints "ready" and
// sleeps) started the same way in the same run. The vehicle is the
// petrol-p0420 profile behind an ELM327 simulator on a pty (a separate
// process needs a real device path); the broker is Mosquitto.
//
//	go test -run '^$' -bench BenchmarkDaemon -benchtime 5x ./agent
func BenchmarkDaemon(b *testing.B) {
	dir := b.TempDir()
	sizes := map[string]float64{}
	for _, t := range []struct{ arch, arm, unit string }{{"arm", "7", "armv7-MB"}, {"arm64", "", "arm64-MB"}} {
		out := filepath.Join(dir, "bayagent-"+t.arch)
		build(b, out, "../cmd/bayagent", "GOOS=linux", "GOARCH="+t.arch, "GOARM="+t.arm)
		sizes[t.unit] = fileMB(b, out)
	}
	agentBin := filepath.Join(dir, "bayagent")
	build(b, agentBin, "../cmd/bayagent")
	bare := filepath.Join(dir, "bare")
	src := filepath.Join(dir, "bare.go")
	if err := os.WriteFile(src, []byte("package main\nimport (\"fmt\"; \"os\"; \"time\")\nfunc main() { fmt.Fprintln(os.Stderr, \"ready\"); time.Sleep(time.Hour) }\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	build(b, bare, src)

	br := mosquittotest.Start(b, mosquittotest.Options{})
	dev, _ := elmPTY(b, "petrol-p0420", elmsim.Options{})

	var ready, bareReady time.Duration
	var rss, bareRSS, hwm int64
	for i := 0; b.Loop(); i++ {
		state := filepath.Join(dir, fmt.Sprintf("state-%d", i))
		cfg := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", i))
		conf := fmt.Sprintf(`device: {id: bench-%d, shop: "330106000123456", state_dir: %s}
vehicle: {interface: "elm327:%s@38400", detect_interval: 200ms}
uplink: {broker: %s, allow_plaintext: true}
log: {level: info}
`, i, state, dev, br.PlainURL)
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			b.Fatal(err)
		}
		d, r, h := runUntil(b, exec.Command(agentBin, "run", "--config", cfg), "agent ready", "record stored", "kind=scan")
		ready += d
		rss += r
		hwm = max(hwm, h)
		d, r, _ = runUntil(b, exec.Command(bare), "ready")
		bareReady += d
		bareRSS += r
	}
	n := float64(b.N)
	for unit, mb := range sizes {
		b.ReportMetric(mb, unit)
	}
	b.ReportMetric(float64(ready.Microseconds())/1000/n, "ready-ms")
	b.ReportMetric(float64(bareReady.Microseconds())/1000/n, "bare-ready-ms")
	b.ReportMetric(float64(rss)/1024/n, "idle-rss-MB")
	b.ReportMetric(float64(bareRSS)/1024/n, "bare-rss-MB")
	b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")
}

func build(b testing.TB, out, pkg string, env ...string) {
	b.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	// For this machine unless env says otherwise, also when the tests run
	// for another architecture under qemu-user.
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=", "GOARM="), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
}

func fileMB(b *testing.B, path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}

// runUntil starts cmd, returns how long it took to log ready, then waits
// for the log lines in idle (all on one line, in order of appearance),
// lets it settle for a second, reads its VmRSS and VmHWM (kB), and stops it
// with SIGTERM.
func runUntil(b *testing.B, cmd *exec.Cmd, ready string, idle ...string) (time.Duration, int64, int64) {
	b.Helper()
	start := time.Now()
	lines, stop := startLogged(b, cmd)
	defer stop()
	var tReady time.Duration
	timeout := time.After(30 * time.Second)
	for want := 0; want == 0 || (len(idle) > 0 && want == 1); {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatalf("%s exited before %q", cmd.Path, ready)
			}
			switch {
			case want == 0 && strings.Contains(l, ready):
				tReady = time.Since(start)
				want = 1
			case want == 1 && containsAll(l, idle):
				want = 2
			}
		case <-timeout:
			b.Fatalf("%s: no %q / %q within 30 s", cmd.Path, ready, idle)
		}
	}
	go drain(lines)
	time.Sleep(time.Second) // settle: a measurement, not synchronisation
	return tReady, statusKB(b, cmd.Process.Pid, "VmRSS"), statusKB(b, cmd.Process.Pid, "VmHWM")
}

// startLogged starts cmd and returns the lines of its standard error and
// a function that stops it (SIGTERM, then waits for it).
func startLogged(b *testing.B, cmd *exec.Cmd) (<-chan string, func()) {
	b.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

// drain reads the lines no one waits for, so that the process never
// blocks on its log.
func drain(lines <-chan string) {
	for range lines {
	}
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func statusKB(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}
