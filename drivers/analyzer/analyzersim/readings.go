package analyzersim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/bayagent/bayagent/drivers/analyzer"
)

// ErrInvalid is returned (wrapped, naming the field) for a readings file that
// cannot be loaded or encoded by its instrument.
var ErrInvalid = errors.New("analyzersim: invalid readings")

// Protocols the simulator speaks (the analyzer driver names).
const (
	ProtocolNHA506  = "nha506"
	ProtocolMQW511  = "mqw511"
	ProtocolFGA4100 = "fga4100"
	ProtocolNHT6    = "nht6"
)

// Readings is what a simulated instrument reports, loaded from a YAML file in
// testdata/analyzers. Values are written as the driver reports them (HC ppm,
// CO %vol, oil temperature degC, ...); each must be exactly representable in
// the instrument's encoding (CO 1.20 is, CO 1.205 is not).
type Readings struct {
	// Protocol is one of nha506, mqw511, fga4100, nht6.
	Protocol string `yaml:"protocol"`
	// Gas are the gas analyzer samples, answered in order, one per main
	// data request; the last one repeats.
	Gas []GasSample `yaml:"gas"`
	// Ambient is the NHA-506 ambient reply; absent means NAK.
	Ambient *Ambient `yaml:"ambient"`
	// Opacity holds what an opacimeter reports.
	Opacity *Opacity `yaml:"opacity"`
}

// GasSample is one gas analyzer sample.
type GasSample struct {
	HC             float64 `yaml:"hc"`              // ppm
	CO             float64 `yaml:"co"`              // %vol
	CO2            float64 `yaml:"co2"`             // %vol
	O2             float64 `yaml:"o2"`              // %vol
	NO             float64 `yaml:"no"`              // ppm
	Lambda         float64 `yaml:"lambda"`          // dimensionless
	RPM            float64 `yaml:"rpm"`             // 1/min
	OilTemperature float64 `yaml:"oil_temperature"` // degC
	Flow           float64 `yaml:"flow"`            // instrument units, NHA-506 only
	O2SensorAged   bool    `yaml:"o2_sensor_aged"`  // NHA-506, MQW-511
	NOSensorAged   bool    `yaml:"no_sensor_aged"`  // NHA-506, MQW-511
}

// Ambient is the NHA-506 ambient reply.
type Ambient struct {
	Temperature float64 `yaml:"temperature"` // degC
	Pressure    float64 `yaml:"pressure"`    // kPa
	Humidity    float64 `yaml:"humidity"`    // %
}

// Opacity is what an NHT-6 reports.
type Opacity struct {
	// Realtime samples, answered in order; the last one repeats.
	Realtime []OpacitySample `yaml:"realtime"`
	// FreeAcceleration is the result of the last test; absent means NAK.
	FreeAcceleration *FreeAcceleration `yaml:"free_acceleration"`
	// Status is the initial status byte.
	Status uint8 `yaml:"status"`
}

// OpacitySample is one real-time opacimeter sample.
type OpacitySample struct {
	N   float64 `yaml:"n"`   // %
	K   float64 `yaml:"k"`   // m^-1
	RPM float64 `yaml:"rpm"` // 1/min
	// OilTemperature in degC; the instrument sends whole kelvin, so it must
	// be a whole kelvin less 273.15, e.g. 84.85 (358 K). Absent means no
	// sensor (0xFFFF on the line).
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
func Load(r io.Reader) (*Readings, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var rd Readings
	if err := dec.Decode(&rd); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := rd.Validate(); err != nil {
		return nil, err
	}
	return &rd, nil
}

// LoadFile reads the readings file at path.
func LoadFile(path string) (*Readings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rd, nil
}

// Validate checks that the instrument can encode every value exactly.
func (r *Readings) Validate() error {
	_, err := r.encode()
	return err
}

// frames is a Readings encoded for its instrument.
type frames struct {
	gas     []analyzer.GasFrame
	fga     []analyzer.FGAFrame
	ambient *analyzer.AmbientFrame
	opacity []analyzer.OpacityFrame
	free    *analyzer.FreeAccelerationFrame
	status  byte
}

// fixed encodes v as an integer count of 1/scale within [lo, hi] and checks
// that decoding gives v back exactly.
func fixed(field string, v float64, scale, lo, hi int64) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %s: %v is not a number", ErrInvalid, field, v)
	}
	r := math.Round(v * float64(scale))
	if r < float64(lo) || r > float64(hi) {
		return 0, fmt.Errorf("%w: %s: %v outside %v..%v", ErrInvalid, field, v, float64(lo)/float64(scale), float64(hi)/float64(scale))
	}
	if r/float64(scale) != v {
		return 0, fmt.Errorf("%w: %s: %v is not a multiple of %v", ErrInvalid, field, v, 1/float64(scale))
	}
	return int64(r), nil
}

// fields collects encoding errors so that one call reports the first.
type fields struct{ err error }

func (f *fields) u16(name string, v float64, scale int64) uint16 {
	n, err := fixed(name, v, scale, 0, math.MaxUint16)
	if f.err == nil {
		f.err = err
	}
	return uint16(n)
}

func (f *fields) i16(name string, v float64, scale int64) int16 {
	n, err := fixed(name, v, scale, math.MinInt16, math.MaxInt16)
	if f.err == nil {
		f.err = err
	}
	return int16(n)
}

func (f *fields) ascii(name string, v float64, scale int64) int {
	n, err := fixed(name, v, scale, -999, 9999)
	if f.err == nil {
		f.err = err
	}
	return int(n)
}

func (f *fields) fail(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
}

func (r *Readings) encode() (*frames, error) {
	var fr frames
	var f fields
	gas := r.Protocol == ProtocolNHA506 || r.Protocol == ProtocolMQW511 || r.Protocol == ProtocolFGA4100
	switch {
	case r.Protocol == ProtocolNHT6:
		if r.Opacity == nil {
			f.fail("protocol nht6 needs opacity")
		}
		if len(r.Gas) > 0 || r.Ambient != nil {
			f.fail("protocol nht6 has no gas or ambient readings")
		}
	case gas:
		if len(r.Gas) == 0 {
			f.fail("protocol %s needs at least one gas sample", r.Protocol)
		}
		if r.Opacity != nil {
			f.fail("protocol %s has no opacity readings", r.Protocol)
		}
		if r.Ambient != nil && r.Protocol != ProtocolNHA506 {
			f.fail("protocol %s has no ambient reading", r.Protocol)
		}
	default:
		f.fail("protocol %q: want %s, %s, %s or %s", r.Protocol, ProtocolNHA506, ProtocolMQW511, ProtocolFGA4100, ProtocolNHT6)
	}
	for i, g := range r.Gas {
		p := fmt.Sprintf("gas[%d].", i)
		if r.Protocol == ProtocolFGA4100 {
			if g.Flow != 0 || g.O2SensorAged || g.NOSensorAged {
				f.fail("%sflow/o2_sensor_aged/no_sensor_aged: not sent by fga4100", p)
			}
			fr.fga = append(fr.fga, analyzer.FGAFrame{
				Address: analyzer.FGAAddress,
				HC:      f.ascii(p+"hc", g.HC, 1), CO: f.ascii(p+"co", g.CO, 100),
				CO2: f.ascii(p+"co2", g.CO2, 10), O2: f.ascii(p+"o2", g.O2, 10),
				NO: f.ascii(p+"no", g.NO, 1), Lambda: f.ascii(p+"lambda", g.Lambda, 100),
				RPM: f.ascii(p+"rpm", g.RPM, 1), OilTemperature: f.ascii(p+"oil_temperature", g.OilTemperature, 10),
			})
			continue
		}
		if g.Flow != 0 && r.Protocol != ProtocolNHA506 {
			f.fail("%sflow: not sent by %s", p, r.Protocol)
		}
		var status byte
		if g.O2SensorAged {
			status |= analyzer.StatusBitO2SensorAged
		}
		if g.NOSensorAged {
			status |= analyzer.StatusBitNOSensorAged
		}
		fr.gas = append(fr.gas, analyzer.GasFrame{
			HC: f.u16(p+"hc", g.HC, 1), CO: f.u16(p+"co", g.CO, 100), CO2: f.u16(p+"co2", g.CO2, 100),
			O2: f.u16(p+"o2", g.O2, 100), NO: f.u16(p+"no", g.NO, 1), RPM: f.u16(p+"rpm", g.RPM, 1),
			OilTemperature: f.i16(p+"oil_temperature", g.OilTemperature, 1), Flow: f.u16(p+"flow", g.Flow, 1),
			Status: status, Lambda: f.u16(p+"lambda", g.Lambda, 100),
		})
	}
	if a := r.Ambient; a != nil {
		fr.ambient = &analyzer.AmbientFrame{
			Temperature: f.i16("ambient.temperature", a.Temperature, 10),
			Pressure:    f.u16("ambient.pressure", a.Pressure, 10),
			Humidity:    f.u16("ambient.humidity", a.Humidity, 10),
		}
	}
	if o := r.Opacity; o != nil {
		if len(o.Realtime) == 0 {
			f.fail("opacity.realtime: need at least one sample")
		}
		fr.status = o.Status
		for i, s := range o.Realtime {
			p := fmt.Sprintf("opacity.realtime[%d].", i)
			of := analyzer.OpacityFrame{
				N: f.u16(p+"n", s.N, 10), K: f.u16(p+"k", s.K, 100), RPM: f.u16(p+"rpm", s.RPM, 1),
				OilTemperature: analyzer.NHT6NoTemperature,
			}
			if s.OilTemperature != nil {
				of.OilTemperature = f.kelvin(p+"oil_temperature", *s.OilTemperature)
			}
			fr.opacity = append(fr.opacity, of)
		}
		if a := o.FreeAcceleration; a != nil {
			p := "opacity.free_acceleration."
			fr.free = &analyzer.FreeAccelerationFrame{
				K1: f.u16(p+"k1", a.K1, 100), K2: f.u16(p+"k2", a.K2, 100), K3: f.u16(p+"k3", a.K3, 100),
				KMean: f.u16(p+"k_mean", a.KMean, 100), IdleRPM: f.u16(p+"idle_rpm", a.IdleRPM, 1),
			}
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return &fr, nil
}

// kelvin encodes a degC value as whole kelvin (0xFFFF is reserved).
func (f *fields) kelvin(name string, c float64) uint16 {
	h, err := fixed(name, c, 100, -27315, (analyzer.NHT6NoTemperature-1)*100-27315)
	if err == nil && (h+27315)%100 != 0 {
		err = fmt.Errorf("%w: %s: %v degC is not a whole kelvin (e.g. 84.85 degC = 358 K)", ErrInvalid, name, c)
	}
	if f.err == nil {
		f.err = err
	}
	return uint16((h + 27315) / 100)
}
