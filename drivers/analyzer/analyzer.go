// Package analyzer drives exhaust gas analyzers and smoke opacimeters on
// serial lines.
//
// It turns their replies into checked Readings.
//
// Open takes an address such as "nha506:/dev/ttyUSB1" or "nht6:/dev/ttyS0@9600"
// and returns an Instrument. Besides Read, an instrument offers what its
// protocol has, as small interfaces found by type assertion: Zeroer,
// LeakChecker, StateReader, Pumper and PeakReader. A vendor driver (for
// example an encrypted NHA-509 that needs the vendor's library) is a Driver
// value in Options.Drivers: it plugs in without touching the agent, and may
// implement any of those interfaces. The New* constructors run a protocol
// over any io.ReadWriter, which is how the tests use them.
//
// # Where the protocols come from
//
// Every built-in protocol is taken from the serial drivers of public
// inspection-station software (repository sinq123/OBD, folder OBDEquThr/, one
// file per instrument; summarised in DOMAIN.md section 3). Each driver's
// documentation says which of its details are facts from that code and which
// are inferred. What the station code does is the reference: it clears the
// port, sends, reads a fixed number of bytes and checks the checksum where
// it checks one. This package does the same, and where the station code
// checks nothing (MQW-511, FLA-501, FTY-100), the only guard is the
// plausibility check below. Gas values are signed: an analyzer reads HC -3
// ppm after a zero, and that is a real reading.
//
// Built-in drivers, by address name:
//
//	nha506   Nanhua NHA-506I / NHA-605I     9600   main data 0x01, 21 bytes, 8-bit sum
//	fla502   FuLi FLA-502                   9600   as nha506, CO /1000, oil /10
//	nha503   Nanhua NHA-503                 9600   main data 0x2C (23 bytes), else 0x81
//	nha503v  Nanhua NHA-503V                9600   main data 0x01, oil /10
//	mqw511   MingQuan MQW-511               9600   main data 0x03, 19 bytes, no checksum
//	nha501a  Nanhua NHA-501A                9600   as mqw511, with zero 0x0C
//	fla501   FuLi FLA-501                   9600   framed 02 LEN CMD, no reply checksum
//	mqw50a   MingQuan MQW-50A               9600   framed 02 CMD LEN, two's complement
//	fga4100  Foshan FGA-4100               19200   framed 7E LEN, ASCII fields
//	nht6     Nanhua NHT-6 opacimeter        9600   [cmd chk], two's complement, NAK 15 code
//	mqy200   MingQuan MQY-200 opacimeter    9600   NHT-6 framing, real time 0xA6
//	fty100   FoFen FTY-100 opacimeter       9600   'f' 't' 'y' 01 02 cmd chk
//
// # Plausibility
//
// A reply that passes its checksum can still hold a value no instrument
// measures: CO 327.67 %vol, oil temperature -32768 degC. Every decoded value
// is checked against a range (DefaultRanges, in physical units, the same for
// every built-in instrument because the station code clamps every gas
// analyzer to one shared set of limits; Options.Ranges overrides them). A
// reading with a value outside its range is refused with an
// *ImplausibleError (errors.Is ErrImplausible), counted in
// Stats.Implausible, logged once per driver, and never returned as a
// reading. The ranges are inferred from the instruments' usual measuring
// ranges plus a margin for negative values after a zero.
//
// # Robustness
//
// Each exchange discards stale input, sends the request and reads the reply
// with a deadline (the earlier of ctx's and Options.Timeout). Where a reply
// has a checksum, the driver slides over bytes that do not make a valid
// frame (garbage before a reply), counting them in Stats.Discarded. A reply
// that fails its checksum or layout, or stops for longer than Options.Gap,
// is counted (Stats.BadFrames), logged once per driver, and the request is
// sent again up to Options.Retries times. An instrument that sends nothing
// gives ErrNoResponse naming the port; NAK replies give ErrNAK (*NAKError
// carries the opacimeters' code).
//
// The drivers read the line from one goroutine each, so that every wait
// honours its context. They treat a read error that is a timeout
// (os.ErrDeadlineExceeded, as package serialport reports a quiet line) as
// "no data yet" and any other error, io.EOF included, as the end of the line
// (ErrClosed). Give them a serialport.Port, not a bare tarm/serial port,
// which reports a quiet line as io.EOF.
package analyzer

import (
	"context"
	"time"
)

// Instrument is an instrument that gives emission readings. Read asks for one
// reading and waits at most until ctx ends (and never longer than the
// driver's own timeout). Close releases the serial line and stops every
// goroutine of the driver.
type Instrument interface {
	Read(ctx context.Context) (Reading, error)
	Close() error
}

// Zeroer is an instrument that can zero itself. Zero returns once the zero
// is done: nil on success, ErrZeroFailed when the instrument reports a
// failed zero, ErrNotFinished when it is still busy at the deadline. On an
// opacimeter, Zero runs the calibration that checks zero with clean air.
type Zeroer interface {
	Zero(ctx context.Context) error
}

// LeakChecker is an instrument that can check its sample line for leaks
// (the technician caps the probe first). LeakCheck returns nil when the
// line is tight and ErrLeak when the instrument found a leak.
type LeakChecker interface {
	LeakCheck(ctx context.Context) error
}

// StateReader is an instrument that reports what it is doing.
type StateReader interface {
	State(ctx context.Context) (State, error)
}

// Pumper is an instrument whose pump and valves can be switched. An action
// the instrument does not have gives ErrUnsupported.
type Pumper interface {
	Pump(ctx context.Context, a PumpAction) error
}

// PeakReader is an opacimeter that keeps the highest values since it was
// cleared, so a free acceleration's peak is not missed between two reads.
type PeakReader interface {
	ClearPeak(ctx context.Context) error
	Peak(ctx context.Context) (Reading, error)
}

// PumpAction is what Pump does.
type PumpAction string

// Pump actions.
const (
	PumpProbe     PumpAction = "probe"      // pump on, sample from the probe
	PumpAmbient   PumpAction = "ambient"    // pump on, sample ambient air
	PumpBackFlush PumpAction = "back_flush" // blow the probe and line clean
	PumpStop      PumpAction = "stop"       // stop the pump (and a back-flush)
)

// Mode is what an instrument reports it is doing.
type Mode string

// Instrument modes.
const (
	ModeReady       Mode = "ready"       // idle, pump off, ready to measure
	ModeMeasuring   Mode = "measuring"   // pump on, measuring
	ModeWarmingUp   Mode = "warming_up"  // not ready yet
	ModeLeakCheck   Mode = "leak_check"  // a leak check is running
	ModeZeroing     Mode = "zeroing"     // a zero is running
	ModeCalibrating Mode = "calibrating" // a calibration is running
	ModeFault       Mode = "fault"       // the instrument reports an internal fault
	ModeUnknown     Mode = "unknown"     // a status this package cannot interpret
)

// State is what an instrument reported about itself.
type State struct {
	Mode Mode `json:"mode"`
	// WarmUpLeft is the warm-up time left, when the instrument tells it.
	WarmUpLeft time.Duration `json:"warm_up_left,omitempty"`
	// Raw is the status as the instrument sent it, in hex.
	Raw string `json:"raw,omitempty"`
}

// Test methods and kinds of reading, for Reading.Method.
const (
	MethodRealtime          = "realtime"
	MethodTwoSpeedIdle      = "two_speed_idle"
	MethodASM               = "asm"
	MethodFreeAcceleration  = "free_acceleration"
	MethodAmbient           = "ambient"
	MethodPeak              = "peak"
	defaultGasMethod        = MethodRealtime
	defaultOpacimeterMethod = MethodFreeAcceleration
)

// Quantity names used in readings.
const (
	QuantityHC             = "hc"
	QuantityCO             = "co"
	QuantityCO2            = "co2"
	QuantityO2             = "o2"
	QuantityNO             = "no"
	QuantityLambda         = "lambda"
	QuantityRPM            = "rpm"
	QuantityOilTemperature = "oil_temperature"
	QuantityFlow           = "flow"
	QuantityOpacityN       = "opacity_n"
	QuantityOpacityK       = "opacity_k"
	QuantityK1             = "k1"
	QuantityK2             = "k2"
	QuantityK3             = "k3"
	QuantityKMean          = "k_mean"
	QuantityIdleRPM        = "idle_rpm"
	QuantityTemperature    = "ambient_temperature"
	QuantityPressure       = "ambient_pressure"
	QuantityHumidity       = "ambient_humidity"
)

// Status flags used in readings.
const (
	StatusO2SensorAged     = "o2_sensor_aged"
	StatusNOSensorAged     = "no_sensor_aged"
	StatusWaterTrapFull    = "water_trap_full"    // NHA-503: empty the water trap
	StatusNoOilTemperature = "no_oil_temperature" // the opacimeter has no oil temperature sensor
)

// Units used in readings.
const (
	UnitPPM      = "ppm"  // parts per million by volume (10^-6)
	UnitVol      = "%vol" // percent by volume
	UnitPercent  = "%"    // percent (opacity N, relative humidity)
	UnitPerMetre = "m^-1" // light absorption coefficient K
	UnitRPM      = "rpm"  // revolutions per minute
	UnitCelsius  = "°C"   // degrees Celsius
	UnitKPa      = "kPa"  // kilopascal
	UnitNone     = ""     // dimensionless (lambda) or instrument units (flow)
)

// InstrumentID says which instrument produced a reading.
type InstrumentID struct {
	Model    string `json:"model"`    // e.g. "NHA-506", "FLA-502", "MQY-200"
	Port     string `json:"port"`     // the serial device, e.g. "/dev/ttyUSB1"
	Protocol string `json:"protocol"` // the driver name, e.g. "nha506"
}

// Quantity is one measured value with its unit.
type Quantity struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Reading is one set of values read from an instrument.
type Reading struct {
	Method     string       `json:"method"`
	Instrument InstrumentID `json:"instrument"`
	Time       time.Time    `json:"time"`
	Values     []Quantity   `json:"values"`
	Status     []string     `json:"status,omitempty"`
}

// Value returns the quantity with the given name.
func (r Reading) Value(name string) (Quantity, bool) {
	for _, q := range r.Values {
		if q.Name == name {
			return q, true
		}
	}
	return Quantity{}, false
}

// Stats counts what a driver saw on its line since it was created.
type Stats struct {
	Frames      int64 `json:"frames"`      // valid replies
	BadFrames   int64 `json:"bad_frames"`  // replies that failed their checksum or layout
	Discarded   int64 `json:"discarded"`   // bytes thrown away while resynchronising
	Implausible int64 `json:"implausible"` // readings refused as implausible
}
