package agent_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/web"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
)

// BenchmarkScreenRSS measures what the bay screen costs the box: the
// resident memory of `bayagent run` once a vehicle is connected and
// scanned, with the screen off, on, and on with a signed-in phone
// following the Now page (its event stream open), in the same run. The
// vehicle is petrol-p0420 behind an ELM327 simulator on a pty, the broker
// Mosquitto, as in BenchmarkDaemon.
//
//	go test -run '^$' -bench BenchmarkScreenRSS -benchtime 3x ./agent
func BenchmarkScreenRSS(b *testing.B) {
	dir := b.TempDir()
	agentBin := filepath.Join(dir, "bayagent")
	build(b, agentBin, "../cmd/bayagent")
	br := mosquittotest.Start(b, mosquittotest.Options{})
	dev, _ := elmPTY(b, "petrol-p0420", elmsim.Options{})
	pin := filepath.Join(dir, "screen.pin")
	if err := web.WritePINFile(pin, "418027", 0); err != nil {
		b.Fatal(err)
	}

	var off, on, phone int64
	for i := 0; b.Loop(); i++ {
		for _, mode := range []string{"off", "on", "phone"} {
			state := filepath.Join(dir, fmt.Sprintf("state-%d-%s", i, mode))
			cfg := filepath.Join(dir, fmt.Sprintf("config-%d-%s.yaml", i, mode))
			conf := fmt.Sprintf(`device: {id: bench-%d, shop: "330106000123456", state_dir: %s}
vehicle: {interface: "elm327:%s@38400", detect_interval: 200ms}
uplink: {broker: %s, allow_plaintext: true}
log: {level: info}
`, i, state, dev, br.PlainURL)
			if mode != "off" {
				conf += fmt.Sprintf("screen: {listen: \"127.0.0.1:0\", pin_file: %s}\n", pin)
			}
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				b.Fatal(err)
			}
			rss := screenRun(b, agentBin, cfg, mode == "phone")
			switch mode {
			case "off":
				off += rss
			case "on":
				on += rss
			default:
				phone += rss
			}
		}
	}
	n := float64(b.N) * 1024
	b.ReportMetric(float64(off)/n, "screen-off-rss-MB")
	b.ReportMetric(float64(on)/n, "screen-on-rss-MB")
	b.ReportMetric(float64(phone)/n, "screen-phone-rss-MB")
	b.ReportMetric(float64(on-off)/n, "screen-cost-MB")
}

var screenURL = regexp.MustCompile(`bay screen listening.* url=(\S+)`)

// screenRun runs the daemon until it stored its scan, with a signed-in
// event stream when phone is set, lets it settle for a second and returns
// its VmRSS (kB).
func screenRun(b *testing.B, bin, cfg string, phone bool) int64 {
	b.Helper()
	cmd := exec.Command(bin, "run", "--config", cfg)
	lines, stop := startLogged(b, cmd)
	defer stop()
	var base string
	timeout := time.After(30 * time.Second)
	for scanned := false; !scanned; {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatalf("%s exited", bin)
			}
			if m := screenURL.FindStringSubmatch(l); m != nil {
				base = m[1]
			}
			scanned = strings.Contains(l, "record stored") && strings.Contains(l, "kind=scan")
		case <-timeout:
			b.Fatal("no scan within 30 s")
		}
	}
	go drain(lines)
	if phone {
		if base == "" {
			b.Fatal("the screen did not say where it listens")
		}
		stream := signedInStream(b, base)
		defer stream.Close()
	}
	time.Sleep(time.Second) // settle: a measurement, not synchronisation
	return statusKB(b, cmd.Process.Pid, "VmRSS")
}

// signedInStream signs in to the screen at base and opens the Now page's
// event stream, returning once its first event has arrived.
func signedInStream(b *testing.B, base string) io.Closer {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		b.Fatal("no login form")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "technician": {"T007"}, "pin": {"418027"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + "/events?page=now")
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("event stream: %v", err)
		}
		if strings.HasPrefix(line, "event: update") {
			return resp.Body
		}
	}
}
