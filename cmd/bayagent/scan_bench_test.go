package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// BenchmarkScanEndToEnd measures a technician's scan from process start to
// snapshot: `bayagent scan --iface elm327:/dev/pts/N --json` as its own
// process (built here, stripped, CGO off) against the petrol-p0420 car
// behind the ELM327 simulator on a pty, with 20 ms answers and a real
// adapter's reset and search times (elmsim.RealTiming). The floor is the
// set-up the adapter needs (a warm start, then trying the car's protocol,
// CAN 11-bit 500 kbit/s, first) plus one answer time per OBD request the
// simulator received (the search's included) plus the adapter's answer
// timeout for each request that must wait it out (Stats.FullWindow: the
// search's 0100, which cannot know how many ECUs will answer, and 06 00,
// which the transmission, having no Mode 06, leaves unanswered). The
// adapter's protocol
// memory is left as the first run leaves it, as on a box restarted at the
// same bay.
func BenchmarkScanEndToEnd(b *testing.B) {
	const latency = 20 * time.Millisecond
	bin := filepath.Join(b.TempDir(), "bayagent")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=", "GOARM=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	p, err := obdsim.Load(filepath.Join("..", "..", "testdata", "vehicles", "petrol-p0420.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	timing := elmsim.RealTiming()
	sim := elmsimtest.New(b, p, elmsim.Options{Latency: latency, Timing: timing})
	path := elmsimtest.PTY(b, sim)
	run := func() (time.Duration, *scan.Snapshot) {
		var out, errb bytes.Buffer
		c := exec.Command(bin, "scan", "--iface", "elm327:"+path+"@38400", "--json")
		c.Stdout, c.Stderr = &out, &errb
		start := time.Now()
		if err := c.Run(); err != nil {
			b.Fatalf("bayagent scan: %v\n%s", err, errb.String())
		}
		d := time.Since(start)
		var snap scan.Snapshot
		if err := json.Unmarshal(out.Bytes(), &snap); err != nil || snap.VIN != p.VIN {
			b.Fatalf("not the car's snapshot (%v):\n%s", err, out.String())
		}
		return d, &snap
	}
	run() // the adapter learns the car's protocol
	var total, floor, setup, adapterSetup time.Duration
	var requests, windows int64
	for b.Loop() {
		r0 := sim.Requests()
		d, snap := run()
		n := sim.Requests() - r0
		total += d
		requests += n
		windows += int64(snap.Stats.FullWindow)
		setup += snap.Stats.Setup
		need := timing.WarmStart + timing.Search['6']
		adapterSetup += need
		floor += need + time.Duration(n)*latency + time.Duration(snap.Stats.FullWindow)*elmsim.DefaultTimeout
	}
	iters := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / iters }
	b.ReportMetric(ms(total), "total-ms")
	b.ReportMetric(ms(setup), "setup-ms")
	b.ReportMetric(ms(adapterSetup), "adapter-needs-ms")
	b.ReportMetric(float64(requests)/iters, "requests")
	b.ReportMetric(float64(windows)/iters, "full-windows")
	b.ReportMetric(ms(floor), "floor-ms")
	b.ReportMetric(float64(total)/float64(floor), "total/floor")
}
