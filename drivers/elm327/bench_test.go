package elm327_test

import (
	"context"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/scan/scantest"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
)

// BenchmarkScanELM327 takes the full snapshot of petrol-p0420 through the
// ELM327 simulator on a pty, paced to 38400 baud, with 10 ms ECU latency,
// and in the same iteration the naive baseline through the same adapter. It
// reports requests, bytes on the wire (both directions) and wall time of
// both, and their ratios. One iteration takes several seconds (the naive
// scan waits 200 ms after most of its requests): run it with -benchtime=1x.
func BenchmarkScanELM327(b *testing.B) {
	a, _ := openPTY(b, loadProfile(b, "petrol-p0420"), elmsim.Options{Latency: 10 * time.Millisecond, Baud: 38400})
	ctx := context.Background()
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

// BenchmarkScanRefusesBatches takes the full snapshot of petrol-p0420
// through an adapter that refuses several PIDs in one request ("?"), on a
// pty at 38400 baud with 10 ms ECU latency, each iteration on a new link
// (nothing learnt), and in the same iteration its floor: the same snapshot
// on a link whose session already knows that the adapter takes one item per
// request, so that every request carries one item and none is wasted.
// fresh/floor is what learning costs (target <= 1.25).
func BenchmarkScanRefusesBatches(b *testing.B) {
	so, err := elmsim.Personality(elmsim.PersonalityRefusesBatches)
	if err != nil {
		b.Fatal(err)
	}
	so.Latency, so.Baud = 10*time.Millisecond, 38400
	a, _ := openPTY(b, loadProfile(b, "petrol-p0420"), so)
	ctx := context.Background()
	learnt := &scan.Session{}
	if _, err := scan.Scan(ctx, a, scan.Options{Session: learnt}); err != nil {
		b.Fatal(err)
	}
	var freshReq, floorReq, retried int64
	var freshTime, floorTime time.Duration
	var facts [2]scantest.Facts
	for b.Loop() {
		start := time.Now()
		snap, err := scan.Scan(ctx, a, scan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		freshTime += time.Since(start)
		freshReq += int64(snap.Stats.Requests)
		retried += int64(snap.Stats.Retried)
		if snap.Stats.NoBatch != scan.NoBatchAdapter {
			b.Fatalf("stats %+v: the refusing adapter was not learnt", snap.Stats)
		}
		facts[0] = scantest.FactsOf(snap)

		start = time.Now()
		snap, err = scan.Scan(ctx, a, scan.Options{Session: learnt})
		if err != nil {
			b.Fatal(err)
		}
		floorTime += time.Since(start)
		floorReq += int64(snap.Stats.Requests)
		facts[1] = scantest.FactsOf(snap)
		if d := scantest.Diff(facts[1], facts[0]); len(d) > 0 {
			b.Fatalf("the snapshots differ: %v", d)
		}
	}
	iters := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / iters }
	b.ReportMetric(float64(freshReq)/iters, "fresh-requests")
	b.ReportMetric(float64(retried)/iters, "fresh-retried")
	b.ReportMetric(float64(floorReq)/iters, "floor-requests")
	b.ReportMetric(ms(freshTime), "fresh-ms")
	b.ReportMetric(ms(floorTime), "floor-ms")
	b.ReportMetric(float64(freshTime)/float64(floorTime), "fresh/floor")
}

// BenchmarkLiveELM327 samples six live PIDs of petrol-p0420's engine ECU
// (the live feed's scan.Sample) through the ELM327 simulator on a pty,
// paced to 38400 baud, with 10 ms ECU latency, and reports samples per
// second against the physical floor: per sample, the bytes that crossed the
// serial line (both directions, 10 bits a byte at 38400 baud) plus the ECU
// latency once per request. Target: >= 0.8 of the floor.
func BenchmarkLiveELM327(b *testing.B) {
	const baud, latency = 38400, 10 * time.Millisecond
	a, sim := openPTY(b, loadProfile(b, "petrol-p0420"), elmsim.Options{Latency: latency, Baud: baud})
	ctx := context.Background()
	pids := []obd.PID{0x0C, 0x0D, 0x05, 0x0B, 0x11, 0x04} // speed, rpm, coolant, MAP, throttle, load
	ecus := []obd.ECU{0x7E8}
	sess := &scan.Session{}
	wire := func() int64 { s := a.Stats(); return s.BytesWritten + s.BytesRead }
	w0, r0 := wire(), sim.Requests()
	start := time.Now()
	for b.Loop() {
		got, err := scan.Sample(ctx, a, sess, ecus, pids)
		if err != nil || len(got) != 1 || len(got[0].Values) != len(pids) {
			b.Fatalf("sample: %+v, %v", got, err)
		}
	}
	elapsed := time.Since(start)
	iters := float64(b.N)
	bytes := float64(wire()-w0) / iters
	requests := float64(sim.Requests()-r0) / iters
	floor := time.Duration(bytes*10*float64(time.Second)/baud) + time.Duration(requests*float64(latency))
	rate := iters / elapsed.Seconds()
	b.ReportMetric(bytes, "bytes/sample")
	b.ReportMetric(requests, "requests/sample")
	b.ReportMetric(rate, "samples/s")
	b.ReportMetric(1/floor.Seconds(), "floor-samples/s")
	b.ReportMetric(rate*floor.Seconds(), "of-floor")
}
