// Package scan reads a vehicle's health snapshot over any OBD transport
// (ISO-TP over CAN, an ELM327 adapter): identity, fault codes, readiness,
// freeze frame and live data, with the findings an inspector cares about.
//
// The scan is fast because a technician is standing there: it discovers the
// ECUs and their supported PIDs once, asks for up to six PIDs per request, and
// tells the transport which ECUs will answer each request so that it returns
// as soon as they have. Only discovery waits out the full response window.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrNoVehicle is returned when no ECU answers discovery: the ignition is off,
// the adapter is not plugged in, or the bus is not the vehicle's.
var ErrNoVehicle = errors.New("scan: no ECU answered (ignition off, or not connected?)")

// Options tunes a scan. The zero value is ready to use.
type Options struct {
	// ExpectedVIN is the job's VIN; a different VIN read from the vehicle
	// raises FlagVINMismatch. Empty: not checked.
	ExpectedVIN string
	// Cleared thresholds: codes count as cleared recently when the distance
	// since clear is below ClearedKm (default 50 km) or the warm-ups since
	// clear below ClearedWarmups (default 5).
	ClearedKm      float64
	ClearedWarmups float64
	// Protocol is copied into the snapshot (the transport's description).
	Protocol string
	// Now returns the current time (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.ClearedKm == 0 {
		o.ClearedKm = 50
	}
	if o.ClearedWarmups == 0 {
		o.ClearedWarmups = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// discoveryTries is how often the first 0100 goes out before the scan gives
// up; maxPIDsPerRequest is how many PIDs a Mode 01 request carries on CAN,
// and maxFreezePairs how many PID/frame pairs fit a Mode 02 single frame.
const (
	discoveryTries    = 2
	maxPIDsPerRequest = 6
	maxFreezePairs    = 3
)

// Scan reads a full health snapshot through t.
func Scan(ctx context.Context, t obd.Transport, opts Options) (*Snapshot, error) {
	opts.defaults()
	s := &scanner{t: t, opts: opts, ecus: map[obd.ECU]*ecuState{}}
	start := opts.Now()
	snap := &Snapshot{Protocol: opts.Protocol}
	snap.Stats.Started = start

	if err := s.discover(ctx); err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{
		s.currentData,
		s.troubleCodes,
		s.freezeFrame,
		s.vehicleInfo,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	s.assemble(snap)
	snap.Stats.Duration = opts.Now().Sub(start)
	snap.Stats.Requests = s.requests
	snap.Stats.FullWindow = s.fullWindow
	return snap, nil
}

// ecuState is what the scan learned about one ECU.
type ecuState struct {
	addr      obd.ECU
	pids      obd.PIDSet // Mode 01
	freeze    obd.PIDSet // Mode 02, frame 0
	infoTypes obd.PIDSet // Mode 09
	status    *obd.MonitorStatus
	live      map[obd.PID][]obd.Value
	stored    []obd.DTC
	pending   []obd.DTC
	permanent []obd.DTC
	freezeDTC string
	freezeVal []obd.Value
	vin       string
	name      string
	calids    []string
	cvns      []string
	iupr      *obd.IUPR
}

type scanner struct {
	t          obd.Transport
	opts       Options
	ecus       map[obd.ECU]*ecuState
	requests   int
	fullWindow int
	problems   []string
}

func (s *scanner) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	s.opts.Logger.Warn("scan: " + msg)
}

// do sends one request and returns the positive responses, keyed by ECU.
// Negative responses and malformed answers become problems, not errors: one
// confused ECU must not spoil the snapshot of the others.
func (s *scanner) do(ctx context.Context, data []byte, expect []obd.ECU) (map[obd.ECU][]byte, error) {
	s.requests++
	if len(expect) == 0 {
		s.fullWindow++
	}
	resps, err := s.t.Do(ctx, obd.Request{Data: data, Expect: expect})
	if err != nil && !errors.Is(err, obd.ErrNoResponse) {
		return nil, fmt.Errorf("scan: request % X: %w", data, err)
	}
	out := make(map[obd.ECU][]byte, len(resps))
	answered := make(map[obd.ECU]bool, len(resps))
	for _, r := range resps {
		answered[r.ECU] = true
		if err := obd.CheckResponse(data[0], r.Data); err != nil {
			s.problem("ECU %s answered % X with %v", r.ECU, data, err)
			continue
		}
		if _, dup := out[r.ECU]; dup {
			continue
		}
		out[r.ECU] = r.Data
	}
	for _, e := range expect {
		if !answered[e] {
			s.problem("ECU %s did not answer % X", e, data)
		}
	}
	return out, nil
}

// sorted returns the known ECUs in address order.
func (s *scanner) sorted() []*ecuState {
	out := make([]*ecuState, 0, len(s.ecus))
	for _, e := range s.ecus {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *ecuState) int { return int(a.addr) - int(b.addr) })
	return out
}

// which lists the ECUs for which has is true, in address order.
func (s *scanner) which(has func(*ecuState) bool) []obd.ECU {
	var out []obd.ECU
	for _, e := range s.sorted() {
		if has(e) {
			out = append(out, e.addr)
		}
	}
	return out
}

func (s *scanner) all() []obd.ECU { return s.which(func(*ecuState) bool { return true }) }

// discover finds the ECUs with a functional 0100 (the one request that waits
// out the window) and then their further supported-PID ranges in one request.
func (s *scanner) discover(ctx context.Context) error {
	var got map[obd.ECU][]byte
	// ISO 15765-4 lets the tester repeat the first request: an ECU that
	// is still waking up may miss it.
	for try := 0; try < discoveryTries && len(got) == 0; try++ {
		var err error
		if got, err = s.do(ctx, []byte{0x01, 0x00}, nil); err != nil {
			return err
		}
	}
	for ecu, resp := range got {
		e := &ecuState{addr: ecu, live: map[obd.PID][]obd.Value{}}
		if err := mergeSupported(&e.pids, resp); err != nil {
			s.problem("ECU %s: supported PIDs: %v", ecu, err)
			continue
		}
		s.ecus[ecu] = e
	}
	if len(s.ecus) == 0 {
		return ErrNoVehicle
	}
	// The range PIDs 20, 40, ... C0 in one request; each ECU answers the
	// ones it supports. Ranges beyond C0 would need a second round.
	for base := obd.PID(0x20); ; base += 0xC0 {
		expect := s.which(func(e *ecuState) bool { return e.pids.Has(base) })
		if len(expect) == 0 {
			return nil
		}
		req := []byte{0x01}
		for p := int(base); p <= 0xE0 && len(req) <= maxPIDsPerRequest; p += 0x20 {
			req = append(req, byte(p))
		}
		got, err := s.do(ctx, req, expect)
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			if e := s.ecus[ecu]; e != nil {
				if err := mergeSupported(&e.pids, resp); err != nil {
					s.problem("ECU %s: supported PIDs: %v", ecu, err)
				}
			}
		}
		if base+0xC0 > 0xE0 {
			return nil
		}
	}
}

// mergeSupported adds the supported-PID bitmaps of a Mode 01/02 response
// (one or several ranges) to set.
func mergeSupported(set *obd.PIDSet, resp []byte) error {
	items, err := splitPIDs(resp)
	if err != nil {
		return err
	}
	for _, it := range items {
		if !isRangePID(it.pid) {
			continue
		}
		sup, err := obd.DecodeSupported(it.pid, it.data)
		if err != nil {
			return err
		}
		set.Merge(sup)
	}
	return nil
}

type pidData struct {
	pid  obd.PID
	data []byte
}

// splitPIDs splits a Mode 01 (41 ...) or Mode 02 (42 ...) positive response.
func splitPIDs(resp []byte) ([]pidData, error) {
	var out []pidData
	if len(resp) > 0 && resp[0] == 0x42 {
		items, err := obd.ParseFreezeFrameResponse(resp)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out = append(out, pidData{it.PID, it.Data})
		}
		return out, nil
	}
	data, order, err := obd.ParsePIDResponse(resp)
	if err != nil {
		return nil, err
	}
	for _, p := range order {
		out = append(out, pidData{p, data[p]})
	}
	return out, nil
}

func isRangePID(p obd.PID) bool { return p%0x20 == 0 }

// dataPIDs lists the supported non-range PIDs of set, ascending.
func dataPIDs(set obd.PIDSet) []obd.PID {
	var out []obd.PID
	for _, p := range set.List() {
		if !isRangePID(p) {
			out = append(out, p)
		}
	}
	return out
}

// currentData reads every supported Mode 01 PID of every ECU, six per
// request, each request expecting exactly the ECUs that support one of its
// PIDs.
func (s *scanner) currentData(ctx context.Context) error {
	var union obd.PIDSet
	for _, e := range s.ecus {
		union.Merge(e.pids)
	}
	for _, chunk := range batches(dataPIDs(union), maxPIDsPerRequest) {
		expect := s.which(func(e *ecuState) bool {
			return slices.ContainsFunc(chunk, e.pids.Has)
		})
		req := append([]byte{0x01}, pidBytes(chunk)...)
		got, err := s.do(ctx, req, expect)
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			if e := s.ecus[ecu]; e != nil {
				s.decodeCurrent(e, resp)
			}
		}
	}
	return nil
}

// batches groups PIDs into requests of up to n. A PID the decoder does not
// know goes alone: its length is unknown, so an answer carrying it and
// another PID could not be split.
func batches(pids []obd.PID, n int) [][]obd.PID {
	var out, alone [][]obd.PID
	var cur []obd.PID
	for _, p := range pids {
		if _, known := obd.LookupPID(p); !known {
			alone = append(alone, []obd.PID{p})
			continue
		}
		cur = append(cur, p)
		if len(cur) == n {
			out, cur = append(out, cur), nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return append(out, alone...)
}

func pidBytes(pids []obd.PID) []byte {
	out := make([]byte, len(pids))
	for i, p := range pids {
		out[i] = byte(p)
	}
	return out
}

func (s *scanner) decodeCurrent(e *ecuState, resp []byte) {
	items, err := splitPIDs(resp)
	if err != nil {
		s.problem("ECU %s: current data: %v", e.addr, err)
		return
	}
	for _, it := range items {
		if it.pid == 0x01 {
			st, err := obd.DecodeMonitorStatus(it.data)
			if err != nil {
				s.problem("ECU %s: monitor status: %v", e.addr, err)
				continue
			}
			e.status = &st
			continue
		}
		vals, err := obd.DecodePID(it.pid, it.data)
		if err != nil {
			s.problem("ECU %s: PID %02X: %v", e.addr, byte(it.pid), err)
			continue
		}
		e.live[it.pid] = vals
	}
}

// troubleCodes reads stored (03), pending (07) and permanent (0A) DTCs. On
// CAN every emission-related ECU answers these, with a count of zero when it
// has none.
func (s *scanner) troubleCodes(ctx context.Context) error {
	for _, svc := range []byte{0x03, 0x07, 0x0A} {
		got, err := s.do(ctx, []byte{svc}, s.all())
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			e := s.ecus[ecu]
			if e == nil {
				continue
			}
			dtcs, err := obd.ParseDTCs(resp)
			if err != nil {
				s.problem("ECU %s: service %02X: %v", ecu, svc, err)
				continue
			}
			switch svc {
			case 0x03:
				e.stored = dtcs
			case 0x07:
				e.pending = dtcs
			case 0x0A:
				e.permanent = dtcs
			}
		}
	}
	return nil
}

// freezeFrame reads frame 0 from the ECUs that stored one: those whose PID 02
// names a DTC or, when PID 02 is not supported, those with stored DTCs.
func (s *scanner) freezeFrame(ctx context.Context) error {
	expect := s.which(func(e *ecuState) bool {
		if v, ok := e.live[0x02]; ok {
			return len(v) > 0 && v[0].Value != 0
		}
		return len(e.stored) > 0
	})
	if len(expect) == 0 {
		return nil
	}
	// Supported PIDs of frame 0 and the DTC that stored it, in one request.
	got, err := s.do(ctx, []byte{0x02, 0x00, 0x00, 0x02, 0x00}, expect)
	if err != nil {
		return err
	}
	for ecu, resp := range got {
		e := s.ecus[ecu]
		if e == nil {
			continue
		}
		if err := mergeSupported(&e.freeze, resp); err != nil {
			s.problem("ECU %s: freeze frame PIDs: %v", ecu, err)
			continue
		}
		s.decodeFreeze(e, resp)
	}
	for base := obd.PID(0x20); base <= 0xE0; base += 0x20 {
		expect := s.which(func(e *ecuState) bool { return e.freeze.Has(base) })
		if len(expect) == 0 {
			break
		}
		got, err := s.do(ctx, []byte{0x02, byte(base), 0x00}, expect)
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			if e := s.ecus[ecu]; e != nil {
				if err := mergeSupported(&e.freeze, resp); err != nil {
					s.problem("ECU %s: freeze frame PIDs: %v", ecu, err)
				}
			}
		}
	}
	var union obd.PIDSet
	for _, e := range s.ecus {
		union.Merge(e.freeze)
	}
	pids := slices.DeleteFunc(dataPIDs(union), func(p obd.PID) bool { return p == 0x02 })
	for _, chunk := range batches(pids, maxFreezePairs) {
		expect := s.which(func(e *ecuState) bool { return slices.ContainsFunc(chunk, e.freeze.Has) })
		req := []byte{0x02}
		for _, p := range chunk {
			req = append(req, byte(p), 0x00)
		}
		got, err := s.do(ctx, req, expect)
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			if e := s.ecus[ecu]; e != nil {
				s.decodeFreeze(e, resp)
			}
		}
	}
	return nil
}

func (s *scanner) decodeFreeze(e *ecuState, resp []byte) {
	items, err := obd.ParseFreezeFrameResponse(resp)
	if err != nil {
		s.problem("ECU %s: freeze frame: %v", e.addr, err)
		return
	}
	for _, it := range items {
		if isRangePID(it.PID) || it.Frame != 0 {
			continue
		}
		if it.PID == 0x02 {
			if len(it.Data) == 2 && (it.Data[0] != 0 || it.Data[1] != 0) {
				e.freezeDTC = obd.DecodeDTC(it.Data[0], it.Data[1])
			}
			continue
		}
		vals, err := obd.DecodePID(it.PID, it.Data)
		if err != nil {
			s.problem("ECU %s: freeze frame PID %02X: %v", e.addr, byte(it.PID), err)
			continue
		}
		e.freezeVal = append(e.freezeVal, vals...)
	}
}

// vehicleInfo reads Mode 09: supported InfoTypes, then each InfoType the scan
// needs from exactly the ECUs that support it (one InfoType per request, as
// ISO 15765-4 requires).
func (s *scanner) vehicleInfo(ctx context.Context) error {
	got, err := s.do(ctx, []byte{0x09, 0x00}, s.all())
	if err != nil {
		return err
	}
	for ecu, resp := range got {
		if e := s.ecus[ecu]; e != nil {
			set, err := obd.ParseSupportedInfoTypes(resp)
			if err != nil {
				s.problem("ECU %s: supported InfoTypes: %v", ecu, err)
				continue
			}
			e.infoTypes = set
		}
	}
	for _, it := range []obd.PID{0x02, 0x04, 0x06, 0x0A, 0x08, 0x0B} {
		expect := s.which(func(e *ecuState) bool { return e.infoTypes.Has(it) })
		if len(expect) == 0 {
			continue
		}
		got, err := s.do(ctx, []byte{0x09, byte(it)}, expect)
		if err != nil {
			return err
		}
		for ecu, resp := range got {
			e := s.ecus[ecu]
			if e == nil {
				continue
			}
			if err := decodeInfo(e, it, resp); err != nil {
				s.problem("ECU %s: InfoType %02X: %v", ecu, byte(it), err)
			}
		}
	}
	return nil
}

func decodeInfo(e *ecuState, it obd.PID, resp []byte) error {
	var err error
	switch it {
	case 0x02:
		e.vin, err = obd.ParseVIN(resp)
	case 0x04:
		e.calids, err = obd.ParseCALIDs(resp)
	case 0x06:
		e.cvns, err = obd.ParseCVNs(resp)
	case 0x0A:
		var name obd.ECUName
		name, err = obd.ParseECUName(resp)
		e.name = name.String()
	case 0x08, 0x0B:
		var iupr obd.IUPR
		iupr, err = obd.ParseIUPR(resp)
		if err == nil {
			e.iupr = &iupr
		}
	}
	return err
}
