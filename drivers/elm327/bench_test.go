package elm327_test

import (
	"context"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
)

// BenchmarkScanELM327 takes the full snapshot of petrol-p0420 through the
// ELM327 simulator on a pty, paced to 38400 baud, with 10 ms ECU latency,
// and in the same iteration the naive baseline through the same adapter. It
// reports requests, bytes on the wire (both directions) and wall time of
// both, and their ratios. One iteration takes several seconds (the naive
// scan waits 200 ms after most of its requests): run it with -benchtime=1x.
func BenchmarkScanELM327(b *testing.B) {
	path, _ := startPTY(b, loadProfile(b, "petrol-p0420"), elmsim.Options{Latency: 10 * time.Millisecond, Baud: 38400})
	ctx := context.Background()
	a, err := elm327.Open(ctx, path+"@38400", elm327.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	wire := func() int64 { s := a.Stats(); return s.BytesWritten + s.BytesRead }
	var fastReq, naiveReq, fastBytes, naiveBytes int64
	var fastTime, naiveTime time.Duration
	for b.Loop() {
		w0, start := wire(), time.Now()
		snap, err := scan.Scan(ctx, a, scan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fastTime += time.Since(start)
		fastReq += int64(snap.Stats.Requests)
		fastBytes += wire() - w0

		w0, start = wire(), time.Now()
		n, err := scantest.NaiveScan(ctx, a)
		if err != nil {
			b.Fatal(err)
		}
		naiveTime += time.Since(start)
		naiveReq += int64(n)
		naiveBytes += wire() - w0
	}
	iters := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / iters }
	b.ReportMetric(float64(fastReq)/iters, "fast-requests")
	b.ReportMetric(float64(naiveReq)/iters, "naive-requests")
	b.ReportMetric(float64(fastBytes)/iters, "fast-bytes")
	b.ReportMetric(float64(naiveBytes)/iters, "naive-bytes")
	b.ReportMetric(ms(fastTime), "fast-ms")
	b.ReportMetric(ms(naiveTime), "naive-ms")
	b.ReportMetric(float64(naiveTime)/float64(fastTime), "x-faster")
}
