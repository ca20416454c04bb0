package job

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// The scan, emission, emission_test and dtc_clear bodies carry what
// drivers (and package emission) report. Their JSON, in records and in job
// files alike, is the evidence format of package record (record.ScanBody,
// record.EmissionBody, record.EmissionTestBody, record.DTCClearBody),
// mapped here field by field from and to the
// drivers' structs: a driver that renames a field breaks this file's
// build, never the format of the records.

// MarshalJSON writes b as a record.ScanBody.
func (b ScanBody) MarshalJSON() ([]byte, error) { return json.Marshal(b.Evidence()) }

// UnmarshalJSON reads a record.ScanBody.
func (b *ScanBody) UnmarshalJSON(data []byte) error {
	var e record.ScanBody
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	s, err := scanFromEvidence(e)
	if err == nil {
		*b = s
	}
	return err
}

// Evidence is b in the evidence format.
func (b ScanBody) Evidence() record.ScanBody {
	e := record.ScanBody{N: b.N, At: b.At, Bay: b.Bay, Phase: string(b.Phase), VINAdopted: b.VINAdopted,
		VINMismatch: b.VINMismatch, Snapshot: snapshotEvidence(b.Snapshot)}
	if f := b.Findings; f != nil {
		e.Findings = findingsEvidence(*f)
	}
	return e
}

func scanFromEvidence(e record.ScanBody) (ScanBody, error) {
	snap, err := snapshotFromEvidence(e.Snapshot)
	b := ScanBody{N: e.N, At: e.At, Bay: e.Bay, Phase: Phase(e.Phase), VINAdopted: e.VINAdopted,
		VINMismatch: e.VINMismatch, Snapshot: snap}
	if e.Findings != nil {
		f := findingsFromEvidence(*e.Findings)
		b.Findings = &f
	}
	return b, err
}

func snapshotEvidence(s scan.Snapshot) record.Snapshot {
	e := record.Snapshot{
		Protocol: s.Protocol, VIN: s.VIN, VINValid: s.VINValid, VINProblem: s.VINProblem, MIL: s.MIL, DTCCount: s.DTCCount,
		DTCs:     record.DTCCounts{Stored: s.DTCs.Stored, Pending: s.DTCs.Pending, Permanent: s.DTCs.Permanent, Previous: s.DTCs.Previous},
		Ignition: s.Ignition, OBDStandard: s.OBDStandard, Readiness: mapSlice(s.Readiness, monitorEvidence),
		ECUs: mapSlice(s.ECUs, ecuEvidence), Odometer: s.Odometer, DistanceWithMIL: s.DistanceWithMIL,
		TimeWithMIL: s.TimeWithMIL, DistanceSinceClear: s.DistanceSinceClear, TimeSinceClear: s.TimeSinceClear,
		WarmupsSinceClear: s.WarmupsSinceClear,
		Flags:             mapSlice(s.Flags, func(f scan.Flag) record.Flag { return record.Flag{Code: f.Code, Message: f.Message} }),
		Problems:          s.Problems,
		Stats: record.ScanStats{Started: s.Stats.Started, DurationNS: int64(s.Stats.Duration), SetupNS: int64(s.Stats.Setup),
			Requests: s.Stats.Requests, FullWindow: s.Stats.FullWindow, Retried: s.Stats.Retried,
			MaxPerRequest: s.Stats.MaxPerRequest, NoBatch: s.Stats.NoBatch, NoBatchECUs: mapSlice(s.Stats.NoBatchECUs, obd.ECU.String)},
	}
	if f := s.FreezeFrame; f != nil {
		e.FreezeFrame = &record.FreezeFrame{ECU: f.ECU.String(), DTC: dtcEvidence(f.DTC), Values: mapSlice(f.Values, valueEvidence)}
	}
	return e
}

func snapshotFromEvidence(e record.Snapshot) (scan.Snapshot, error) {
	var errs []error
	ecu := func(s string) obd.ECU {
		var a obd.ECU
		if err := a.UnmarshalText([]byte(s)); err != nil {
			errs = append(errs, err)
		}
		return a
	}
	s := scan.Snapshot{
		Protocol: e.Protocol, VIN: e.VIN, VINValid: e.VINValid, VINProblem: e.VINProblem, MIL: e.MIL, DTCCount: e.DTCCount,
		DTCs:     scan.DTCCounts{Stored: e.DTCs.Stored, Pending: e.DTCs.Pending, Permanent: e.DTCs.Permanent, Previous: e.DTCs.Previous},
		Ignition: e.Ignition, OBDStandard: e.OBDStandard, Readiness: mapSlice(e.Readiness, monitorFromEvidence),
		ECUs:     mapSlice(e.ECUs, func(r record.ECUReport) scan.ECU { return ecuFromEvidence(r, ecu) }),
		Odometer: e.Odometer, DistanceWithMIL: e.DistanceWithMIL, TimeWithMIL: e.TimeWithMIL,
		DistanceSinceClear: e.DistanceSinceClear, TimeSinceClear: e.TimeSinceClear, WarmupsSinceClear: e.WarmupsSinceClear,
		Flags:    mapSlice(e.Flags, func(f record.Flag) scan.Flag { return scan.Flag{Code: f.Code, Message: f.Message} }),
		Problems: e.Problems,
		Stats: scan.Stats{Started: e.Stats.Started, Duration: time.Duration(e.Stats.DurationNS), Setup: time.Duration(e.Stats.SetupNS),
			Requests: e.Stats.Requests, FullWindow: e.Stats.FullWindow, Retried: e.Stats.Retried,
			MaxPerRequest: e.Stats.MaxPerRequest, NoBatch: e.Stats.NoBatch, NoBatchECUs: mapSlice(e.Stats.NoBatchECUs, ecu)},
	}
	if f := e.FreezeFrame; f != nil {
		s.FreezeFrame = &scan.FreezeFrame{ECU: ecu(f.ECU), DTC: dtcFromEvidence(f.DTC), Values: mapSlice(f.Values, valueFromEvidence)}
	}
	if len(errs) > 0 {
		return s, fmt.Errorf("job: scan body: %w", errs[0])
	}
	return s, nil
}

func monitorEvidence(m obd.Monitor) record.Monitor {
	return record.Monitor{Name: m.Name, Label: m.Label, Supported: m.Supported, Complete: m.Complete, Code: m.Code}
}

func monitorFromEvidence(m record.Monitor) obd.Monitor {
	return obd.Monitor{Name: m.Name, Label: m.Label, Supported: m.Supported, Complete: m.Complete, Code: m.Code}
}

func ecuEvidence(u scan.ECU) record.ECUReport {
	e := record.ECUReport{
		Address: u.Address.String(), Name: u.Name, CALIDs: u.CALIDs, CVNs: u.CVNs, MIL: u.MIL, DTCCount: u.DTCCount,
		Ignition: u.Ignition, Readiness: mapSlice(u.Readiness, monitorEvidence),
		Stored: mapSlice(u.Stored, dtcEvidence), Pending: mapSlice(u.Pending, dtcEvidence),
		Permanent: mapSlice(u.Permanent, dtcEvidence), Previous: mapSlice(u.Previous, dtcEvidence),
		SupportedPIDs: u.SupportedPIDs, Live: mapSlice(u.Live, valueEvidence),
		Tests: mapSlice(u.Tests, func(r obd.TestResult) record.TestResult {
			return record.TestResult{MID: int(r.MID), TID: int(r.TID), UASID: int(r.UASID), Value: r.Value, Min: r.Min, Max: r.Max,
				Unit: r.Unit, Pass: r.Pass, NotRun: r.NotRun, Margin: r.Margin}
		}),
	}
	if i := u.IUPR; i != nil {
		e.IUPR = &record.IUPR{Ignition: i.Ignition, OBDCond: i.OBDCond, IgnCntr: i.IgnCntr,
			Monitors: mapSlice(i.Monitors, func(m obd.MonitorRatio) record.MonitorRatio {
				return record.MonitorRatio{Name: m.Name, Label: m.Label, Numerator: m.Numerator, Denominator: m.Denominator, Ratio: m.Ratio}
			})}
	}
	if l := u.Lamps; l != nil {
		e.Lamps = &record.Lamps{MIL: l.MIL, RedStop: l.RedStop, AmberWarning: l.AmberWarning, Protect: l.Protect}
	}
	return e
}

func ecuFromEvidence(e record.ECUReport, ecu func(string) obd.ECU) scan.ECU {
	u := scan.ECU{
		Address: ecu(e.Address), Name: e.Name, CALIDs: e.CALIDs, CVNs: e.CVNs, MIL: e.MIL, DTCCount: e.DTCCount,
		Ignition: e.Ignition, Readiness: mapSlice(e.Readiness, monitorFromEvidence),
		Stored: mapSlice(e.Stored, dtcFromEvidence), Pending: mapSlice(e.Pending, dtcFromEvidence),
		Permanent: mapSlice(e.Permanent, dtcFromEvidence), Previous: mapSlice(e.Previous, dtcFromEvidence),
		SupportedPIDs: e.SupportedPIDs, Live: mapSlice(e.Live, valueFromEvidence),
		Tests: mapSlice(e.Tests, func(r record.TestResult) obd.TestResult {
			return obd.TestResult{MID: obd.MID(r.MID), TID: byte(r.TID), UASID: byte(r.UASID), Value: r.Value, Min: r.Min, Max: r.Max,
				Unit: r.Unit, Pass: r.Pass, NotRun: r.NotRun, Margin: r.Margin}
		}),
	}
	if i := e.IUPR; i != nil {
		u.IUPR = &obd.IUPR{Ignition: i.Ignition, OBDCond: i.OBDCond, IgnCntr: i.IgnCntr,
			Monitors: mapSlice(i.Monitors, func(m record.MonitorRatio) obd.MonitorRatio {
				return obd.MonitorRatio{Name: m.Name, Label: m.Label, Numerator: m.Numerator, Denominator: m.Denominator, Ratio: m.Ratio}
			})}
	}
	if l := e.Lamps; l != nil {
		u.Lamps = &scan.Lamps{MIL: l.MIL, RedStop: l.RedStop, AmberWarning: l.AmberWarning, Protect: l.Protect}
	}
	return u
}

func dtcEvidence(d obd.DTC) record.DTC {
	e := record.DTC{Code: d.Code, Description: d.Description}
	if j := d.J1939; j != (obd.J1939Code{}) {
		e.J1939 = &record.J1939Code{SPN: j.SPN, FMI: j.FMI, Occurrences: j.Occurrences, ConversionMethod: j.ConversionMethod}
	}
	return e
}

func dtcFromEvidence(e record.DTC) obd.DTC {
	d := obd.DTC{Code: e.Code, Description: e.Description}
	if j := e.J1939; j != nil {
		d.J1939 = obd.J1939Code{SPN: j.SPN, FMI: j.FMI, Occurrences: j.Occurrences, ConversionMethod: j.ConversionMethod}
	}
	return d
}

func valueEvidence(v obd.Value) record.Value {
	return record.Value{PID: int(v.PID), Name: v.Name, Label: v.Label, Value: v.Value, Unit: v.Unit, Text: v.Text}
}

func valueFromEvidence(v record.Value) obd.Value {
	return obd.Value{PID: obd.PID(v.PID), Name: v.Name, Label: v.Label, Value: v.Value, Unit: v.Unit, Text: v.Text}
}

func findingsEvidence(r findings.Result) *record.Findings {
	return &record.Findings{
		Verdict: string(r.Verdict),
		Reasons: mapSlice(r.Reasons, func(c findings.Code) string { return string(c) }),
		Findings: mapSlice(r.Findings, func(f findings.Finding) record.Finding {
			return record.Finding{Code: string(f.Code), Effect: string(f.Effect), Severity: string(f.Severity),
				DTCs: f.DTCs, ECUs: f.ECUs, Monitors: f.Monitors, VIN: f.VIN, ExpectedVIN: f.ExpectedVIN, Count: f.Count,
				Counters: mapSlice(f.Counters, func(c findings.Counter) record.Counter {
					return record.Counter{Name: c.Name, Value: c.Value, Unit: c.Unit, Saturated: c.Saturated}
				})}
		}),
	}
}

func findingsFromEvidence(e record.Findings) findings.Result {
	return findings.Result{
		Verdict: findings.Verdict(e.Verdict),
		Reasons: mapSlice(e.Reasons, func(s string) findings.Code { return findings.Code(s) }),
		Findings: mapSlice(e.Findings, func(f record.Finding) findings.Finding {
			return findings.Finding{Code: findings.Code(f.Code), Effect: findings.Effect(f.Effect), Severity: findings.Severity(f.Severity),
				DTCs: f.DTCs, ECUs: f.ECUs, Monitors: f.Monitors, VIN: f.VIN, ExpectedVIN: f.ExpectedVIN, Count: f.Count,
				Counters: mapSlice(f.Counters, func(c record.Counter) findings.Counter {
					return findings.Counter{Name: c.Name, Value: c.Value, Unit: c.Unit, Saturated: c.Saturated}
				})}
		}),
	}
}

// MarshalJSON writes b as a record.EmissionBody.
func (b EmissionBody) MarshalJSON() ([]byte, error) { return json.Marshal(b.Evidence()) }

// UnmarshalJSON reads a record.EmissionBody.
func (b *EmissionBody) UnmarshalJSON(data []byte) error {
	var e record.EmissionBody
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	r := e.Reading
	*b = EmissionBody{N: e.N, At: e.At, Phase: Phase(e.Phase), Reading: analyzer.Reading{
		Method: r.Method, Time: r.Time, Status: r.Status,
		Instrument: instrumentFromEvidence(r.Instrument), Values: mapSlice(r.Values, quantityFromEvidence),
	}}
	return nil
}

// Evidence is b in the evidence format.
func (b EmissionBody) Evidence() record.EmissionBody {
	r := b.Reading
	return record.EmissionBody{N: b.N, At: b.At, Phase: string(b.Phase), Reading: record.Reading{
		Method: r.Method, Time: r.Time, Status: r.Status,
		Instrument: instrumentEvidence(r.Instrument), Values: mapSlice(r.Values, quantityEvidence),
	}}
}

// MarshalJSON writes b as a record.DTCClearBody.
func (b DTCClearBody) MarshalJSON() ([]byte, error) { return json.Marshal(b.Evidence()) }

// UnmarshalJSON reads a record.DTCClearBody.
func (b *DTCClearBody) UnmarshalJSON(data []byte) error {
	var e record.DTCClearBody
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	ecus := make([]obd.ECU, len(e.ECUs))
	for i, s := range e.ECUs {
		if err := ecus[i].UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("job: dtc_clear body: %w", err)
		}
	}
	if len(ecus) == 0 {
		ecus = nil
	}
	*b = DTCClearBody{N: e.N, At: e.At, Technician: e.Technician, Reason: e.Reason, Stage: e.Stage, ECUs: ecus, Error: e.Error}
	return nil
}

// Evidence is b in the evidence format.
func (b DTCClearBody) Evidence() record.DTCClearBody {
	return record.DTCClearBody{N: b.N, At: b.At, Technician: b.Technician, Reason: b.Reason, Stage: b.Stage,
		ECUs: mapSlice(b.ECUs, obd.ECU.String), Error: b.Error}
}

// MarshalJSON writes b as a record.EmissionTestBody.
func (b EmissionTestBody) MarshalJSON() ([]byte, error) { return json.Marshal(b.Evidence()) }

// UnmarshalJSON reads a record.EmissionTestBody.
func (b *EmissionTestBody) UnmarshalJSON(data []byte) error {
	var e record.EmissionTestBody
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	*b = EmissionTestBody{N: e.N, At: e.At, Phase: Phase(e.Phase), Technician: e.Technician,
		Instrument: instrumentStateFromEvidence(e.Instrument), Test: testFromEvidence(e.Test)}
	return nil
}

// Evidence is b in the evidence format.
func (b EmissionTestBody) Evidence() record.EmissionTestBody {
	return record.EmissionTestBody{N: b.N, At: b.At, Phase: string(b.Phase), Technician: b.Technician,
		Instrument: instrumentStateEvidence(b.Instrument), Test: testEvidence(b.Test)}
}

func instrumentEvidence(i analyzer.InstrumentID) record.Instrument {
	return record.Instrument{Model: i.Model, Port: i.Port, Protocol: i.Protocol}
}

func instrumentFromEvidence(i record.Instrument) analyzer.InstrumentID {
	return analyzer.InstrumentID{Model: i.Model, Port: i.Port, Protocol: i.Protocol}
}

func quantityEvidence(q analyzer.Quantity) record.Quantity {
	return record.Quantity{Name: q.Name, Value: q.Value, Unit: q.Unit}
}

func quantityFromEvidence(q record.Quantity) analyzer.Quantity {
	return analyzer.Quantity{Name: q.Name, Value: q.Value, Unit: q.Unit}
}

func instrumentStateEvidence(s emission.InstrumentState) record.InstrumentState {
	return record.InstrumentState{Instrument: instrumentEvidence(s.Instrument), Mode: string(s.Mode), WarmUpLeftS: s.WarmUpLeftS,
		Checked: s.Checked, LastZero: outcomeEvidence(s.LastZero), LastLeakCheck: outcomeEvidence(s.LastLeakCheck),
		ZeroDue: s.ZeroDue, LeakCheckDue: s.LeakCheckDue, Implausible: s.Implausible}
}

func instrumentStateFromEvidence(s record.InstrumentState) emission.InstrumentState {
	return emission.InstrumentState{Instrument: instrumentFromEvidence(s.Instrument), Mode: analyzer.Mode(s.Mode), WarmUpLeftS: s.WarmUpLeftS,
		Checked: s.Checked, LastZero: outcomeFromEvidence(s.LastZero), LastLeakCheck: outcomeFromEvidence(s.LastLeakCheck),
		ZeroDue: s.ZeroDue, LeakCheckDue: s.LeakCheckDue, Implausible: s.Implausible}
}

func outcomeEvidence(o *emission.Outcome) *record.Outcome {
	if o == nil {
		return nil
	}
	return &record.Outcome{At: o.At, OK: o.OK, Error: o.Error}
}

func outcomeFromEvidence(o *record.Outcome) *emission.Outcome {
	if o == nil {
		return nil
	}
	return &emission.Outcome{At: o.At, OK: o.OK, Error: o.Error}
}

func testEvidence(r emission.Result) record.EmissionTest {
	return record.EmissionTest{
		Method: r.Method, Started: r.Started, Ended: r.Ended, Instrument: instrumentEvidence(r.Instrument), Zeroed: r.Zeroed,
		Settings: settingsEvidence(r.Settings), LimitSetName: r.LimitSetName, Limits: limitsEvidence(r.Limits),
		Modes: mapSlice(r.Modes, func(m emission.ModeResult) record.ModeResult {
			return record.ModeResult{Mode: m.Mode, Samples: m.Samples, Averages: mapSlice(m.Averages, quantityEvidence)}
		}),
		Accelerations: mapSlice(r.Accelerations, func(a emission.Acceleration) record.Acceleration {
			return record.Acceleration{N: a.N, Purge: a.Purge, K: a.K, PeakRPM: a.PeakRPM, PeakFrom: a.PeakFrom}
		}),
		KMean: r.KMean, IdleRPM: r.IdleRPM,
		Samples: mapSlice(r.Samples, func(s emission.Sample) record.Sample {
			return record.Sample{T: s.T, At: s.At, Step: s.Step, Phase: s.Phase, RPM: s.RPM, RPMSource: s.RPMSource,
				Values: mapSlice(s.Values, quantityEvidence), OBD: mapSlice(s.OBD, valueEvidence), Error: s.Error}
		}),
		Verdict: verdictEvidence(r.Verdict),
	}
}

func testFromEvidence(r record.EmissionTest) emission.Result {
	return emission.Result{
		Method: r.Method, Started: r.Started, Ended: r.Ended, Instrument: instrumentFromEvidence(r.Instrument), Zeroed: r.Zeroed,
		Settings: settingsFromEvidence(r.Settings), LimitSetName: r.LimitSetName, Limits: limitsFromEvidence(r.Limits),
		Modes: mapSlice(r.Modes, func(m record.ModeResult) emission.ModeResult {
			return emission.ModeResult{Mode: m.Mode, Samples: m.Samples, Averages: mapSlice(m.Averages, quantityFromEvidence)}
		}),
		Accelerations: mapSlice(r.Accelerations, func(a record.Acceleration) emission.Acceleration {
			return emission.Acceleration{N: a.N, Purge: a.Purge, K: a.K, PeakRPM: a.PeakRPM, PeakFrom: a.PeakFrom}
		}),
		KMean: r.KMean, IdleRPM: r.IdleRPM,
		Samples: mapSlice(r.Samples, func(s record.Sample) emission.Sample {
			return emission.Sample{T: s.T, At: s.At, Step: s.Step, Phase: s.Phase, RPM: s.RPM, RPMSource: s.RPMSource,
				Values: mapSlice(s.Values, quantityFromEvidence), OBD: mapSlice(s.OBD, valueFromEvidence), Error: s.Error}
		}),
		Verdict: verdictFromEvidence(r.Verdict),
	}
}

func windowEvidence(w emission.Window) record.Window { return record.Window{Min: w.Min, Max: w.Max} }
func windowFromEvidence(w record.Window) emission.Window {
	return emission.Window{Min: w.Min, Max: w.Max}
}

func settingsEvidence(s emission.Settings) record.Settings {
	e := record.Settings{RPMSource: s.RPMSource, Unverified: s.Unverified}
	if t := s.TwoSpeedIdle; t != nil {
		e.TwoSpeedIdle = &record.TwoSpeedIdleSettings{
			MinOilTemperature: t.MinOilTemperature, WarmUpS: t.WarmUpS, Precondition: windowEvidence(t.Precondition),
			PreconditionS: t.PreconditionS, HighIdle: windowEvidence(t.HighIdle), HeavyHighIdle: windowEvidence(t.HeavyHighIdle),
			Idle: windowEvidence(t.Idle), SettleS: t.SettleS, MeasureS: t.MeasureS, MinCOCO2: t.MinCOCO2,
			ReachS: t.ReachS, GraceS: t.GraceS, MaxBadSamples: t.MaxBadSamples,
		}
	}
	if f := s.FreeAcceleration; f != nil {
		e.FreeAcceleration = &record.FreeAccelerationSettings{
			MinOilTemperature: f.MinOilTemperature, WarmUpS: f.WarmUpS, Idle: windowEvidence(f.Idle), IdleS: f.IdleS,
			Purges: f.Purges, Accelerations: f.Accelerations, RiseRPM: f.RiseRPM, MinPeakRPM: f.MinPeakRPM,
			PressS: f.PressS, AccelerationS: f.AccelerationS, SamplesPerSecond: f.SamplesPerSecond,
			ReachS: f.ReachS, GraceS: f.GraceS, MaxBadSamples: f.MaxBadSamples,
		}
	}
	return e
}

func settingsFromEvidence(e record.Settings) emission.Settings {
	s := emission.Settings{RPMSource: e.RPMSource, Unverified: e.Unverified}
	if t := e.TwoSpeedIdle; t != nil {
		s.TwoSpeedIdle = &emission.TwoSpeedIdleSettings{
			MinOilTemperature: t.MinOilTemperature, WarmUpS: t.WarmUpS, Precondition: windowFromEvidence(t.Precondition),
			PreconditionS: t.PreconditionS, HighIdle: windowFromEvidence(t.HighIdle), HeavyHighIdle: windowFromEvidence(t.HeavyHighIdle),
			Idle: windowFromEvidence(t.Idle), SettleS: t.SettleS, MeasureS: t.MeasureS, MinCOCO2: t.MinCOCO2,
			Common: emission.Common{ReachS: t.ReachS, GraceS: t.GraceS, MaxBadSamples: t.MaxBadSamples},
		}
	}
	if f := e.FreeAcceleration; f != nil {
		s.FreeAcceleration = &emission.FreeAccelerationSettings{
			MinOilTemperature: f.MinOilTemperature, WarmUpS: f.WarmUpS, Idle: windowFromEvidence(f.Idle), IdleS: f.IdleS,
			Purges: f.Purges, Accelerations: f.Accelerations, RiseRPM: f.RiseRPM, MinPeakRPM: f.MinPeakRPM,
			PressS: f.PressS, AccelerationS: f.AccelerationS, SamplesPerSecond: f.SamplesPerSecond,
			Common: emission.Common{ReachS: f.ReachS, GraceS: f.GraceS, MaxBadSamples: f.MaxBadSamples},
		}
	}
	return s
}

func limitsEvidence(l emission.LimitSet) record.LimitSet {
	t := l.TwoSpeedIdle
	return record.LimitSet{
		TwoSpeedIdle: record.TwoSpeedIdleLimits{Idle: record.GasLimits{CO: t.Idle.CO, HC: t.Idle.HC},
			HighIdle: record.GasLimits{CO: t.HighIdle.CO, HC: t.HighIdle.HC}, Lambda: windowEvidence(t.Lambda)},
		FreeAcceleration: record.FreeAccelerationLimits{K: l.FreeAcceleration.K},
		Unverified:       l.Unverified,
	}
}

func limitsFromEvidence(l record.LimitSet) emission.LimitSet {
	t := l.TwoSpeedIdle
	return emission.LimitSet{
		TwoSpeedIdle: emission.TwoSpeedIdleLimits{Idle: emission.GasLimits{CO: t.Idle.CO, HC: t.Idle.HC},
			HighIdle: emission.GasLimits{CO: t.HighIdle.CO, HC: t.HighIdle.HC}, Lambda: windowFromEvidence(t.Lambda)},
		FreeAcceleration: emission.FreeAccelerationLimits{K: l.FreeAcceleration.K},
		Unverified:       l.Unverified,
	}
}

func verdictEvidence(v emission.Verdict) record.Verdict {
	return record.Verdict{Result: v.Result, Reason: v.Reason, Step: v.Step, Detail: v.Detail, Notes: v.Notes,
		Unverified: v.Unverified, Text: v.Text,
		Failures: mapSlice(v.Failures, func(f emission.Failure) record.Failure {
			return record.Failure{Mode: f.Mode, Quantity: f.Quantity, Value: f.Value, Unit: f.Unit, Limit: f.Limit, Min: f.Min, Max: f.Max}
		}),
	}
}

func verdictFromEvidence(v record.Verdict) emission.Verdict {
	return emission.Verdict{Result: v.Result, Reason: v.Reason, Step: v.Step, Detail: v.Detail, Notes: v.Notes,
		Unverified: v.Unverified, Text: v.Text,
		Failures: mapSlice(v.Failures, func(f record.Failure) emission.Failure {
			return emission.Failure{Mode: f.Mode, Quantity: f.Quantity, Value: f.Value, Unit: f.Unit, Limit: f.Limit, Min: f.Min, Max: f.Max}
		}),
	}
}

// mapSlice maps each element of in with f; nil stays nil.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
