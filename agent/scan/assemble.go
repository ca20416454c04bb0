package scan

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Value names (obd.Value.Name) of the PIDs the snapshot lifts to the top.
const (
	nameOdometer           = "odometer"
	nameDistanceWithMIL    = "distance_with_mil"
	nameTimeWithMIL        = "time_with_mil"
	nameDistanceSinceClear = "distance_since_clear"
	nameTimeSinceClear     = "time_since_clear"
	nameWarmupsSinceClear  = "warmups_since_clear"
	pidOBDStandard         = obd.PID(0x1C)
)

// assemble turns what the scan learned into the snapshot.
func (s *scanner) assemble(snap *Snapshot) {
	ecus := s.sorted()
	var statuses []obd.MonitorStatus
	for _, e := range ecus {
		out := ECU{
			Address:       e.addr,
			Name:          e.name,
			CALIDs:        e.calids,
			CVNs:          e.cvns,
			Stored:        nonNil(e.stored),
			Pending:       nonNil(e.pending),
			Permanent:     nonNil(e.permanent),
			SupportedPIDs: pidStrings(dataPIDs(e.pids)),
			IUPR:          e.iupr,
			Tests:         sortedTests(e.tests),
		}
		if e.status != nil {
			out.MIL = e.status.MIL
			out.DTCCount = e.status.DTCCount
			out.Ignition = e.status.Ignition
			out.Readiness = e.status.Monitors
			statuses = append(statuses, *e.status)
			snap.MIL = snap.MIL || e.status.MIL
			snap.DTCCount += e.status.DTCCount
			if snap.Ignition == "" {
				snap.Ignition = e.status.Ignition
			}
		}
		for _, p := range slices.Sorted(maps.Keys(e.live)) {
			out.Live = append(out.Live, e.live[p]...)
		}
		snap.DTCs.Stored += len(e.stored)
		snap.DTCs.Pending += len(e.pending)
		snap.DTCs.Permanent += len(e.permanent)
		if snap.VIN == "" && e.vin != "" {
			snap.VIN = e.vin
		}
		if snap.FreezeFrame == nil && e.freezeDTC != "" {
			snap.FreezeFrame = &FreezeFrame{ECU: e.addr, DTC: obd.NewDTC(e.freezeDTC), Values: e.freezeVal}
		}
		snap.ECUs = append(snap.ECUs, out)
	}
	snap.Readiness = mergeReadiness(statuses)
	liftCounters(snap)
	for _, e := range ecus {
		if v, ok := e.live[pidOBDStandard]; ok && len(v) > 0 {
			snap.OBDStandard = v[0].Text
			break
		}
	}
	snap.Problems = s.problems
	snap.Flags = s.flags(snap)
}

func pidStrings(pids []obd.PID) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = p.String()
	}
	return out
}

func nonNil(d []obd.DTC) []obd.DTC {
	if d == nil {
		return []obd.DTC{}
	}
	return d
}

// liftCounters sets the snapshot's odometer and its MIL and since-clear
// counters from the ECUs' live values: the odometer from the lowest-addressed
// ECU that reports it; the distance and time with the MIL on from the ECU
// that reports the most (the lamp was on at least that long); the distance,
// time and warm-ups since codes were cleared from the ECU that reports the
// least (the most recent clear). The ECUs are in address order.
func liftCounters(snap *Snapshot) {
	pick := func(name string, better func(x, best float64) bool) *float64 {
		var best *float64
		for _, e := range snap.ECUs {
			for _, v := range e.Live {
				if v.Name == name && (best == nil || better(v.Value, *best)) {
					x := v.Value
					best = &x
				}
			}
		}
		return best
	}
	first := func(x, best float64) bool { return false }
	most := func(x, best float64) bool { return x > best }
	least := func(x, best float64) bool { return x < best }
	snap.Odometer = pick(nameOdometer, first)
	snap.DistanceWithMIL = pick(nameDistanceWithMIL, most)
	snap.TimeWithMIL = pick(nameTimeWithMIL, most)
	snap.DistanceSinceClear = pick(nameDistanceSinceClear, least)
	snap.TimeSinceClear = pick(nameTimeSinceClear, least)
	snap.WarmupsSinceClear = pick(nameWarmupsSinceClear, least)
}

// mergeReadiness combines the ECUs' monitors item by item: supported when any
// ECU supports it; complete only when every ECU that supports it says so.
func mergeReadiness(statuses []obd.MonitorStatus) []obd.Monitor {
	var out []obd.Monitor
	index := map[string]int{}
	for _, st := range statuses {
		for _, m := range st.Monitors {
			i, ok := index[m.Name]
			if !ok {
				index[m.Name] = len(out)
				out = append(out, m)
				continue
			}
			cur := &out[i]
			switch {
			case !m.Supported:
			case !cur.Supported:
				*cur = m
			default:
				cur.Complete = cur.Complete && m.Complete
			}
			cur.Code = readinessCode(*cur)
		}
	}
	return out
}

func readinessCode(m obd.Monitor) int {
	switch {
	case !m.Supported:
		return 0
	case m.Complete:
		return 1
	default:
		return 2
	}
}

// flags derives the findings an inspector cares about.
func (s *scanner) flags(snap *Snapshot) []Flag {
	flags := []Flag{}
	add := func(code, format string, args ...any) {
		flags = append(flags, Flag{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case snap.VIN == "":
		add(FlagVINMissing, "the vehicle did not report a VIN")
	default:
		if err := obd.ValidateVIN(snap.VIN); err != nil {
			snap.VINProblem = err.Error()
			add(FlagVINInvalid, "VIN %s is not valid: %v", snap.VIN, errors.Unwrap(err))
		} else {
			snap.VINValid = true
		}
		if want := s.opts.ExpectedVIN; want != "" && !strings.EqualFold(want, snap.VIN) {
			add(FlagVINMismatch, "VIN read from the vehicle (%s) differs from the job's (%s)", snap.VIN, want)
		}
	}
	if snap.MIL {
		add(FlagMILOn, "malfunction indicator lamp is on (%d confirmed DTCs)", snap.DTCCount)
	}
	var incomplete []string
	for _, m := range snap.Readiness {
		if m.Supported && !m.Complete {
			incomplete = append(incomplete, m.Label)
		}
	}
	if len(incomplete) > 0 {
		add(FlagReadinessIncomplete, "readiness not complete: %s", strings.Join(incomplete, ", "))
	}
	var why []string
	if d := snap.DistanceSinceClear; d != nil && *d < s.opts.ClearedKm {
		why = append(why, fmt.Sprintf("%g km", *d))
	}
	if w := snap.WarmupsSinceClear; w != nil && *w < s.opts.ClearedWarmups {
		why = append(why, fmt.Sprintf("%g warm-ups", *w))
	}
	if len(why) > 0 {
		add(FlagCodesClearedRecent, "trouble codes were cleared recently (%s ago)", strings.Join(why, ", "))
	}
	return flags
}

// sortedTests orders test results by monitor, then test id (the answers'
// order within a monitor is the ECU's).
func sortedTests(t []obd.TestResult) []obd.TestResult {
	out := slices.Clone(t)
	slices.SortStableFunc(out, func(a, b obd.TestResult) int {
		return cmp.Or(cmp.Compare(a.MID, b.MID), cmp.Compare(a.TID, b.TID))
	})
	return out
}
