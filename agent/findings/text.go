package findings

import (
	"math"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Text is the finding's sentence in language l: what the snapshot shows
// ("findings.<code>" in the catalogue).
func (f Finding) Text(l i18n.Lang) string {
	return i18n.Text(l, "findings."+string(f.Code), f.args(l)...)
}

// Action says what to do next, in language l ("findings.<code>.do").
func (f Finding) Action(l i18n.Lang) string {
	return i18n.Text(l, "findings."+string(f.Code)+".do", f.args(l)...)
}

// args are the placeholders every finding message may use.
func (f Finding) args(l i18n.Lang) []any {
	var counters []string
	for _, c := range f.Counters {
		counters = append(counters, CounterLabel(c.Name, l)+" "+c.Text(l))
	}
	var monitors []string
	for _, m := range f.Monitors {
		monitors = append(monitors, MonitorLabel(m, l))
	}
	return []any{
		"dtcs", joinList(f.DTCs, l),
		"ecus", joinList(f.ECUs, l),
		"monitors", joinList(monitors, l),
		"counters", joinList(counters, l),
		"vin", f.VIN,
		"expected", f.ExpectedVIN,
		"count", f.Count,
	}
}

// joinList joins the items of a list as language l writes them.
func joinList(items []string, l i18n.Lang) string {
	if l == i18n.Chinese {
		return strings.Join(items, "、")
	}
	return strings.Join(items, ", ")
}

// Text is the counter's value with its unit, "255 or more" when
// saturated.
func (c Counter) Text(l i18n.Lang) string {
	s := FormatNumber(c.Value)
	if c.Unit != "" {
		s = i18n.Text(l, "findings.unit."+c.Unit, "n", s)
	}
	if c.Saturated {
		s = i18n.Text(l, "findings.or_more", "value", s)
	}
	return s
}

// CounterLabel names a counter in language l.
func CounterLabel(name string, l i18n.Lang) string {
	return i18n.Text(l, "findings.counter."+name)
}

// MonitorLabel names a readiness monitor in language l.
func MonitorLabel(name string, l i18n.Lang) string {
	return i18n.Text(l, "findings.monitor."+name)
}

// VerdictText is the verdict's headline in language l.
func VerdictText(v Verdict, l i18n.Lang) string { return i18n.Text(l, "findings.verdict."+string(v)) }

// VerdictShort is the verdict in a word or two, for tables.
func VerdictShort(v Verdict, l i18n.Lang) string {
	return i18n.Text(l, "findings.verdict."+string(v)+".short")
}

// MethodText names an emission test method (analyzer.Method*) in language
// l, or returns the method's name when the catalogue has none.
func MethodText(method string, l i18n.Lang) string {
	if e, ok := i18n.Lookup("findings.method." + method); ok {
		return e.In(l)
	}
	return method
}

// VerdictExplain says what the verdict means, in language l.
func VerdictExplain(v Verdict, l i18n.Lang) string {
	return i18n.Text(l, "findings.verdict."+string(v)+".means")
}

// EffectText names an effect in language l.
func EffectText(e Effect, l i18n.Lang) string { return i18n.Text(l, "findings.effect."+string(e)) }

// DTCText is a trouble code's generic description in language l: the
// SAE J2012 table of drivers/obd, or for a J1939 code its SPN and FMI
// from drivers/j1939.
func DTCText(d obd.DTC, l i18n.Lang) string {
	if d.J1939.SPN != 0 {
		return j1939.DescribeIn(d.J1939.SPN, d.J1939.FMI, string(l))
	}
	desc, _ := obd.DescribeDTCIn(d.Code, string(l))
	return desc
}

// FormatNumber shows a value with at most two decimals: what a technician
// reads, not the scaling's binary fraction.
func FormatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
