package analyzersim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// ErrInvalid is returned (wrapped, naming the field) for a readings file that
// cannot be loaded or encoded by its instrument.
var ErrInvalid = errors.New("analyzersim: invalid readings")

// Protocols the simulator speaks (the analyzer driver names).
const (
	ProtocolNHA506  = "nha506"
	ProtocolFLA502  = "fla502"
	ProtocolNHA503  = "nha503"
	ProtocolNHA503V = "nha503v"
	ProtocolMQW511  = "mqw511"
	ProtocolNHA501A = "nha501a"
	ProtocolFLA501  = "fla501"
	ProtocolMQW50A  = "mqw50a"
	ProtocolFGA4100 = "fga4100"
	ProtocolNHT6    = "nht6"
	ProtocolMQY200  = "mqy200"
	ProtocolFTY100  = "fty100"
)

// Protocols lists every protocol the simulator speaks.
func Protocols() []string {
	return []string{ProtocolNHA506, ProtocolFLA502, ProtocolNHA503, ProtocolNHA503V, ProtocolMQW511, ProtocolNHA501A,
		ProtocolFLA501, ProtocolMQW50A, ProtocolFGA4100, ProtocolNHT6, ProtocolMQY200, ProtocolFTY100}
}

func isOpacimeter(p string) bool {
	return p == ProtocolNHT6 || p == ProtocolMQY200 || p == ProtocolFTY100
}

// Readings is what a simulated instrument reports and how it behaves,
// loaded from a YAML file in testdata/analyzers. Values are written as the
// driver reports them (HC ppm, CO %vol, oil temperature degC, ...); each
// must be exactly representable in the instrument's encoding (CO 1.20 is,
// CO 1.205 is not, except on the FLA-502 and FLA-501, which send CO to
// 0.001 %vol).
//
// A gas analyzer reports either a fixed sequence (Gas) or, following the
// engine (Options.Engine), Air with the engine stopped, Idle below
// HighIdleFrom rpm and HighIdle from there on, each with the engine's rpm.
type Readings struct {
	// Protocol is one of Protocols().
	Protocol string `yaml:"protocol"`
	// Gas are samples answered in order, one per main data request; the
	// last one repeats. Used when no engine-following samples are given.
	Gas []GasSample `yaml:"gas"`
	// Air is what the analyzer reads with the probe in ambient air after a
	// zero: typically slightly negative HC and CO.
	Air *GasSample `yaml:"air"`
	// Idle and HighIdle are the exhaust at idle and at high idle.
	Idle     *GasSample `yaml:"idle"`
	HighIdle *GasSample `yaml:"high_idle"`
	// HighIdleFrom is the engine speed from which HighIdle applies
	// (default 1800 rpm).
	HighIdleFrom float64 `yaml:"high_idle_from"`
	// Ambient is the ambient reply (NHA family, MQW-50A); absent means
	// NAK on the NHA family and 25 degC, 101.3 kPa, 50 % on the MQW-50A.
	Ambient *Ambient `yaml:"ambient"`
	// Opacity holds what an opacimeter reports.
	Opacity *Opacity `yaml:"opacity"`
	// Behaviour is how the instrument goes through its day.
	Behaviour Behaviour `yaml:"behaviour"`
}

// Behaviour is how long the instrument's warm-up, zero, leak check and
// calibration take, counted in status polls (so that tests do not depend on
// the clock), and how they end.
type Behaviour struct {
	// WarmUpPolls: the first WarmUpPolls status requests report warming
	// up, with WarmUpPolls-i seconds left.
	WarmUpPolls int `yaml:"warm_up_polls"`
	// ZeroPolls: a zero answers "still running" this many times, then its
	// outcome; ZeroFails makes the outcome a failure.
	ZeroPolls int  `yaml:"zero_polls"`
	ZeroFails bool `yaml:"zero_fails"`
	// LeakPolls and Leak do the same for the leak check.
	LeakPolls int  `yaml:"leak_polls"`
	Leak      bool `yaml:"leak"`
}

// GasSample is one gas analyzer sample.
type GasSample struct {
	HC             float64 `yaml:"hc"`              // ppm
	CO             float64 `yaml:"co"`              // %vol
	CO2            float64 `yaml:"co2"`             // %vol
	O2             float64 `yaml:"o2"`              // %vol
	NO             float64 `yaml:"no"`              // ppm
	Lambda         float64 `yaml:"lambda"`          // dimensionless
	RPM            float64 `yaml:"rpm"`             // 1/min (replaced by the engine's when it is followed)
	OilTemperature float64 `yaml:"oil_temperature"` // degC
	Flow           float64 `yaml:"flow"`            // instrument units, NHA family only
	O2SensorAged   bool    `yaml:"o2_sensor_aged"`  // NHA family
	NOSensorAged   bool    `yaml:"no_sensor_aged"`  // NHA family
	WaterTrapFull  bool    `yaml:"water_trap_full"` // NHA-503 only
}

// Ambient is the ambient reply.
type Ambient struct {
	Temperature float64 `yaml:"temperature"` // degC
	Pressure    float64 `yaml:"pressure"`    // kPa
	Humidity    float64 `yaml:"humidity"`    // %
}

// Opacity is what an opacimeter reports.
type Opacity struct {
	// Realtime samples, answered in order; the last one repeats. Used when
	// Idle is not set.
	Realtime []OpacitySample `yaml:"realtime"`
	// Idle and Accelerating follow the engine: Accelerating from AccelFrom
	// rpm (default 1500).
	Idle         *OpacitySample `yaml:"idle"`
	Accelerating *OpacitySample `yaml:"accelerating"`
	AccelFrom    float64        `yaml:"accel_from"`
	// FreeAcceleration is the instrument's own result (NHT-6); absent
	// means NAK.
	FreeAcceleration *FreeAcceleration `yaml:"free_acceleration"`
	// CalibrationPolls: after a calibration the status reports
	// calibrating this many times.
	CalibrationPolls int `yaml:"calibration_polls"`
	// CalibrationFails ends the calibration in status 3 (internal fault).
	CalibrationFails bool `yaml:"calibration_fails"`
}

// OpacitySample is one real-time opacimeter sample.
type OpacitySample struct {
	N   float64 `yaml:"n"`   // %
	K   float64 `yaml:"k"`   // m^-1 (the FTY-100 sends no K: its driver computes it from N)
	RPM float64 `yaml:"rpm"` // 1/min (replaced by the engine's when it is followed)
	// OilTemperature in whole degC (the instrument sends kelvin and the
	// driver subtracts 273). Absent means no sensor (0xFFFF on the line).
	OilTemperature *float64 `yaml:"oil_temperature"`
}

// FreeAcceleration is a free-acceleration result.
type FreeAcceleration struct {
	K1      float64 `yaml:"k1"`       // m^-1
	K2      float64 `yaml:"k2"`       // m^-1
	K3      float64 `yaml:"k3"`       // m^-1
	KMean   float64 `yaml:"k_mean"`   // m^-1
	IdleRPM float64 `yaml:"idle_rpm"` // 1/min
}

// Load reads a readings file; unknown fields are errors.
func Load(r io.Reader) (*Readings, error) { return yamlfile.Parse[Readings](r, ErrInvalid) }

// LoadFile reads the readings file at path.
func LoadFile(path string) (*Readings, error) { return yamlfile.Load(path, Load) }

// Validate checks that the instrument can encode every value exactly.
func (r *Readings) Validate() error {
	_, err := r.compile()
	return err
}

// enc collects encoding errors so that one compile reports the first.
type enc struct{ err error }

func (e *enc) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
}

// word encodes v as a 16-bit count of 1/scale, signed or not, and checks
// that decoding gives v back exactly.
func (e *enc) word(field string, v float64, scale int64, signed bool) uint16 {
	lo, hi := 0.0, float64(math.MaxUint16)
	if signed {
		lo, hi = math.MinInt16, math.MaxInt16
	}
	n, ok := e.fixed(field, v, scale, lo, hi)
	if !ok {
		return 0
	}
	return uint16(int64(n))
}

// ascii checks v for a 4-character FGA-4100 field.
func (e *enc) ascii(field string, v float64, scale int64) int64 {
	n, _ := e.fixed(field, v, scale, -999, 9999)
	return int64(n)
}

func (e *enc) fixed(field string, v float64, scale int64, lo, hi float64) (float64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.fail("%s: %v is not a number", field, v)
		return 0, false
	}
	r := math.Round(v * float64(scale))
	if r < lo || r > hi {
		e.fail("%s: %v outside %v..%v", field, v, lo/float64(scale), hi/float64(scale))
		return 0, false
	}
	if r/float64(scale) != v {
		e.fail("%s: %v is not a multiple of %v", field, v, 1/float64(scale))
		return 0, false
	}
	return r, true
}

// compiled is a Readings checked for its instrument.
type compiled struct {
	protocol            string
	following           bool // engine-following samples are set
	seqGas              []GasSample
	air, idle, highIdle *GasSample
	highIdleFrom        float64
	ambient             *Ambient
	opaSeq              []OpacitySample
	opaIdle, opaAccel   *OpacitySample
	accelFrom           float64
	free                *FreeAcceleration
	calPolls            int
	calFails            bool
	behaviour           Behaviour
}

func (r *Readings) compile() (*compiled, error) {
	var e enc
	c := &compiled{protocol: r.Protocol, ambient: r.Ambient, behaviour: r.Behaviour, highIdleFrom: r.HighIdleFrom}
	if c.highIdleFrom == 0 {
		c.highIdleFrom = 1800
	}
	if !slices.Contains(Protocols(), r.Protocol) {
		e.fail("protocol %q: want one of %v", r.Protocol, Protocols())
		return nil, e.err
	}
	b := r.Behaviour
	if b.WarmUpPolls < 0 || b.ZeroPolls < 0 || b.LeakPolls < 0 {
		e.fail("behaviour: poll counts must not be negative")
	}
	if isOpacimeter(r.Protocol) {
		if r.Opacity == nil {
			e.fail("protocol %s needs opacity", r.Protocol)
			return nil, e.err
		}
		if len(r.Gas) > 0 || r.Air != nil || r.Idle != nil || r.HighIdle != nil || r.Ambient != nil {
			e.fail("protocol %s has no gas or ambient readings", r.Protocol)
		}
		o := r.Opacity
		c.accelFrom, c.free, c.calPolls, c.calFails = o.AccelFrom, o.FreeAcceleration, o.CalibrationPolls, o.CalibrationFails
		if c.accelFrom == 0 {
			c.accelFrom = 1500
		}
		if len(o.Realtime) == 0 && o.Idle == nil {
			e.fail("opacity: need realtime samples or idle")
		}
		if (o.Idle == nil) != (o.Accelerating == nil) {
			e.fail("opacity: idle and accelerating go together")
		}
		if o.FreeAcceleration != nil && r.Protocol != ProtocolNHT6 {
			e.fail("opacity.free_acceleration: only the nht6 keeps a result")
		}
		for i, s := range o.Realtime {
			e.opacity(r.Protocol, fmt.Sprintf("opacity.realtime[%d]", i), s)
			c.opaSeq = append(c.opaSeq, s)
		}
		if o.Idle != nil {
			e.opacity(r.Protocol, "opacity.idle", *o.Idle)
			e.opacity(r.Protocol, "opacity.accelerating", *o.Accelerating)
			c.opaIdle, c.opaAccel = o.Idle, o.Accelerating
		}
		if f := o.FreeAcceleration; f != nil {
			p := "opacity.free_acceleration."
			e.word(p+"k1", f.K1, 100, false)
			e.word(p+"k2", f.K2, 100, false)
			e.word(p+"k3", f.K3, 100, false)
			e.word(p+"k_mean", f.KMean, 100, false)
			e.word(p+"idle_rpm", f.IdleRPM, 1, false)
		}
		return c, e.err
	}
	if r.Opacity != nil {
		e.fail("protocol %s has no opacity readings", r.Protocol)
	}
	c.following = r.Idle != nil || r.HighIdle != nil || r.Air != nil
	switch {
	case c.following && (r.Idle == nil || r.HighIdle == nil):
		e.fail("idle and high_idle go together (air is optional)")
	case !c.following && len(r.Gas) == 0:
		e.fail("protocol %s needs gas samples, or idle and high_idle", r.Protocol)
	case c.following && len(r.Gas) > 0:
		e.fail("give either gas samples or idle/high_idle, not both")
	}
	for i, g := range r.Gas {
		e.gas(r.Protocol, fmt.Sprintf("gas[%d]", i), g)
		c.seqGas = append(c.seqGas, g)
	}
	for _, s := range []struct {
		name string
		g    *GasSample
	}{{"air", r.Air}, {"idle", r.Idle}, {"high_idle", r.HighIdle}} {
		if s.g != nil {
			e.gas(r.Protocol, s.name, *s.g)
		}
	}
	c.air, c.idle, c.highIdle = r.Air, r.Idle, r.HighIdle
	if a := r.Ambient; a != nil {
		switch r.Protocol {
		case ProtocolNHA506, ProtocolFLA502, ProtocolNHA503, ProtocolNHA503V, ProtocolMQW50A:
			e.word("ambient.temperature", a.Temperature, 10, true)
			e.word("ambient.pressure", a.Pressure, 10, true)
			e.word("ambient.humidity", a.Humidity, 10, true)
		default:
			e.fail("protocol %s has no ambient reading", r.Protocol)
		}
	}
	return c, e.err
}

// gas checks a gas sample against the protocol's encoding.
func (e *enc) gas(protocol, p string, g GasSample) {
	sc := gasScalesOf(protocol)
	p += "."
	if protocol == ProtocolFGA4100 {
		e.ascii(p+"hc", g.HC, 1)
		e.ascii(p+"co", g.CO, sc.co)
		e.ascii(p+"co2", g.CO2, sc.co2)
		e.ascii(p+"o2", g.O2, sc.o2)
		e.ascii(p+"no", g.NO, 1)
		e.ascii(p+"lambda", g.Lambda, sc.lambda)
		e.ascii(p+"rpm", g.RPM, 1)
		e.ascii(p+"oil_temperature", g.OilTemperature, sc.oil)
	} else {
		e.word(p+"hc", g.HC, 1, true)
		e.word(p+"co", g.CO, sc.co, true)
		e.word(p+"co2", g.CO2, sc.co2, true)
		e.word(p+"o2", g.O2, sc.o2, true)
		e.word(p+"no", g.NO, 1, true)
		e.word(p+"lambda", g.Lambda, sc.lambda, true)
		e.word(p+"rpm", g.RPM, 1, false)
		e.word(p+"oil_temperature", g.OilTemperature, sc.oil, sc.oilSigned)
	}
	if !sc.nha && (g.Flow != 0 || g.O2SensorAged || g.NOSensorAged) {
		e.fail("%sflow/o2_sensor_aged/no_sensor_aged: not sent by %s", p, protocol)
	}
	if sc.nha {
		e.word(p+"flow", g.Flow, 1, false)
	}
	if g.WaterTrapFull && protocol != ProtocolNHA503 {
		e.fail("%swater_trap_full: only the nha503 sends it", p)
	}
}

func (e *enc) opacity(protocol, p string, s OpacitySample) {
	e.word(p+".n", s.N, 10, false)
	if protocol != ProtocolFTY100 {
		e.word(p+".k", s.K, 100, false)
	}
	e.word(p+".rpm", s.RPM, 1, false)
	if s.OilTemperature != nil {
		k := *s.OilTemperature + 273
		if k != math.Trunc(k) || k < 0 || k >= 0xFFFF {
			e.fail("%s.oil_temperature: %v degC is not a whole kelvin less 273", p, *s.OilTemperature)
		}
	}
}

// gasScales are how a protocol scales its gas fields (from DOMAIN.md
// section 3, written here independently of package analyzer).
type gasScales struct {
	co, co2, o2, lambda, oil int64
	oilSigned                bool
	nha                      bool // the NHA family layout with flow and flags
}

func gasScalesOf(protocol string) gasScales {
	switch protocol {
	case ProtocolNHA506:
		return gasScales{co: 100, co2: 100, o2: 100, lambda: 100, oil: 1, oilSigned: true, nha: true}
	case ProtocolFLA502:
		return gasScales{co: 1000, co2: 100, o2: 100, lambda: 100, oil: 10, oilSigned: true, nha: true}
	case ProtocolNHA503, ProtocolNHA503V:
		return gasScales{co: 100, co2: 100, o2: 100, lambda: 100, oil: 10, oilSigned: true, nha: true}
	case ProtocolMQW511, ProtocolNHA501A:
		return gasScales{co: 100, co2: 100, o2: 100, lambda: 100, oil: 1}
	case ProtocolFLA501:
		return gasScales{co: 1000, co2: 100, o2: 100, lambda: 100, oil: 10, oilSigned: true}
	case ProtocolMQW50A:
		return gasScales{co: 100, co2: 100, o2: 100, lambda: 1000, oil: 10, oilSigned: true}
	case ProtocolFGA4100:
		return gasScales{co: 100, co2: 10, o2: 10, lambda: 100, oil: 10, oilSigned: true}
	}
	return gasScales{co: 100, co2: 100, o2: 100, lambda: 100, oil: 1}
}
