package emission

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/agent/i18n"
)

// Verdict results.
const (
	Pass    = "pass"
	Fail    = "fail"
	Aborted = "aborted"
)

// Abort reasons, for Verdict.Reason.
const (
	ReasonWarmingUp        = "instrument_warming_up"
	ReasonZeroFailed       = "zero_failed"
	ReasonInstrument       = "instrument_error"
	ReasonOilTooCold       = "oil_too_cold"
	ReasonNoOilTemperature = "no_oil_temperature"
	ReasonNotInWindow      = "engine_not_in_window"
	ReasonOutOfWindow      = "rpm_out_of_window"
	ReasonNoEngineSpeed    = "no_engine_speed"
	ReasonDiluted          = "diluted"
	ReasonTooFewReadings   = "too_few_readings"
	ReasonNoAcceleration   = "no_acceleration"
	ReasonGovernedSpeed    = "governed_speed_not_reached"
	ReasonCancelled        = "cancelled"
)

// Verdict is the outcome of a procedure: pass, fail with the gases and
// limits exceeded, or aborted with the reason.
type Verdict struct {
	Result   string    `json:"result"`
	Failures []Failure `json:"failures,omitempty"`
	// Reason is the abort reason code, Step the step it happened in.
	Reason string `json:"reason,omitempty"`
	Step   string `json:"step,omitempty"`
	// Detail is the English detail of an abort (values, errors).
	Detail string `json:"detail,omitempty"`
	// Notes are what was not judged and why (e.g. no lambda from the
	// instrument).
	Notes []string `json:"notes,omitempty"`
	// Unverified: the limits judged against are unverified defaults.
	Unverified bool `json:"unverified"`
	// Text is the verdict for people, by language ("en", "zh-CN").
	Text map[string]string `json:"text"`

	msg message // the verdict's message, to render Text
}

// Failure is one limit exceeded.
type Failure struct {
	// Mode is where it was measured: idle, high_idle, or k_mean for free
	// acceleration.
	Mode     string  `json:"mode"`
	Quantity string  `json:"quantity"` // co, hc, lambda, k_mean
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Limit is the highest value allowed; for lambda, Min and Max.
	Limit float64 `json:"limit,omitempty"`
	Min   float64 `json:"min,omitempty"`
	Max   float64 `json:"max,omitempty"`
}

// message is a catalogue key with arguments, some of which are messages
// themselves (a step's name, a list of failures), rendered in the reader's
// language.
type message struct {
	key  string
	args []any
}

func msg(key string, args ...any) message { return message{key, args} }

// in renders m in l, rendering message arguments in l first.
func (m message) in(l i18n.Lang) string {
	args := make([]any, len(m.args))
	for i, a := range m.args {
		switch v := a.(type) {
		case message:
			args[i] = v.in(l)
		case []message:
			parts := make([]string, len(v))
			for j, p := range v {
				parts[j] = p.in(l)
			}
			sep := "; "
			if l == i18n.Chinese {
				sep = "；"
			}
			args[i] = strings.Join(parts, sep)
		case float64:
			args[i] = num(v)
		default:
			args[i] = a
		}
	}
	return i18n.Text(l, m.key, args...)
}

// texts renders m in every language.
func (m message) texts() map[string]string {
	out := make(map[string]string)
	for _, l := range i18n.Langs() {
		out[l.String()] = m.in(l)
	}
	return out
}

// i18n returns m as an i18n.Message when no argument needs translating
// (prompts); otherwise the English rendering is the fallback.
func (m message) i18n() i18n.Message {
	args := make([]any, len(m.args))
	for i, a := range m.args {
		if f, ok := a.(float64); ok {
			a = num(f)
		}
		args[i] = a
	}
	return i18n.M(m.key, args...)
}

// num formats a value as people read it: no trailing zeros, at most three
// decimals.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func stepName(step string) message { return msg("emission.step." + step) }

func methodName(method string) message { return msg("emission.method." + method) }

// abortError ends a procedure early with a reason.
type abortError struct {
	reason string
	step   string
	msg    message
	detail string
}

func (e *abortError) Error() string { return "emission: test aborted: " + e.reason + ": " + e.detail }

func abortf(reason, step string, m message, format string, args ...any) *abortError {
	return &abortError{reason: reason, step: step, msg: m, detail: fmt.Sprintf(format, args...)}
}

func (v *Verdict) finish(method, set string) {
	switch v.Result {
	case Pass:
		v.msg = msg("emission.verdict.pass", "method", methodName(method), "set", set)
	case Fail:
		var fs []message
		for _, f := range v.Failures {
			fs = append(fs, f.message())
		}
		v.msg = msg("emission.verdict.fail", "method", methodName(method), "set", set, "failures", fs)
	}
	v.Text = v.msg.texts()
	if v.Unverified && v.Result != Aborted {
		for l, t := range msg("emission.verdict.unverified").texts() {
			v.Text[l] += " " + t
		}
	}
}

func aborted(method string, e *abortError) Verdict {
	v := Verdict{Result: Aborted, Reason: e.reason, Step: e.step, Detail: e.detail}
	v.msg = msg("emission.verdict.aborted", "method", methodName(method), "reason", e.msg)
	v.Text = v.msg.texts()
	return v
}

func (f Failure) message() message {
	switch f.Quantity {
	case "lambda":
		return msg("emission.failure.lambda", "value", f.Value, "min", f.Min, "max", f.Max)
	case "k_mean":
		return msg("emission.failure.k", "value", f.Value, "limit", f.Limit)
	}
	return msg("emission.failure.gas", "mode", stepName(f.Mode), "gas", strings.ToUpper(f.Quantity),
		"value", f.Value, "unit", unitText(f.Unit), "limit", f.Limit)
}

func unitText(u string) string {
	if u == "%vol" {
		return "%"
	}
	return " " + u
}
