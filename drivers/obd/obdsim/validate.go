package obdsim

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Validate checks the profile and returns every problem found, joined; each
// is a *FieldError naming the field and wrapping one of the package's
// sentinel errors (ErrMissing, ErrBadValue, ErrBadVIN, ErrBadAddress,
// ErrBadDTC, ErrUnknownValue, ErrProtocol).
func (p *Profile) Validate() error {
	v := &validator{}
	if p.Name == "" {
		v.add("name", ErrMissing)
	}
	switch p.Protocol {
	case "", ProtocolISO15765:
		if p.J1939.Kind != 0 {
			v.addf("j1939", ErrBadValue, "only for protocol %s", ProtocolJ1939)
		}
	case ProtocolJ1939:
		// The ISO 15765 checks (ECUs, OBD addresses) do not apply; the
		// j1939 section is validated by drivers/j1939/j1939sim.
		if p.J1939.Kind == 0 {
			v.add("j1939", ErrMissing)
		}
		if len(p.ECUs) > 0 {
			v.addf("ecus", ErrBadValue, "not used by protocol %s (controllers go in the j1939 section)", ProtocolJ1939)
		}
	default:
		if !Legacy(p.Protocol) {
			v.addf("protocol", ErrProtocol, "%q (want %s, %s, %s, %s, %s, %s or %s)", p.Protocol, ProtocolISO15765, ProtocolJ1939,
				ProtocolISO9141, ProtocolKWP5Baud, ProtocolKWPFast, ProtocolJ1850VPW, ProtocolJ1850PWM)
		}
		if p.J1939.Kind != 0 {
			v.addf("j1939", ErrBadValue, "only for protocol %s", ProtocolJ1939)
		}
	}
	if Legacy(p.Protocol) {
		if p.Bus != (Bus{}) {
			v.addf("bus", ErrBadValue, "a %s vehicle is not on a CAN bus: leave the bus section out", p.Protocol)
		}
	} else {
		v.bus(p.Bus)
	}
	if err := checkVIN(p.VIN); err != nil {
		v.add("vin", err)
	}
	if p.Protocol == ProtocolJ1939 {
		if p.Bus.IDBits == 11 {
			v.addf("bus.id_bits", ErrBadValue, "11 (J1939 uses 29-bit identifiers)")
		}
		return errors.Join(v.errs...)
	}
	if len(p.ECUs) == 0 {
		v.add("ecus", ErrMissing)
	}
	seen := make(map[Address]int)
	vinHolders := 0
	for i := range p.ECUs {
		e := &p.ECUs[i]
		f := fmt.Sprintf("ecus[%d]", i)
		if j, dup := seen[e.Address]; dup {
			v.addf(f+".address", ErrBadAddress, "%s already used by ecus[%d]", obd.ECU(e.Address), j)
		}
		seen[e.Address] = i
		if e.VIN {
			vinHolders++
			if vinHolders == 2 {
				v.addf(f+".vin", ErrBadValue, "only one ECU may hold the VIN")
			}
		}
		v.ecu(f, p, e)
	}
	return errors.Join(v.errs...)
}

// bus checks a CAN bus section.
func (v *validator) bus(b Bus) {
	switch b.IDBits {
	case 11, 29:
	case 0:
		v.add("bus.id_bits", ErrMissing)
	default:
		v.addf("bus.id_bits", ErrBadValue, "%d (want 11 or 29)", b.IDBits)
	}
	switch b.Bitrate {
	case 500000, 250000:
	case 0:
		v.add("bus.bitrate", ErrMissing)
	default:
		v.addf("bus.bitrate", ErrBadValue, "%d (want 500000 or 250000)", b.Bitrate)
	}
}

type validator struct{ errs []error }

func (v *validator) add(field string, err error) {
	v.errs = append(v.errs, &FieldError{Field: field, Err: err})
}

func (v *validator) addf(field string, sentinel error, format string, args ...any) {
	v.add(field, fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...))
}

func (v *validator) ecu(f string, p *Profile, e *ECUProfile) {
	addr := obd.ECU(e.Address)
	idBits := p.Bus.IDBits
	switch _, ext, err := isotp.RequestID(addr); {
	case Legacy(p.Protocol):
		if addr > 0xFF || addr == 0xF1 {
			v.addf(f+".address", ErrBadAddress, "%s is not a %s source address (one byte, such as 10 for the engine; F1 is the tester)", addr, p.Protocol)
		}
		if e.Faults != (Faults{}) {
			v.addf(f+".faults", ErrBadValue, "ISO-TP faults do not apply to %s", p.Protocol)
		}
	case err != nil:
		v.addf(f+".address", ErrBadAddress, "%s is not an OBD response identifier (7E8-7EF or 18DAF1xx)", addr)
	case (idBits == 29) != ext && (idBits == 11 || idBits == 29):
		v.addf(f+".address", ErrBadAddress, "%s does not fit a %d-bit bus", addr, idBits)
	}
	if e.Name == "" {
		v.add(f+".name", ErrMissing)
	} else if _, err := obd.EncodeECUName(e.Name); err != nil {
		v.addf(f+".name", ErrBadValue, "%v", err)
	}
	if e.Latency < 0 {
		v.addf(f+".latency", ErrBadValue, "negative")
	}
	if len(e.CALIDs) > 0 {
		if _, err := obd.EncodeCALIDs(e.CALIDs); err != nil {
			v.addf(f+".calids", ErrBadValue, "%v", err)
		}
	}
	if len(e.CVNs) > 0 && len(e.CVNs) != len(e.CALIDs) {
		v.addf(f+".cvns", ErrBadValue, "%d CVNs for %d CALIDs (want one per CALID)", len(e.CVNs), len(e.CALIDs))
	}
	for i, c := range e.CVNs {
		if _, err := obd.EncodeCVNs([]string{c}); err != nil {
			v.addf(fmt.Sprintf("%s.cvns[%d]", f, i), ErrBadValue, "%v", err)
		}
	}
	switch e.Ignition {
	case obd.IgnitionSpark, obd.IgnitionCompression:
		if _, err := obd.EncodeMonitorStatus(monitorStatus(e.Ignition, false, 0, e.Readiness)); err != nil {
			v.addf(f+".readiness", ErrBadValue, "%v", err)
		}
	case "":
		v.add(f+".ignition", ErrMissing)
	default:
		v.addf(f+".ignition", ErrBadValue, "%q (want spark or compression)", e.Ignition)
	}
	for _, m := range slices.Sorted(maps.Keys(e.Readiness)) {
		switch e.Readiness[m] {
		case "complete", "incomplete":
		default:
			v.addf(f+".readiness."+m, ErrBadValue, "%q (want complete or incomplete)", e.Readiness[m])
		}
	}
	lists := []struct {
		name  string
		codes []string
	}{{"stored", e.DTCs.Stored}, {"pending", e.DTCs.Pending}, {"permanent", e.DTCs.Permanent}}
	for _, l := range lists {
		list, codes := l.name, l.codes
		for i, c := range codes {
			if _, err := obd.EncodeDTC(c); err != nil {
				v.addf(fmt.Sprintf("%s.dtcs.%s[%d]", f, list, i), ErrBadDTC, "%v", err)
			}
		}
		if len(codes) > 0xFF {
			v.addf(f+".dtcs."+list, ErrBadValue, "%d codes (at most 255)", len(codes))
		}
	}
	if ff := e.FreezeFrame; ff != nil {
		if ff.DTC == "" {
			v.add(f+".freeze_frame.dtc", ErrMissing)
		} else if _, err := obd.EncodeDTC(ff.DTC); err != nil {
			v.addf(f+".freeze_frame.dtc", ErrBadDTC, "%v", err)
		}
		if _, err := dataPIDs(ff.Values); err != nil {
			v.add(f+".freeze_frame.values", err)
		}
	}
	if _, err := dataPIDs(e.Live); err != nil {
		v.add(f+".live", err)
	}
	if e.IUPR != nil {
		if _, err := e.IUPR.encode(e.Ignition); err != nil {
			v.addf(f+".iupr", ErrBadValue, "%v", err)
		}
	}
	for i, t := range e.MonitorTests {
		switch {
		case Legacy(p.Protocol):
			v.addf(fmt.Sprintf("%s.monitor_tests[%d]", f, i), ErrBadValue, "Mode 06 is simulated on CAN only, not on %s", p.Protocol)
		case t.MID == 0 || t.MID%0x20 == 0:
			v.addf(fmt.Sprintf("%s.monitor_tests[%d].mid", f, i), ErrBadValue, "%02X is a supported-MID bitmap, not a monitor", byte(t.MID))
		}
	}
	switch e.Quirks.Batches {
	case BatchesAll, BatchesRefuse, BatchesFirst:
	default:
		v.addf(f+".quirks.batches", ErrBadValue, "%q (want %s or %s, or nothing)", e.Quirks.Batches, BatchesRefuse, BatchesFirst)
	}
	if e.Faults.LateCF < 0 {
		v.addf(f+".faults.late_cf", ErrBadValue, "negative")
	}
	if e.Faults.FCWait < 0 {
		v.addf(f+".faults.fc_wait", ErrBadValue, "negative")
	}
}

// checkVIN checks the VIN's length and alphabet (17 characters from 0-9 and
// A-Z without I, O and Q). The check digit is not enforced: a simulator may
// serve a European VIN, or a wrong one to test the agent.
func checkVIN(vin string) error {
	if vin == "" {
		return ErrMissing
	}
	if _, err := obd.EncodeVIN(vin); err != nil {
		return fmt.Errorf("%w: %w", ErrBadVIN, err)
	}
	return nil
}

// monitorStatus builds the PID 01 status from readiness as written in a
// profile ("complete"/"incomplete").
func monitorStatus(ignition string, mil bool, dtcs int, readiness map[string]string) obd.MonitorStatus {
	complete := make(map[string]bool, len(readiness))
	for m, s := range readiness {
		complete[m] = s == "complete"
	}
	return statusOf(ignition, mil, dtcs, complete)
}

// statusOf builds the PID 01 status from the supported monitors and their
// completion.
func statusOf(ignition string, mil bool, dtcs int, complete map[string]bool) obd.MonitorStatus {
	st := obd.MonitorStatus{MIL: mil, DTCCount: dtcs, Ignition: ignition}
	for _, name := range slices.Sorted(maps.Keys(complete)) {
		st.Monitors = append(st.Monitors, obd.Monitor{Name: name, Supported: true, Complete: complete[name]})
	}
	return st
}
