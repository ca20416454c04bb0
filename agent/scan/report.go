package scan

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bayagent/bayagent/drivers/obd"
)

// keyLive names the live values a technician looks at first, in display order.
var keyLive = []string{
	"engine_speed", "vehicle_speed", "coolant_temperature", "intake_air_temperature",
	"maf_air_flow", "throttle_position", "engine_load", "stft_bank1",
	"ltft_bank1", "control_module_voltage", "fuel_tank_level",
}

// WriteReport writes the snapshot as the plain-text report a technician reads
// at the bay: identity, MIL and codes with descriptions, readiness, key live
// values and the findings.
func WriteReport(w io.Writer, s *Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	vin := s.VIN
	switch {
	case vin == "":
		vin = "(not reported)"
	case !s.VINValid:
		vin += "  (INVALID: " + s.VINProblem + ")"
	}
	p("Vehicle\n")
	p("  VIN:\t%s\n", vin)
	if s.Protocol != "" {
		p("  Protocol:\t%s\n", s.Protocol)
	}
	if s.OBDStandard != "" {
		p("  OBD standard:\t%s\n", s.OBDStandard)
	}
	if s.Ignition != "" {
		p("  Ignition:\t%s\n", s.Ignition)
	}
	if s.Odometer != nil {
		p("  Odometer:\t%.1f km\n", *s.Odometer)
	}
	mil := "off"
	if s.MIL {
		mil = "ON"
	}
	p("  MIL:\t%s (%d confirmed emission DTCs)\n", mil, s.DTCCount)
	counters := []struct {
		label string
		v     *float64
		unit  string
	}{
		{"Distance with MIL on", s.DistanceWithMIL, "km"},
		{"Time with MIL on", s.TimeWithMIL, "min"},
		{"Distance since codes cleared", s.DistanceSinceClear, "km"},
		{"Time since codes cleared", s.TimeSinceClear, "min"},
		{"Warm-ups since codes cleared", s.WarmupsSinceClear, ""},
	}
	for _, c := range counters {
		if c.v != nil {
			p("  %s:\t%s\n", c.label, strings.TrimSpace(formatNumber(*c.v)+" "+c.unit))
		}
	}

	p("\nControl units\n")
	for _, e := range s.ECUs {
		name := e.Name
		if name == "" {
			name = "(no name)"
		}
		p("  %s\t%s\tCALID %s\tCVN %s\n", e.Address, name, orNone(e.CALIDs), orNone(e.CVNs))
	}

	p("\nTrouble codes (stored %d, pending %d, permanent %d", s.DTCs.Stored, s.DTCs.Pending, s.DTCs.Permanent)
	if s.DTCs.Previous > 0 {
		p(", previously active %d", s.DTCs.Previous)
	}
	p(")\n")
	none := true
	for _, e := range s.ECUs {
		for _, k := range []struct {
			kind string
			dtcs []obd.DTC
		}{{"stored", e.Stored}, {"pending", e.Pending}, {"permanent", e.Permanent}, {"previous", e.Previous}} {
			for _, d := range k.dtcs {
				none = false
				p("  %s\t%s\t%s\t%s\n", d.Code, k.kind, e.Address, d.Description)
			}
		}
	}
	if none {
		p("  none\n")
	}
	if ff := s.FreezeFrame; ff != nil {
		p("\nFreeze frame (%s, ECU %s)\n", ff.DTC.Code, ff.ECU)
		for _, v := range ff.Values {
			p("  %s:\t%s\n", v.Label, formatValue(v))
		}
	}

	p("\nReadiness\n")
	for _, m := range s.Readiness {
		if !m.Supported {
			continue
		}
		state := "complete"
		if !m.Complete {
			state = "NOT COMPLETE"
		}
		p("  %s:\t%s\n", m.Label, state)
	}

	var live []obd.Value
	for _, name := range keyLive {
		if v, ok := findLive(s, name); ok {
			live = append(live, v)
		}
	}
	if len(live) > 0 {
		p("\nLive data\n")
		for _, v := range live {
			p("  %s:\t%s\n", v.Label, formatValue(v))
		}
	}

	p("\nFindings\n")
	if len(s.Flags) == 0 {
		p("  none\n")
	}
	for _, f := range s.Flags {
		p("  ! %s\n", f.Message)
	}
	for _, pr := range s.Problems {
		p("  ? %s\n", pr)
	}
	p("\nScan: %d requests in %s", s.Stats.Requests, s.Stats.Duration.Round(1e6))
	if st := s.Stats; st.Setup > 0 {
		p(", adapter set-up %s", st.Setup.Round(1e6))
	}
	p("\n")
	switch st := s.Stats; {
	case st.NoBatch == NoBatchProtocol:
		p("  one PID per request (the vehicle's protocol takes no more)\n")
	case st.NoBatch == NoBatchAdapter:
		p("  one PID per request (the adapter refused several)\n")
	case len(st.NoBatchECUs) > 0:
		p("  one PID per request to ECU %s (answered only part of several)\n", ecuList(st.NoBatchECUs))
	}
	return tw.Flush()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func findLive(s *Snapshot, name string) (obd.Value, bool) {
	for _, e := range s.ECUs {
		for _, v := range e.Live {
			if v.Name == name {
				return v, true
			}
		}
	}
	return obd.Value{}, false
}

func formatValue(v obd.Value) string {
	if v.Text != "" {
		return v.Text
	}
	return strings.TrimSpace(formatNumber(v.Value) + " " + v.Unit)
}

// formatNumber shows a value with at most two decimals: what a technician
// reads, not the scaling's binary fraction.
func formatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func ecuList(ecus []obd.ECU) string {
	parts := make([]string, len(ecus))
	for i, e := range ecus {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}
