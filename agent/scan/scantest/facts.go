package scantest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Facts are the facts of a snapshot that must not depend on the path to the
// vehicle (CAN, an ELM327 of any personality, a legacy protocol): identity,
// fault codes per ECU, readiness, calibration, on-board test results. Two snapshots of one vehicle
// have equal Facts apart from what a path truly cannot deliver, which its
// snapshot lists in Problems.
type Facts struct {
	VIN       string
	MIL       bool
	DTCCount  int
	Readiness string   // "name=code ..." in the snapshot's order
	ECUs      []string // per ECU in address order: address, name, CALIDs, CVNs, codes and Mode 06 tests
	Freeze    string   // the freeze frame's ECU and DTC, "" when none
}

// FactsOf extracts the Facts of s.
func FactsOf(s *scan.Snapshot) Facts {
	f := Facts{VIN: s.VIN, MIL: s.MIL, DTCCount: s.DTCCount}
	var r []string
	for _, m := range s.Readiness {
		r = append(r, fmt.Sprintf("%s=%d", m.Name, m.Code))
	}
	f.Readiness = strings.Join(r, " ")
	ecus := slices.Clone(s.ECUs)
	slices.SortFunc(ecus, func(a, b scan.ECU) int { return int(a.Address) - int(b.Address) })
	for _, e := range ecus {
		var tests []string
		for _, x := range e.Tests {
			tests = append(tests, fmt.Sprintf("%s/%02X=%g%s(%g..%g) pass=%t", x.MID, x.TID, x.Value, x.Unit, x.Min, x.Max, x.Pass))
		}
		f.ECUs = append(f.ECUs, fmt.Sprintf("%s %q calid=%v cvn=%v stored=%v pending=%v permanent=%v mil=%t tests=%v",
			e.Address, e.Name, e.CALIDs, e.CVNs, codes(e.Stored), codes(e.Pending), codes(e.Permanent), e.MIL, tests))
	}
	if ff := s.FreezeFrame; ff != nil {
		f.Freeze = fmt.Sprintf("%s %s", ff.ECU, ff.DTC.Code)
	}
	return f
}

// Diff lists the facts that differ between want and got, one line each;
// empty when they are equal.
func Diff(want, got Facts) []string {
	var out []string
	cmp := func(what string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			out = append(out, fmt.Sprintf("%s: want %v, got %v", what, w, g))
		}
	}
	cmp("VIN", want.VIN, got.VIN)
	cmp("MIL", want.MIL, got.MIL)
	cmp("DTC count", want.DTCCount, got.DTCCount)
	cmp("readiness", want.Readiness, got.Readiness)
	cmp("ECU count", len(want.ECUs), len(got.ECUs))
	for i := 0; i < min(len(want.ECUs), len(got.ECUs)); i++ {
		cmp(fmt.Sprintf("ECU %d", i), want.ECUs[i], got.ECUs[i])
	}
	cmp("freeze frame", want.Freeze, got.Freeze)
	return out
}

func codes(d []obd.DTC) []string {
	out := []string{}
	for _, x := range d {
		out = append(out, x.Code)
	}
	return out
}
