// Package scantest holds what tests and benchmarks of scans share.
//
// It has the naive baseline the fast strategy is measured against, and the
// path-independent facts two snapshots of one vehicle must agree on.
package scantest

import (
	"context"
	"errors"

	"github.com/bayagent/bayagent/drivers/obd"
)

// NaiveScan reads what scan.Scan reads (Mode 06 included) the way a simple
// tool does: one PID per request, never telling the transport who will answer, so that every
// request waits out the full response window (P2 on CAN, the adapter's
// timeout on an ELM327). It is the baseline of the scan benchmarks and
// returns the number of requests it sent.
func NaiveScan(ctx context.Context, t obd.Transport) (int, error) {
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
	// supported follows the chain of supported-PID ranges one request at a
	// time; service 2 requests carry frame 0.
	supported := func(svc byte) (obd.PIDSet, error) {
		var set obd.PIDSet
		for base := 0; base <= 0xE0; base += 0x20 {
			if base > 0 && !set.Has(obd.PID(base)) {
				break
			}
			req := []byte{svc, byte(base)}
			if svc == 0x02 {
				req = append(req, 0)
			}
			got, err := do(req...)
			if err != nil {
				return set, err
			}
			for _, resp := range got {
				off := 2
				if svc == 0x02 {
					off = 3
				}
				if len(resp) >= off+4 {
					s, err := obd.DecodeSupported(obd.PID(base), resp[off:off+4])
					if err == nil {
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
	mode6, err := supported(0x06)
	if err != nil {
		return n, err
	}
	for _, mid := range mode6.List() {
		if mid%0x20 != 0 {
			if _, err := do(0x06, byte(mid)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
