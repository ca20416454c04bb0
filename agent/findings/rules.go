package findings

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Effect is what a finding does to the pre-check verdict.
type Effect string

// Effects, from the strongest.
const (
	// EffectFail: the vehicle would fail the OBD part of the inspection.
	EffectFail Effect = "fail"
	// EffectNotReady: the vehicle cannot be judged yet (monitors have not
	// run): it would be sent back to drive, not failed.
	EffectNotReady Effect = "not_ready"
	// EffectAdvise: shown to the technician, no effect on the verdict.
	EffectAdvise Effect = "advise"
	// EffectOff: the rule is not applied; no finding is raised.
	EffectOff Effect = "off"
)

var effects = []Effect{EffectFail, EffectNotReady, EffectAdvise, EffectOff}

// ParseEffect reads an effect name: fail, not_ready, advise or off.
func ParseEffect(s string) (Effect, error) {
	if e := Effect(s); slices.Contains(effects, e) {
		return e, nil
	}
	return "", fmt.Errorf("%w: %q (want fail, not_ready, advise or off)", ErrRule, s)
}

// ErrRule: a rule set holds a value it cannot use.
var ErrRule = errors.New("findings: invalid rule")

// Rules is the pre-check rule set: for each condition an inspection
// station checks, the effect it has on the verdict. The zero value is not
// useful; start from DefaultRules. The agent reads it from the precheck
// section of its configuration.
type Rules struct {
	// NoCommunication: the vehicle did not answer at all (no ECU).
	NoCommunication Effect
	// MILOn: the malfunction indicator lamp is commanded on.
	MILOn Effect
	// PermanentDTCs: permanent codes are stored (they clear themselves only
	// once the monitor that set them has passed).
	PermanentDTCs Effect
	// Readiness: more supported monitors are not complete than
	// ReadinessAllowed (monitors named in ReadinessExempt not counted).
	Readiness        Effect
	ReadinessAllowed int
	ReadinessExempt  []string
	// VINMismatch: the VIN read from the vehicle differs from the job's.
	VINMismatch Effect
	// VINMissing: the vehicle reported no VIN, or one that is not valid.
	VINMissing Effect
	// Inducement: a J1939 controller reports an active code of one of
	// InducementSPNs (the SCR operator inducement: the engine is derated).
	Inducement     Effect
	InducementSPNs []uint32
	// SCRSPNs are the SPNs of the reagent (DEF/AdBlue) and NOx control
	// system that lead to an inducement when left unrepaired; an active
	// one is raised as a finding (advise).
	SCRSPNs []uint32
}

// Default SPN sets (SAE J1939-71/73; unverified against the final J1939DA,
// so configurable): 5245 SCR operator inducement active, 5246 SCR operator
// inducement severity; and the reagent and NOx control parameters that
// lead to an inducement: 1761 DEF tank level, 3031 DEF tank temperature,
// 3361 DEF dosing unit, 3364 DEF quality, 4094 and 4096 NOx limits exceeded
// (reagent quality, empty tank), 4334 DEF doser pressure, 4364 SCR
// conversion efficiency, 5394 DEF dosing valve.
var (
	DefaultInducementSPNs = []uint32{5245, 5246}
	DefaultSCRSPNs        = []uint32{1761, 3031, 3361, 3364, 4094, 4096, 4334, 4364, 5394}
)

// DefaultRules returns the rule set the agent uses when the configuration
// sets none. The choices (see the package doc):
//
//	no_communication: fail        mil_on: fail
//	permanent_dtcs: not_ready     readiness: not_ready, 0 allowed, none exempt
//	vin_mismatch: fail            vin_missing: advise
//	inducement: fail
func DefaultRules() Rules {
	return Rules{
		NoCommunication: EffectFail,
		MILOn:           EffectFail,
		PermanentDTCs:   EffectNotReady,
		Readiness:       EffectNotReady,
		VINMismatch:     EffectFail,
		VINMissing:      EffectAdvise,
		Inducement:      EffectFail,
		InducementSPNs:  slices.Clone(DefaultInducementSPNs),
		SCRSPNs:         slices.Clone(DefaultSCRSPNs),
	}
}

// maxReadinessAllowed bounds Rules.ReadinessAllowed: no ignition type has
// more monitors.
const maxReadinessAllowed = 16

// Validate reports every value the rule set cannot use.
func (r Rules) Validate() error {
	var errs []error
	for _, e := range []struct {
		name string
		e    Effect
	}{
		{"no_communication", r.NoCommunication}, {"mil_on", r.MILOn}, {"permanent_dtcs", r.PermanentDTCs},
		{"readiness", r.Readiness}, {"vin_mismatch", r.VINMismatch}, {"vin_missing", r.VINMissing},
		{"inducement", r.Inducement},
	} {
		if _, err := ParseEffect(string(e.e)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	if r.ReadinessAllowed < 0 || r.ReadinessAllowed > maxReadinessAllowed {
		errs = append(errs, fmt.Errorf("%w: readiness_allowed must be 0 to %d: %d", ErrRule, maxReadinessAllowed, r.ReadinessAllowed))
	}
	for _, m := range r.ReadinessExempt {
		if !knownMonitor(m) {
			errs = append(errs, fmt.Errorf("%w: readiness_exempt: unknown monitor %q (known: %s)", ErrRule, m, strings.Join(MonitorNames(), ", ")))
		}
	}
	for _, s := range append(slices.Clone(r.InducementSPNs), r.SCRSPNs...) {
		if s == 0 || s > maxSPN {
			errs = append(errs, fmt.Errorf("%w: SPN %d is not a suspect parameter number (1 to %d)", ErrRule, s, maxSPN))
		}
	}
	return errors.Join(errs...)
}

const maxSPN = 1<<19 - 1

// ParseList splits a comma-separated list of names ("evap, secondary_air"),
// dropping empty items: the form the configuration file uses for lists.
func ParseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseSPNs reads a comma-separated list of SPNs ("5245, 5246").
func ParseSPNs(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range ParseList(s) {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil || v == 0 || v > maxSPN {
			return nil, fmt.Errorf("%w: %q is not a suspect parameter number (1 to %d)", ErrRule, f, maxSPN)
		}
		out = append(out, uint32(v))
	}
	return out, nil
}
