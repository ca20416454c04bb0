package uplink

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
)

var drainN = flag.Int("drain.n", 10000, "records drained per BenchmarkDrain iteration (the issue's target backlog is 100000)")

// BenchmarkDrain drains a backlog of records (about 400 bytes each, the
// size of a small sealed record) to Mosquitto with the uplink, and the same
// payloads with `mosquitto_pub -q 1 -l` to the same broker, and reports
// both rates and their ratio. Both figures include connecting.
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x -drain.n 100000 ./agent/uplink
func BenchmarkDrain(b *testing.B) {
	br := mosquittotest.Start(b, mosquittotest.Options{})
	pubBin := mosquittotest.Binary(b, "mosquitto_pub")
	n := *drainN
	payloads := make([][]byte, n)
	// mosquitto_pub -l (2.0.11) stops after the first message whose 16-bit
	// message id equals the last one's, so it gets at most 50,000 lines per
	// run; a larger backlog is sent by consecutive runs (all timed).
	const chunk = 50000
	var files []string
	dir := b.TempDir()
	for first := 0; first < n; first += chunk {
		var lines bytes.Buffer
		for i := first; i < min(n, first+chunk); i++ {
			payloads[i] = fakeRecord(uint64(i+1), 400)
			lines.Write(payloads[i])
			lines.WriteByte('\n')
		}
		f := filepath.Join(dir, fmt.Sprintf("records-%d.jsonl", first))
		if err := os.WriteFile(f, lines.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	port := strconv.Itoa(mosquittotest.Port(br.PlainAddr))

	var upTime, pubTime time.Duration
	iter := 0
	for b.Loop() {
		iter++
		q := newMemQueue()
		q.add(payloads...)
		o := plainOptions(br, "dev-a")
		o.ClientID = fmt.Sprintf("bench-uplink-%d", iter)
		u, err := New(o, q, commander{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		stop := run(b, u)
		q.waitEmpty(b, 10*time.Minute)
		upTime += time.Since(start)
		stop()

		for _, f := range files {
			in, err := os.Open(f)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(pubBin, "-h", "127.0.0.1", "-p", port, "-q", "1", "-i", fmt.Sprintf("bench-pub-%d", iter),
				"-t", "bayagent/s1/dev-a/records", "-l")
			cmd.Stdin = in
			start = time.Now()
			out, err := cmd.CombinedOutput()
			pubTime += time.Since(start)
			in.Close()
			if err != nil {
				b.Fatalf("mosquitto_pub: %v\n%s", err, out)
			}
		}
	}
	total := float64(n * iter)
	up, pub := total/upTime.Seconds(), total/pubTime.Seconds()
	b.ReportMetric(up, "uplink_rec/s")
	b.ReportMetric(pub, "mosquitto_pub_rec/s")
	b.ReportMetric(up/pub, "ratio")
}
