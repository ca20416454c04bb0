// Package findings says what a health snapshot means for the car.
//
// It gives the I/M pre-check verdict for the OBD part of an emission
// inspection, and each finding with what to do next.
//
// # The pre-check verdict
//
// An inspection station (I station) reads the vehicle's OBD before the
// tailpipe test and fails or sends back a car for what it finds there.
// Evaluate applies the same checks to a snapshot taken at the bay, so that
// the technician knows before the car leaves. Each check has an Effect set
// by the rule set (Rules, the precheck section of the agent's
// configuration): fail, not_ready (the monitors have not run: the car
// would be sent back to drive, not failed), advise (shown, no effect) or
// off. The verdict is the strongest effect of the findings raised: fail,
// else not_ready, else pass; its reasons are the codes of the findings
// that decided it.
//
// The checks, with the default effects (DefaultRules):
//
//	no_communication      fail       no ECU answered the scan
//	mil_on                fail       the MIL is commanded on
//	permanent_dtcs        not_ready  permanent codes stored (the monitor must pass again)
//	readiness_incomplete  not_ready  more incomplete monitors than allowed (0; exemptions configurable)
//	vin_mismatch          fail       the vehicle's VIN differs from the job's
//	vin_missing           advise     no VIN, or one whose check digit fails
//	scr_inducement        fail       a J1939 SCR operator inducement code is active (engine derated)
//
// The defaults follow what public station software records for the OBD
// check (communication, MIL, DTCs, readiness, VIN; see DOMAIN.md section
// 2); how many incomplete monitors a province tolerates, and whether it
// fails or re-tests for permanent codes, differ and are not settled here
// (unverified): that is why every effect and the readiness allowance are
// configuration.
//
// Beside the checks, findings that never change the verdict explain the
// snapshot: codes cleared recently (the scan's flag, with the distance,
// warm-ups and time since the clear), pending codes, confirmed codes
// without the MIL, a J1939 controller's red stop, amber warning and protect
// lamps, active reagent/NOx control codes (SCRSPNs) that lead to an
// inducement, an inducement that was active before (DM2), and answers the
// scan could not use.
//
// # Counters
//
// The since-clear and MIL-on counters saturate: PID 30 (warm-ups) counts
// to 255, the distance and time PIDs to 65535. A saturated value means
// "this many or more" (Counter.Saturated), which is how it is shown.
//
// # Text
//
// A Finding carries a stable code and its data (codes, monitors,
// counters), never a sentence: the sentence and what to do next come from
// the agent's message catalogue in the reader's language.
package findings

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Verdict is the outcome of the pre-check.
type Verdict string

// Verdicts.
const (
	Pass     Verdict = "pass"
	Fail     Verdict = "fail"
	NotReady Verdict = "not_ready"
)

// Code names a finding. The codes are stable: receivers and the message
// catalogue key on them.
type Code string

// Finding codes.
const (
	NoCommunication      Code = "no_communication"
	MILOn                Code = "mil_on"
	PermanentDTCs        Code = "permanent_dtcs"
	ReadinessIncomplete  Code = "readiness_incomplete"
	VINMismatch          Code = "vin_mismatch"
	VINMissing           Code = "vin_missing"
	VINInvalid           Code = "vin_invalid"
	SCRInducement        Code = "scr_inducement"
	CodesClearedRecently Code = "codes_cleared_recently"
	PendingDTCs          Code = "pending_dtcs"
	StoredDTCsNoMIL      Code = "stored_dtcs_without_mil"
	RedStopLamp          Code = "red_stop_lamp"
	AmberWarningLamp     Code = "amber_warning_lamp"
	ProtectLamp          Code = "protect_lamp"
	SCRFault             Code = "scr_fault"
	SCRInducementBefore  Code = "scr_inducement_previously"
	ScanIncomplete       Code = "scan_incomplete"
)

// Codes lists every finding code, in the order findings of the same effect
// and severity are listed.
func Codes() []Code {
	return []Code{
		NoCommunication, MILOn, SCRInducement, VINMismatch, PermanentDTCs, ReadinessIncomplete,
		CodesClearedRecently, RedStopLamp, AmberWarningLamp, ProtectLamp, SCRFault, VINMissing, VINInvalid,
		StoredDTCsNoMIL, PendingDTCs, SCRInducementBefore, ScanIncomplete,
	}
}

// Severity is how urgent a finding is for the technician, apart from the
// verdict: a red stop lamp is critical although no inspection checks it.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Finding is one thing the snapshot shows, with the data its message
// needs. Only the fields of its code are set.
type Finding struct {
	Code     Code     `json:"code"`
	Effect   Effect   `json:"effect"`
	Severity Severity `json:"severity"`
	// DTCs are the codes concerned ("P0420", "SPN 5246 FMI 0").
	DTCs []string `json:"dtcs,omitempty"`
	// ECUs are the control units concerned, by address.
	ECUs []string `json:"ecus,omitempty"`
	// Monitors are readiness monitor names (obd.Monitor.Name).
	Monitors []string `json:"monitors,omitempty"`
	// Counters are the distance, time and warm-up counters that explain
	// the finding.
	Counters []Counter `json:"counters,omitempty"`
	// VIN read from the vehicle, and the job's (vin_mismatch).
	VIN         string `json:"vin,omitempty"`
	ExpectedVIN string `json:"expected_vin,omitempty"`
	// Count is a number the message gives (readiness: how many monitors
	// are allowed to be incomplete; scan_incomplete: unusable answers).
	Count int `json:"count,omitempty"`
}

// Counter is one of the snapshot's counters.
type Counter struct {
	// Name is the obd.Value name: distance_since_clear, time_since_clear,
	// warmups_since_clear, distance_with_mil, time_with_mil.
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"` // km, min, or "" for warm-ups
	// Saturated: the counter is at its maximum, so the true value is
	// Value or more.
	Saturated bool `json:"saturated,omitempty"`
}

// Counter names and the largest value each PID can carry.
var counterMax = map[string]float64{
	"warmups_since_clear":  255,   // PID 30, one byte
	"distance_since_clear": 65535, // PID 31
	"time_since_clear":     65535, // PID 4E
	"distance_with_mil":    65535, // PID 21
	"time_with_mil":        65535, // PID 4D
}

// NewCounter returns the counter, saturated when value is at the most its
// PID can carry.
func NewCounter(name string, value float64, unit string) Counter {
	max, ok := counterMax[name]
	return Counter{Name: name, Value: value, Unit: unit, Saturated: ok && value >= max}
}

// Result is the pre-check verdict with its reasons, and every finding.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Reasons are the codes of the findings whose effect decided the
	// verdict (empty for pass).
	Reasons  []Code    `json:"reasons"`
	Findings []Finding `json:"findings"`
}

// Has reports whether the result holds a finding with the code.
func (r Result) Has(c Code) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Code == c })
}

// Find returns the finding with the code.
func (r Result) Find(c Code) (Finding, bool) {
	i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == c })
	if i < 0 {
		return Finding{}, false
	}
	return r.Findings[i], true
}

// Evaluate applies the rules to a snapshot. expectedVIN is the job's VIN
// ("" when there is no job, or the job has none): a different VIN read
// from the vehicle is a vin_mismatch, as is the snapshot's own
// vin_mismatch flag.
func Evaluate(s *scan.Snapshot, r Rules, expectedVIN string) Result {
	if s == nil {
		return NoAnswer(r)
	}
	e := evaluator{r: r}
	e.mil(s)
	e.permanent(s)
	e.readiness(s)
	e.vin(s, expectedVIN)
	e.j1939(s)
	e.cleared(s)
	e.otherCodes(s)
	if len(s.Problems) > 0 {
		e.add(Finding{Code: ScanIncomplete, Severity: Info, Count: len(s.Problems)}, EffectAdvise)
	}
	return e.result()
}

// NoAnswer is the result for a vehicle that did not answer a scan at all.
func NoAnswer(r Rules) Result {
	e := evaluator{r: r}
	e.add(Finding{Code: NoCommunication, Severity: Critical}, r.NoCommunication)
	return e.result()
}

type evaluator struct {
	r   Rules
	out []Finding
}

// add raises f with effect e, unless the rule is off.
func (e *evaluator) add(f Finding, effect Effect) {
	if effect == EffectOff || effect == "" {
		return
	}
	f.Effect = effect
	e.out = append(e.out, f)
}

func (e *evaluator) mil(s *scan.Snapshot) {
	if !s.MIL {
		return
	}
	f := Finding{Code: MILOn, Severity: Critical}
	for _, ecu := range s.ECUs {
		if ecu.MIL {
			f.ECUs = append(f.ECUs, ecu.Address.String())
			f.DTCs = appendCodes(f.DTCs, ecu.Stored)
		}
	}
	f.Counters = counters(s, "distance_with_mil", "time_with_mil")
	e.add(f, e.r.MILOn)
}

func (e *evaluator) permanent(s *scan.Snapshot) {
	var codes []string
	for _, ecu := range s.ECUs {
		codes = appendCodes(codes, ecu.Permanent)
	}
	if len(codes) > 0 {
		e.add(Finding{Code: PermanentDTCs, Severity: Warning, DTCs: codes}, e.r.PermanentDTCs)
	}
}

func (e *evaluator) readiness(s *scan.Snapshot) {
	var incomplete []string
	for _, m := range s.Readiness {
		if m.Supported && !m.Complete && !slices.Contains(e.r.ReadinessExempt, m.Name) {
			incomplete = append(incomplete, m.Name)
		}
	}
	if len(incomplete) == 0 {
		return
	}
	effect := e.r.Readiness
	if len(incomplete) <= e.r.ReadinessAllowed && effect != EffectOff {
		effect = EffectAdvise
	}
	e.add(Finding{Code: ReadinessIncomplete, Severity: Warning, Monitors: incomplete, Count: e.r.ReadinessAllowed}, effect)
}

func (e *evaluator) vin(s *scan.Snapshot, expected string) {
	switch {
	case s.VIN == "":
		e.add(Finding{Code: VINMissing, Severity: Warning}, e.r.VINMissing)
		return
	case !s.VINValid:
		e.add(Finding{Code: VINInvalid, Severity: Warning, VIN: s.VIN}, e.r.VINMissing)
	}
	mismatch := expected != "" && !strings.EqualFold(expected, s.VIN)
	if mismatch || s.HasFlag(scan.FlagVINMismatch) {
		e.add(Finding{Code: VINMismatch, Severity: Critical, VIN: s.VIN, ExpectedVIN: expected}, e.r.VINMismatch)
	}
}

// j1939 raises the lamps and the SCR codes of J1939 controllers.
func (e *evaluator) j1939(s *scan.Snapshot) {
	lamps := []struct {
		code Code
		sev  Severity
		on   func(*scan.Lamps) bool
	}{
		{RedStopLamp, Critical, func(l *scan.Lamps) bool { return l.RedStop == scan.LampOn }},
		{AmberWarningLamp, Warning, func(l *scan.Lamps) bool { return l.AmberWarning == scan.LampOn }},
		{ProtectLamp, Warning, func(l *scan.Lamps) bool { return l.Protect == scan.LampOn }},
	}
	for _, l := range lamps {
		f := Finding{Code: l.code, Severity: l.sev}
		for _, ecu := range s.ECUs {
			if ecu.Lamps != nil && l.on(ecu.Lamps) {
				f.ECUs = append(f.ECUs, ecu.Address.String())
			}
		}
		if len(f.ECUs) > 0 {
			e.add(f, EffectAdvise)
		}
	}
	pick := func(spns []uint32, previous bool) Finding {
		var f Finding
		for _, ecu := range s.ECUs {
			list := ecu.Stored
			if previous {
				list = ecu.Previous
			}
			found := false
			for _, d := range list {
				if d.J1939.SPN != 0 && slices.Contains(spns, d.J1939.SPN) {
					f.DTCs = append(f.DTCs, d.Code)
					found = true
				}
			}
			if found {
				f.ECUs = append(f.ECUs, ecu.Address.String())
			}
		}
		return f
	}
	if f := pick(e.r.InducementSPNs, false); len(f.DTCs) > 0 {
		f.Code, f.Severity = SCRInducement, Critical
		e.add(f, e.r.Inducement)
	} else if f := pick(e.r.InducementSPNs, true); len(f.DTCs) > 0 {
		f.Code, f.Severity = SCRInducementBefore, Info
		e.add(f, EffectAdvise)
	}
	if f := pick(e.r.SCRSPNs, false); len(f.DTCs) > 0 {
		f.Code, f.Severity = SCRFault, Warning
		e.add(f, EffectAdvise)
	}
}

// cleared explains the scan's codes_cleared_recently flag with the
// counters that raised it.
func (e *evaluator) cleared(s *scan.Snapshot) {
	if !s.HasFlag(scan.FlagCodesClearedRecent) {
		return
	}
	f := Finding{Code: CodesClearedRecently, Severity: Warning,
		Counters: counters(s, "distance_since_clear", "warmups_since_clear", "time_since_clear")}
	e.add(f, EffectAdvise)
}

// otherCodes raises pending codes, and confirmed codes of ECUs whose MIL is
// off (not emission related, or not yet lighting the lamp).
func (e *evaluator) otherCodes(s *scan.Snapshot) {
	var pending, quiet []string
	for _, ecu := range s.ECUs {
		pending = appendCodes(pending, ecu.Pending)
		if !ecu.MIL {
			quiet = appendCodes(quiet, ecu.Stored)
		}
	}
	if len(quiet) > 0 {
		e.add(Finding{Code: StoredDTCsNoMIL, Severity: Warning, DTCs: quiet}, EffectAdvise)
	}
	if len(pending) > 0 {
		e.add(Finding{Code: PendingDTCs, Severity: Info, DTCs: pending}, EffectAdvise)
	}
}

func appendCodes(out []string, dtcs []obd.DTC) []string {
	for _, d := range dtcs {
		if !slices.Contains(out, d.Code) {
			out = append(out, d.Code)
		}
	}
	return out
}

// counters returns the snapshot's counters of these names that it has.
func counters(s *scan.Snapshot, names ...string) []Counter {
	var out []Counter
	for _, n := range names {
		var v *float64
		unit := ""
		switch n {
		case "distance_since_clear":
			v, unit = s.DistanceSinceClear, "km"
		case "time_since_clear":
			v, unit = s.TimeSinceClear, "min"
		case "warmups_since_clear":
			v = s.WarmupsSinceClear
		case "distance_with_mil":
			v, unit = s.DistanceWithMIL, "km"
		case "time_with_mil":
			v, unit = s.TimeWithMIL, "min"
		default:
			panic(fmt.Sprintf("findings: no counter %q", n))
		}
		if v != nil {
			out = append(out, NewCounter(n, *v, unit))
		}
	}
	return out
}

var effectRank = map[Effect]int{EffectFail: 0, EffectNotReady: 1, EffectAdvise: 2}
var severityRank = map[Severity]int{Critical: 0, Warning: 1, Info: 2}

// result orders the findings (effect, severity, then the order of Codes)
// and decides the verdict.
func (e *evaluator) result() Result {
	order := map[Code]int{}
	for i, c := range Codes() {
		order[c] = i
	}
	slices.SortStableFunc(e.out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(effectRank[a.Effect], effectRank[b.Effect]),
			cmp.Compare(severityRank[a.Severity], severityRank[b.Severity]),
			cmp.Compare(order[a.Code], order[b.Code]),
		)
	})
	res := Result{Verdict: Pass, Reasons: []Code{}, Findings: e.out}
	if res.Findings == nil {
		res.Findings = []Finding{}
	}
	for _, want := range []struct {
		effect  Effect
		verdict Verdict
	}{{EffectFail, Fail}, {EffectNotReady, NotReady}} {
		for _, f := range res.Findings {
			if f.Effect == want.effect {
				res.Reasons = append(res.Reasons, f.Code)
			}
		}
		if len(res.Reasons) > 0 {
			res.Verdict = want.verdict
			break
		}
	}
	return res
}
