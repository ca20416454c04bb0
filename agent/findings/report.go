package findings

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// keyLive names the live values a technician looks at first, in display
// order.
var keyLive = []string{
	"engine_speed", "vehicle_speed", "coolant_temperature", "intake_air_temperature",
	"maf_air_flow", "throttle_position", "engine_load", "stft_bank1",
	"ltft_bank1", "control_module_voltage", "fuel_tank_level", "engine_hours", "odometer",
}

// KeyValues returns the live values a technician looks at first, in
// display order: those of keyLive the snapshot has (from the first ECU
// that reports each).
func KeyValues(s *scan.Snapshot) []obd.Value {
	var out []obd.Value
	for _, name := range keyLive {
		for _, e := range s.ECUs {
			if i := indexValue(e.Live, name); i >= 0 {
				out = append(out, e.Live[i])
				break
			}
		}
	}
	return out
}

func indexValue(vs []obd.Value, name string) int {
	for i, v := range vs {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// ValueLabel is a live value's label in language l
// ("findings.value.<name>"), or the decoder's English label.
func ValueLabel(v obd.Value, l i18n.Lang) string {
	if e, ok := i18n.Lookup("findings.value." + v.Name); ok {
		return e.In(l)
	}
	return v.Label
}

// SnapshotCounters returns the snapshot's MIL and since-clear counters
// that it has, in display order.
func SnapshotCounters(s *scan.Snapshot) []Counter {
	return counters(s, "distance_with_mil", "time_with_mil", "distance_since_clear", "time_since_clear", "warmups_since_clear")
}

// WriteReport writes the snapshot as the plain-text report a technician
// reads at the bay, in language l: the vehicle, the pre-check verdict with
// every finding and what to do, the control units, the trouble codes with
// their descriptions, the freeze frame, readiness and the key live values.
func WriteReport(w io.Writer, s *scan.Snapshot, res Result, l i18n.Lang) error {
	r := &report{l: l}
	t := func(key string, args ...any) string { return i18n.Text(l, "findings.report."+key, args...) }

	r.heading(t("vehicle"))
	vin := s.VIN
	switch {
	case vin == "":
		vin = t("not_reported")
	case !s.VINValid:
		vin += "  (" + t("invalid", "problem", s.VINProblem) + ")"
	}
	r.row("VIN", vin)
	r.row(t("protocol"), s.Protocol)
	r.row(t("obd_standard"), OBDStandardText(s.OBDStandard, l))
	if s.Ignition != "" {
		r.row(t("ignition"), i18n.Text(l, "findings.ignition."+s.Ignition))
	}
	if s.Odometer != nil {
		r.row(t("odometer"), i18n.Text(l, "findings.unit.km", "n", FormatNumber(*s.Odometer)))
	}
	mil := t("mil_off")
	if s.MIL {
		mil = t("mil_on")
	}
	r.row(t("mil"), t("mil_state", "state", mil, "n", s.DTCCount))
	for _, c := range SnapshotCounters(s) {
		r.row(CounterLabel(c.Name, l), c.Text(l))
	}
	r.flush()

	r.heading(VerdictText(res.Verdict, l))
	r.line("  " + VerdictExplain(res.Verdict, l))
	for _, f := range res.Findings {
		mark := map[Effect]string{EffectFail: "✘", EffectNotReady: "!", EffectAdvise: "·"}[f.Effect]
		r.line(fmt.Sprintf("  %s [%s] %s", mark, EffectText(f.Effect, l), f.Text(l)))
		r.line("      " + t("todo", "action", f.Action(l)))
	}

	r.heading(t("ecus"))
	for _, e := range s.ECUs {
		name := ECUName(e.Name, l)
		if name == "" {
			name = t("no_name")
		}
		r.cols(e.Address.String(), name, "CALID "+orNone(e.CALIDs), "CVN "+orNone(e.CVNs))
	}
	r.flush()

	d := s.DTCs
	if d.Previous > 0 {
		r.heading(t("dtcs_previous", "stored", d.Stored, "previous", d.Previous))
	} else {
		r.heading(t("dtcs", "stored", d.Stored, "pending", d.Pending, "permanent", d.Permanent))
	}
	none := true
	for _, e := range s.ECUs {
		for _, k := range []struct {
			kind string
			dtcs []obd.DTC
		}{{"stored", e.Stored}, {"pending", e.Pending}, {"permanent", e.Permanent}, {"previous", e.Previous}} {
			for _, dtc := range k.dtcs {
				none = false
				r.cols(dtc.Code, t("dtc."+k.kind), e.Address.String(), DTCText(dtc, l))
			}
		}
	}
	r.flush()
	if none {
		r.line("  " + t("none"))
	}
	if ff := s.FreezeFrame; ff != nil {
		r.heading(t("freeze_frame", "dtc", ff.DTC.Code, "ecu", ff.ECU.String()))
		for _, v := range ff.Values {
			r.row(ValueLabel(v, l), ValueText(v, l))
		}
		r.flush()
	}

	r.heading(t("readiness"))
	for _, m := range s.Readiness {
		if !m.Supported {
			continue
		}
		state := t("complete")
		if !m.Complete {
			state = t("not_complete")
		}
		r.row(MonitorLabel(m.Name, l), state)
	}
	r.flush()

	writeTests(r, s, t)

	if live := KeyValues(s); len(live) > 0 {
		r.heading(t("live"))
		for _, v := range live {
			r.row(ValueLabel(v, l), ValueText(v, l))
		}
		r.flush()
	}
	if len(s.Problems) > 0 {
		r.heading(t("problems"))
		for _, p := range s.Problems {
			r.line("  ? " + p)
		}
	}
	r.line("")
	r.line(t("stats", "requests", s.Stats.Requests, "duration", s.Stats.Duration.Round(1e6)))
	_, err := io.WriteString(w, r.b.String())
	return err
}

// writeTests lists the on-board monitor tests (Mode 06): per ECU, monitor
// and test, the value against its limits and the verdict, a passed test
// close to a limit marked, so that a technician sees which monitor is about
// to fail before the MIL lights.
func writeTests(r *report, s *scan.Snapshot, t func(string, ...any) string) {
	n := 0
	for _, e := range s.ECUs {
		n += len(e.Tests)
	}
	if n == 0 {
		return
	}
	r.heading(t("tests"))
	for _, e := range s.ECUs {
		for _, x := range e.Tests {
			verdict := t("test_pass")
			switch {
			case x.NotRun:
				verdict = t("test_not_run")
			case !x.Pass:
				verdict = t("test_fail")
			case x.Near():
				verdict = t("test_near")
			}
			value, limits := "-", "-"
			if !x.NotRun {
				value = strings.TrimSpace(testNumber(x.Value) + " " + x.Unit)
				limits = testNumber(x.Min) + " .. " + testNumber(x.Max)
			}
			r.cols(e.Address.String(), obd.MIDName(x.MID, r.l.String()), fmt.Sprintf("TID %02X", x.TID), value, limits, verdict)
		}
	}
	r.flush()
}

// testNumber prints a test's value or limit with 4 significant digits:
// limits are often small ratios or voltages (0.412 against 0.4).
func testNumber(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func orNone(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

// report lays out lines; rows and columns are aligned by display width, so
// that Chinese (two columns a character on a terminal) lines up too.
type report struct {
	l     i18n.Lang
	b     strings.Builder
	table [][]string
}

func (r *report) line(s string) { r.flush(); r.b.WriteString(s + "\n") }

func (r *report) heading(s string) {
	r.flush()
	if r.b.Len() > 0 {
		r.b.WriteString("\n")
	}
	r.b.WriteString(s + "\n")
}

// row adds a "label: value" line (nothing when value is empty).
func (r *report) row(label, value string) {
	if value == "" {
		return
	}
	sep := ":"
	if r.l == i18n.Chinese {
		sep = "："
	}
	r.table = append(r.table, []string{label + sep, value})
}

// cols adds a line of columns.
func (r *report) cols(c ...string) { r.table = append(r.table, c) }

func (r *report) flush() {
	if len(r.table) == 0 {
		return
	}
	var widths []int
	for _, row := range r.table {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	for _, row := range r.table {
		r.b.WriteString("  ")
		for i, c := range row {
			r.b.WriteString(c)
			if i < len(row)-1 {
				r.b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		r.b.WriteString("\n")
	}
	r.table = nil
}

// displayWidth is how many terminal columns s takes: two for East Asian
// wide and full-width characters, one for the others.
func displayWidth(s string) int {
	n := 0
	for _, c := range s {
		n++
		if wide(c) {
			n++
		}
	}
	return n
}

func wide(c rune) bool {
	return c >= 0x1100 && c <= 0x115F || // Hangul Jamo
		c >= 0x2E80 && c <= 0x303E || // CJK radicals, punctuation
		c >= 0x3041 && c <= 0x33FF || // kana, CJK symbols
		c >= 0x3400 && c <= 0x4DBF || // CJK extension A
		c >= 0x4E00 && c <= 0x9FFF || // CJK unified ideographs
		c >= 0xA000 && c <= 0xA4CF ||
		c >= 0xAC00 && c <= 0xD7A3 || // Hangul syllables
		c >= 0xF900 && c <= 0xFAFF || // CJK compatibility
		c >= 0xFE30 && c <= 0xFE4F ||
		c >= 0xFF00 && c <= 0xFF60 || // full-width forms
		c >= 0xFFE0 && c <= 0xFFE6 ||
		c >= 0x20000 && c <= 0x3FFFD
}
