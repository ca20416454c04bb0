// Package analyzer reads exhaust gas analyzers and smoke opacimeters on
// serial lines (RS-232, 8N1, big-endian 16-bit values) and turns their
// replies into Readings: the test method, the instrument, the time and
// values with units. The job layer consumes Instrument; which phase
// (before or after repair) a reading belongs to is its business, not ours.
//
// Open takes an address such as "nha506:/dev/ttyUSB1" or
// "nht6:/dev/ttyS0@9600" (built-in drivers: nha506, fla502, mqw511, fga4100,
// nht6, mqy200) and returns an Instrument; a vendor driver (for
// example an encrypted NHA-509 that needs the vendor's library) is a Driver
// value passed in Options.Drivers, so that it plugs in without touching the
// agent. NewNHA506, NewMQW511, NewFGA4100 and NewNHT6 run a protocol over any
// io.ReadWriter, which is how the tests and the simulator (package
// analyzersim) use them.
//
// # Protocols and the frame layouts chosen here
//
// DOMAIN.md section 3 fixes most of each protocol; the details it leaves open
// were chosen as follows, and live only in the constants and the Parse/Append
// functions of this package (the simulator reuses them).
//
// NHA-506 family (also FLA-502), 9600 baud. Requests are one byte without a
// checksum. Replies:
//
//	0x01 main data  21 bytes: [0] 0x06 header (the ACK byte), [1-2] HC ppm,
//	                [3-4] CO %vol x100, [5-6] CO2 %vol x100, [7-8] O2 %vol x100,
//	                [9-10] NO ppm, [11-12] rpm, [13-14] oil temperature degC
//	                (signed), [15-16] flow (instrument units), [17] status
//	                (bit0 O2 sensor aged, bit1 NO sensor aged), [18-19] lambda
//	                x100, [20] checksum = 8-bit sum of bytes 0-19
//	0x02 ambient     8 bytes: [0] 0x06, [1-2] temperature degC x10 (signed),
//	                [3-4] pressure kPa x10, [5-6] relative humidity % x10,
//	                [7] checksum = 8-bit sum of bytes 0-6
//	5, 6, 7, 8      (back-flush, stop pump, leak check, zero): one byte,
//	                0x06 ACK, 0x05 busy, 0x15 NAK
//
// A data request may also be answered by the single byte 0x05 (busy) or 0x15
// (NAK) instead of a frame.
//
// MQW-511, 9600 baud, same family: request 0x03, 19-byte reply [0] 0x06,
// [1-2] HC ppm, [3-4] CO x100, [5-6] CO2 x100, [7-8] O2 x100, [9-10] NO ppm,
// [11-12] rpm, [13-14] oil temperature degC (signed), [15-16] lambda x100,
// [17] status bits as on the NHA-506, [18] checksum = 8-bit sum of bytes
// 0-17. The status byte and the checksum are an assumption (DOMAIN.md gives
// only the length and the eight values): it is the NHA-506 layout without
// flow, which makes the length come out at 19. One-byte commands as above.
//
// FGA-4100, 19200 baud. Every frame starts with the delimiter 0x7E; lengths
// are fixed, so a 0x7E inside a frame needs no escaping.
//
//	request   4 bytes: 0x7E, address (0x01), command 0x60 (read measurements),
//	          checksum = bitwise NOT of the 8-bit sum of bytes 1-2
//	reply    51 bytes: [0] 0x7E, [1] address, [2] command echo 0x60,
//	          [3-17] instrument status text (ASCII, not interpreted),
//	          [18-49] eight 4-character ASCII decimals, right-aligned,
//	          space-padded, optional '-': HC ppm, CO x100, CO2 x10, O2 x10,
//	          NO ppm, lambda x100, rpm, oil temperature degC x10;
//	          [50] checksum = bitwise NOT of the 8-bit sum of bytes 18-49
//
// NHT-6 family opacimeter (also MQY-200), 9600 baud. A request is [cmd, chk],
// or [0xA0, status, chk] to set the status; a reply starts with the command
// byte it answers. In both directions the last byte is the two's complement
// of the 8-bit sum of the bytes before it, so a whole frame sums to zero:
//
//	0xA5 real time  10 bytes: A5, N % x10, K m^-1 x100, rpm, oil temperature
//	                in whole kelvin (0xFFFF = no sensor), chk
//	0xB1 free acc.  12 bytes: B1, K1, K2, K3, mean K (all m^-1 x100),
//	                idle rpm, chk
//	0xA0 set status  3 bytes: A0, status now in force, chk
//	0xA1 get status  3 bytes: A1, status, chk
//	NAK              3 bytes: 15, error code, chk
//
// Oil temperature from the opacimeter is reported in degC, converted with
// 273.15 in exact decimal arithmetic (358 K is 84.85 degC).
//
// # Values
//
// Every value is decoded from its integer field by a division by a power of
// ten, so a value written as a decimal (1.20 % CO) round-trips exactly: the
// float64 in a Quantity equals the float64 the decimal text parses to.
//
// # Robustness
//
// Each exchange discards stale input, sends the request and reads the reply
// with a deadline (the earlier of ctx's and Options.Timeout). Bytes before a
// plausible header are discarded (resynchronisation). A frame that fails its
// checksum or layout, or stops for longer than Options.Gap, is counted
// (Stats), logged once per driver, and the request is sent again, up to
// Options.Retries times. An instrument that sends
// nothing before the deadline gives ErrNoResponse naming the port; busy and
// NAK replies give ErrBusy and ErrNAK (NAKError carries the NHT-6 code).
//
// The drivers read the line from one goroutine each, so that every wait
// honours its context. They treat a read error that is a timeout
// (os.ErrDeadlineExceeded, as package serialport reports a quiet line) as
// "no data yet" and any other error, io.EOF included, as the end of the line
// (ErrClosed). Give them a serialport.Port, not a bare tarm/serial port, which
// reports a quiet line as io.EOF.
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

// Test methods and kinds of reading, for Reading.Method.
const (
	MethodRealtime          = "realtime"
	MethodTwoSpeedIdle      = "two_speed_idle"
	MethodASM               = "asm"
	MethodFreeAcceleration  = "free_acceleration"
	MethodAmbient           = "ambient"
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
	Frames    int64 // valid replies
	BadFrames int64 // replies that failed their checksum or layout
	Discarded int64 // bytes thrown away while resynchronising
}
