package obdsim

import (
	"slices"
	"sync"

	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// OBD service identifiers answered by an ECU.
const (
	svcCurrentData   = 0x01
	svcFreezeFrame   = 0x02
	svcStoredDTCs    = 0x03
	svcClearDTCs     = 0x04
	svcTestResults   = 0x06
	svcPendingDTCs   = 0x07
	svcVehicleInfo   = 0x09
	svcPermanentDTCs = 0x0A

	negativeResponse = 0x7F

	// maxPIDs is how many PIDs one Mode 01 request may carry on CAN.
	maxPIDs = 6
	// maxFreezePairs is how many PID/frame pairs one Mode 02 request may
	// carry on CAN.
	maxFreezePairs = 3
)

// Value names that Mode 04 resets to zero (SAE J1979: distance and time with
// MIL on, and distance, time and warm-ups since codes were cleared).
var clearedValues = []string{
	"distance_with_mil",
	"time_with_mil",
	"distance_since_clear",
	"time_since_clear",
	"warmups_since_clear",
}

// continuousMonitors are tested all the time while the engine runs; Mode 04
// leaves their completion as it is.
var continuousMonitors = map[string]bool{"misfire": true, "fuel_system": true, "components": true}

// ECU is one simulated control unit. Handle is safe for concurrent use; Mode
// 04 changes the ECU's state.
type ECU struct {
	addr      obd.ECU
	ignition  string             // obd.IgnitionSpark or obd.IgnitionCompression
	server    isotp.ServerConfig // latency, flow control and faults; Conn unset
	vin       string             // empty unless this ECU answers Mode 09 02
	pids      []obd.PID          // Mode 01 PIDs with values, without PID 01 and bitmaps
	info      []obd.PID          // Mode 09 infotypes supported, without 00
	infoCache map[obd.PID][]byte // whole responses by infotype
	quirks    Quirks

	mu        sync.Mutex
	mil       bool
	stored    []string
	pending   []string
	permanent []string
	freeze    *FreezeFrame
	ffPIDs    []obd.PID
	readiness map[string]bool // supported monitor -> complete
	live      map[string]float64
	tests     []MonitorTest // Mode 06; nil: no Mode 06
}

// SetLive changes a live value the ECU reports (an obd value name such as
// "engine_speed", in its unit), as a running engine changes it: a test's
// technician presses the pedal. It reports false, changing nothing, when
// the ECU's profile has no such live value.
func (e *ECU) SetLive(name string, v float64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.live[name]; !ok {
		return false
	}
	e.live[name] = v
	return true
}

// Live returns the live value name reports now.
func (e *ECU) Live(name string) (float64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.live[name]
	return v, ok
}

// Address is the ECU's response identifier.
func (e *ECU) Address() obd.ECU { return e.addr }

// Handle answers one OBD request as the ECU would. functional says the
// request was sent to the functional (broadcast) identifier. ok is false when
// the ECU stays silent: a functional request it has nothing to say to, or a
// request it ignores. Physical requests it cannot serve get a negative
// response: 7F sid 11 for an unknown service, 7F sid 12 for PIDs or
// infotypes it does not support and for malformed requests.
func (e *ECU) Handle(req []byte, functional bool) (resp []byte, ok bool) {
	if len(req) == 0 {
		return nil, false
	}
	sid := req[0]
	if (sid == svcCurrentData && len(req) > 2) || (sid == svcFreezeFrame && len(req) > 3) {
		switch e.quirks.Batches {
		case BatchesRefuse:
			return []byte{negativeResponse, sid, obd.NRCIncorrectMessageLength}, true
		case BatchesFirst:
			req = req[:2+int(sid-svcCurrentData)]
		}
	}
	switch {
	case sid == svcFreezeFrame && e.quirks.NoMode02, sid == svcPermanentDTCs && e.quirks.NoMode0A:
		if functional {
			return nil, false
		}
		return []byte{negativeResponse, sid, obd.NRCServiceNotSupported}, true
	case sid == svcTestResults && len(e.tests) == 0:
		if functional {
			return nil, false
		}
		return []byte{negativeResponse, sid, obd.NRCServiceNotSupported}, true
	case sid == svcVehicleInfo && len(req) == 2 && req[1] == 0 && e.quirks.NoInfoTypeList:
		return []byte{negativeResponse, sid, obd.NRCSubFunctionNotSupported}, true
	}
	switch sid {
	case svcCurrentData:
		resp = e.currentData(req[1:])
	case svcFreezeFrame:
		resp = e.freezeFrame(req[1:])
	case svcStoredDTCs, svcPendingDTCs, svcPermanentDTCs:
		resp = e.dtcs(sid, req[1:])
	case svcClearDTCs:
		resp = e.clear(req[1:])
	case svcVehicleInfo:
		resp = e.vehicleInfo(req[1:])
	case svcTestResults:
		resp = e.testResults(req[1:])
	default:
		if functional {
			return nil, false
		}
		return []byte{negativeResponse, sid, obd.NRCServiceNotSupported}, true
	}
	if resp == nil {
		if functional {
			return nil, false
		}
		return []byte{negativeResponse, sid, obd.NRCSubFunctionNotSupported}, true
	}
	return resp, true
}

// currentData answers Mode 01: one record per requested PID the ECU
// supports, in request order; nil when it supports none of them.
func (e *ECU) currentData(pids []byte) []byte {
	if len(pids) == 0 || len(pids) > maxPIDs {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := []byte{0x40 + svcCurrentData}
	for _, b := range pids {
		pid := obd.PID(b)
		var data []byte
		switch {
		case isBitmapPID(pid):
			data = supportedBitmap(pid, e.mode01PIDs())
		case pid == 0x01:
			data = e.monitorStatus()
		case slices.Contains(e.pids, pid):
			data = e.encode(pid, e.live)
		}
		if data != nil {
			resp = append(append(resp, b), data...)
		}
	}
	if len(resp) == 1 {
		return nil
	}
	return resp
}

// mode01PIDs lists every Mode 01 PID the ECU answers except the bitmaps.
func (e *ECU) mode01PIDs() []obd.PID { return append([]obd.PID{0x01}, e.pids...) }

// freezeFrame answers Mode 02 for freeze frame 0: PID 02 is the DTC that
// stored it (0000 when none is stored), the other PIDs come from its values.
func (e *ECU) freezeFrame(pairs []byte) []byte {
	if len(pairs) == 0 || len(pairs)%2 != 0 || len(pairs) > 2*maxFreezePairs {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	supported := append([]obd.PID{0x02}, e.ffPIDs...)
	resp := []byte{0x40 + svcFreezeFrame}
	for i := 0; i < len(pairs); i += 2 {
		pid, frame := obd.PID(pairs[i]), pairs[i+1]
		if frame != 0 {
			continue
		}
		var data []byte
		switch {
		case isBitmapPID(pid):
			data = supportedBitmap(pid, supported)
		case pid == 0x02:
			data = []byte{0, 0}
			if e.freeze != nil {
				if b, err := obd.EncodeDTC(e.freeze.DTC); err == nil {
					data = b[:]
				}
			}
		case e.freeze != nil && slices.Contains(e.ffPIDs, pid):
			data = e.encode(pid, e.freeze.Values)
		}
		if data != nil {
			resp = append(append(resp, byte(pid), frame), data...)
		}
	}
	if len(resp) == 1 {
		return nil
	}
	return resp
}

// dtcs answers Modes 03, 07 and 0A. On CAN an ECU with no codes answers
// with a count of zero.
func (e *ECU) dtcs(sid byte, rest []byte) []byte {
	if len(rest) != 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var codes []string
	switch sid {
	case svcStoredDTCs:
		codes = e.stored
	case svcPendingDTCs:
		codes = e.pending
	case svcPermanentDTCs:
		codes = e.permanent
	}
	resp, err := obd.EncodeDTCResponse(sid, codes)
	if err != nil { // codes were checked by Validate
		return nil
	}
	return resp
}

// clear performs Mode 04: stored and pending DTCs and the freeze frame are
// erased, the MIL goes off, every supported non-continuous monitor becomes
// incomplete, and the distance/time/warm-up counters tied to the codes
// restart from zero. Permanent DTCs stay: only the monitor that set them
// can erase them, on a later drive cycle.
func (e *ECU) clear(rest []byte) []byte {
	if len(rest) != 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stored, e.pending, e.freeze, e.ffPIDs = nil, nil, nil, nil
	e.mil = false
	for m := range e.readiness {
		if !continuousMonitors[m] {
			e.readiness[m] = false
		}
	}
	for _, name := range clearedValues {
		if _, ok := e.live[name]; ok {
			e.live[name] = 0
		}
	}
	for i := range e.tests {
		e.tests[i].Value, e.tests[i].Min, e.tests[i].Max = 0, 0, 0
	}
	return []byte{0x40 + svcClearDTCs}
}

// testResults answers Mode 06: up to six supported-MID bitmaps (00, 20,
// ...), or every test of one MID; nil for a MID the ECU does not have or a
// request mixing both.
func (e *ECU) testResults(mids []byte) []byte {
	if len(mids) == 0 || len(mids) > maxPIDs {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := []byte{0x40 + svcTestResults}
	if !isBitmapPID(obd.PID(mids[0])) {
		if len(mids) != 1 {
			return nil
		}
		for _, t := range e.tests {
			if byte(t.MID) == mids[0] {
				resp = append(resp, obd.EncodeTestResult(obd.MID(t.MID), byte(t.TID), byte(t.UAS), t.Value, t.Min, t.Max)...)
			}
		}
	} else {
		var have []obd.PID
		for _, t := range e.tests {
			have = append(have, obd.PID(t.MID))
		}
		for _, b := range mids {
			if !isBitmapPID(obd.PID(b)) {
				return nil
			}
			if data := supportedBitmap(obd.PID(b), have); data != nil {
				resp = append(append(resp, b), data...)
			}
		}
	}
	if len(resp) == 1 {
		return nil
	}
	return resp
}

// vehicleInfo answers Mode 09 for one infotype.
func (e *ECU) vehicleInfo(rest []byte) []byte {
	if len(rest) != 1 {
		return nil
	}
	if it := obd.PID(rest[0]); it == obd.InfoSupported {
		return append([]byte{0x40 + svcVehicleInfo, byte(it)}, obd.EncodeSupportedInfoTypes(e.info)...)
	}
	return slices.Clone(e.infoCache[obd.PID(rest[0])])
}

// monitorStatus encodes Mode 01 PID 01 from the current state. Called with
// e.mu held.
func (e *ECU) monitorStatus() []byte {
	b, err := obd.EncodeMonitorStatus(statusOf(e.ignition, e.mil, len(e.stored), e.readiness))
	if err != nil { // checked by Validate
		return nil
	}
	return b
}

// encode encodes one PID from values; nil if it cannot (Validate checked
// the profile's values, so this only guards against states Handle cannot
// reach).
func (e *ECU) encode(pid obd.PID, values map[string]float64) []byte {
	b, err := obd.EncodePID(pid, values)
	if err != nil {
		return nil
	}
	return b
}

// isBitmapPID reports whether pid is a supported-PIDs query (00, 20, ..., E0).
func isBitmapPID(pid obd.PID) bool { return pid%0x20 == 0 }

// supportedBitmap answers the supported-PIDs query base for an ECU that
// supports pids (data PIDs only). The ECU answers base 00 always and a
// higher base only when it supports a PID above it; the bit of the next
// bitmap is set when it supports a PID above that one (SAE J1979). It
// returns nil when the ECU does not answer base.
func supportedBitmap(base obd.PID, pids []obd.PID) []byte {
	var set obd.PIDSet
	answers := base == 0
	for _, p := range pids {
		set.Add(p)
		answers = answers || p > base
	}
	if !answers {
		return nil
	}
	return set.Bitmap(base)
}
