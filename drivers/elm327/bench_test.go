package elm327_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/obd"
)

// naiveScan reads what scan.Scan reads the way a simple tool does: one PID
// per request, never telling the transport who will answer, so that the
// adapter waits out its timeout after every request. It is the baseline of
// BenchmarkScanELM327 (the same idea as agent/scan's benchmark baseline) and
// returns the number of requests it sent.
func naiveScan(ctx context.Context, t obd.Transport) (int, error) {
	n := 0
	do := func(data ...byte) (map[obd.ECU][]byte, error) {
		n++
		resps, err := t.Do(ctx, obd.Request{Data: data})
		if errors.Is(err, obd.ErrNoResponse) {
			return nil, nil
		}
		out := map[obd.ECU][]byte{}
		for _, r := range resps {
			if obd.CheckResponse(data[0], r.Data) == nil {
				out[r.ECU] = r.Data
			}
		}
		return out, err
	}
	supported := func(svc byte) (obd.PIDSet, error) {
		var set obd.PIDSet
		for base := 0; base <= 0xE0; base += 0x20 {
			if base > 0 && !set.Has(obd.PID(base)) {
				break
			}
			req := []byte{svc, byte(base)}
			off := 2
			if svc == 0x02 {
				req, off = append(req, 0), 3
			}
			got, err := do(req...)
			if err != nil {
				return set, err
			}
			for _, resp := range got {
				if len(resp) >= off+4 {
					if s, err := obd.DecodeSupported(obd.PID(base), resp[off:off+4]); err == nil {
						set.Merge(s)
					}
				}
			}
		}
		return set, nil
	}
	mode1, err := supported(0x01)
	if err != nil {
		return n, err
	}
	for _, p := range mode1.List() {
		if p%0x20 != 0 {
			if _, err := do(0x01, byte(p)); err != nil {
				return n, err
			}
		}
	}
	for _, svc := range []byte{0x03, 0x07, 0x0A} {
		if _, err := do(svc); err != nil {
			return n, err
		}
	}
	mode2, err := supported(0x02)
	if err != nil {
		return n, err
	}
	for _, p := range mode2.List() {
		if p%0x20 != 0 {
			if _, err := do(0x02, byte(p), 0); err != nil {
				return n, err
			}
		}
	}
	got, err := do(0x09, 0x00)
	if err != nil {
		return n, err
	}
	var infos obd.PIDSet
	for _, resp := range got {
		if s, err := obd.ParseSupportedInfoTypes(resp); err == nil {
			infos.Merge(s)
		}
	}
	for _, it := range []byte{0x02, 0x04, 0x06, 0x0A, 0x08, 0x0B} {
		if infos.Has(obd.PID(it)) {
			if _, err := do(0x09, it); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

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
		n, err := naiveScan(ctx, a)
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
