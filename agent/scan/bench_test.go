package scan_test

import (
	"context"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/isotp"
)

// BenchmarkScanP0420 takes the full snapshot of petrol-p0420 with 10 ms ECU
// latency, and in the same iteration the naive baseline, and reports
// requests and wall time of both, their ratios, and how close the fast scan
// comes to its floor: the sum over its requests of the time each must take
// (the ECU latency, or P2 where the whole window is needed).
func BenchmarkScanP0420(b *testing.B) {
	const latency = 10 * time.Millisecond
	r := startRig(b, loadProfile(b, "petrol-p0420"), latency, isotp.DefaultP2)
	ctx := context.Background()
	var fastReq, naiveReq, fastWindow int
	var fastTime, naiveTime time.Duration
	for b.Loop() {
		start := time.Now()
		snap, err := scan.Scan(ctx, r.client, scan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fastTime += time.Since(start)
		fastReq += snap.Stats.Requests
		fastWindow += snap.Stats.FullWindow

		start = time.Now()
		n, err := scantest.NaiveScan(ctx, r.client)
		if err != nil {
			b.Fatal(err)
		}
		naiveTime += time.Since(start)
		naiveReq += n
	}
	iters := float64(b.N)
	floor := time.Duration(fastReq-fastWindow)*latency + time.Duration(fastWindow)*isotp.DefaultP2
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / iters }
	b.ReportMetric(float64(fastReq)/iters, "fast-requests")
	b.ReportMetric(float64(naiveReq)/iters, "naive-requests")
	b.ReportMetric(ms(fastTime), "fast-ms")
	b.ReportMetric(ms(naiveTime), "naive-ms")
	b.ReportMetric(ms(floor), "floor-ms")
	b.ReportMetric(float64(naiveReq)/float64(fastReq), "x-fewer-requests")
	b.ReportMetric(float64(naiveTime)/float64(fastTime), "x-faster")
	b.ReportMetric(float64(fastTime)/float64(floor), "fast/floor")
}
