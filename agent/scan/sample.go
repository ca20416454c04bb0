package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Values is what one ECU answered in one live sample.
type Values struct {
	ECU    obd.ECU
	Values []obd.Value
}

// Sample reads pids once from ecus through t for the live feed: as many PIDs
// per request as the session allows (six on CAN, one on a K-line or J1850
// vehicle or through an adapter or ECU that does not batch), each request
// expecting exactly ecus. The PIDs a request with several did not bring back
// are asked again one at a time, and when that works the session learns who
// does not batch, as a scan would: the next sample wastes no request. The
// result is in address order, each ECU's values in the order of pids; the
// error joins what the requests that brought nothing said.
func Sample(ctx context.Context, t obd.Transport, sess *Session, ecus []obd.ECU, pids []obd.PID) ([]Values, error) {
	if sess == nil {
		sess = &Session{}
	}
	got := map[obd.ECU]map[obd.PID][]obd.Value{}
	var errs []error
	// ask sends one request and keeps what it brought; it reports which
	// ECUs answered (positively or not), and the transport's error when
	// none did.
	ask := func(chunk []obd.PID) (answered []obd.ECU, failed error) {
		resps, err := t.Do(ctx, obd.Request{Data: append([]byte{0x01}, pidBytes(chunk)...), Expect: ecus})
		for _, r := range resps {
			if !slices.Contains(ecus, r.ECU) {
				continue
			}
			answered = append(answered, r.ECU)
			if obd.CheckResponse(0x01, r.Data) != nil {
				continue // refused: the error the caller sees is the missing value
			}
			data, order, perr := obd.ParsePIDResponse(r.Data)
			if perr != nil {
				errs = append(errs, fmt.Errorf("ECU %s: %w", r.ECU, perr))
				continue
			}
			for _, p := range order {
				if !slices.Contains(chunk, p) {
					continue // a late answer to an earlier request
				}
				vals, derr := obd.DecodePID(p, data[p])
				if derr != nil {
					errs = append(errs, fmt.Errorf("ECU %s: PID %s: %w", r.ECU, p, derr))
					continue
				}
				if got[r.ECU] == nil {
					got[r.ECU] = map[obd.PID][]obd.Value{}
				}
				got[r.ECU][p] = vals
			}
		}
		if len(answered) == 0 {
			failed = fmt.Errorf("01 %X: %w", pidBytes(chunk), cmp.Or(err, obd.ErrNoResponse))
		}
		return answered, failed
	}
	has := func(p obd.PID) bool {
		for _, m := range got {
			if _, ok := m[p]; ok {
				return true
			}
		}
		return false
	}
	for _, chunk := range batches(pids, sess.perRequest(t, ecus, maxPIDsPerRequest)) {
		answered, err := ask(chunk)
		if ctx.Err() != nil {
			break
		}
		missing := slices.DeleteFunc(slices.Clone(chunk), has)
		if len(chunk) == 1 || len(missing) == 0 {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, p := range missing {
			one, err := ask([]obd.PID{p})
			if !has(p) {
				if err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if len(answered) == 0 {
				sess.noBatch(NoBatchAdapter)
				continue
			}
			for _, e := range one {
				if slices.Contains(answered, e) {
					sess.noBatchECU(e, "answered part of a live sample")
				}
			}
		}
	}
	out := make([]Values, 0, len(got))
	for _, ecu := range sortedKeys(got) {
		v := Values{ECU: ecu}
		for _, p := range pids {
			v.Values = append(v.Values, got[ecu][p]...)
		}
		out = append(out, v)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, errors.Join(errs...)
}
