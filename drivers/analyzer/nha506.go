package analyzer

import (
	"context"
	"encoding/binary"
	"io"
)

// NHA-506 family (and MQW-511) framing; see the package documentation.
const (
	NHAHeader = 0x06 // first byte of every data reply; also the ACK of a command
	NHABusy   = 0x05 // one-byte reply: busy
	NHANAK    = 0x15 // one-byte reply: refused

	NHA506RequestMain    = 0x01 // request: main data
	NHA506RequestAmbient = 0x02 // request: ambient conditions
	MQW511RequestMain    = 0x03 // request (MQW-511): main data

	NHA506MainLen    = 21
	NHA506AmbientLen = 8
	MQW511MainLen    = 19
)

// Command is a one-byte NHA-506 family command answered by ACK, busy or NAK.
type Command byte

// Commands of the NHA-506 family.
const (
	CmdBackFlush Command = 5
	CmdStopPump  Command = 6
	CmdLeakCheck Command = 7
	CmdZero      Command = 8
)

// Status bits of GasFrame.Status.
const (
	StatusBitO2SensorAged = 1 << 0
	StatusBitNOSensorAged = 1 << 1
)

// GasFrame is the main data of an NHA-506 or MQW-511 as the instrument
// encodes it (MQW-511 frames have no flow).
type GasFrame struct {
	HC             uint16 // ppm
	CO             uint16 // %vol x100
	CO2            uint16 // %vol x100
	O2             uint16 // %vol x100
	NO             uint16 // ppm
	RPM            uint16 // 1/min
	OilTemperature int16  // degC
	Flow           uint16 // instrument units (NHA-506 only)
	Status         byte   // StatusBit...
	Lambda         uint16 // x100
}

// AmbientFrame is the NHA-506 ambient reply as encoded.
type AmbientFrame struct {
	Temperature int16  // degC x10
	Pressure    uint16 // kPa x10
	Humidity    uint16 // % x10
}

func sum8(b []byte) byte {
	var s byte
	for _, x := range b {
		s += x
	}
	return s
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// dec turns an integer field into its value: raw / scale, where scale is a
// power of ten. The division is correctly rounded, so the result equals the
// float64 that the decimal text of the value parses to.
func dec(raw, scale int64) float64 { return float64(raw) / float64(scale) }

func checkNHA(b []byte, n int) error {
	if len(b) != n {
		return frameError("length %d, want %d", len(b), n)
	}
	if b[0] != NHAHeader {
		return frameError("header %#02x, want %#02x", b[0], NHAHeader)
	}
	if got, want := b[n-1], sum8(b[:n-1]); got != want {
		return checksumError(got, want)
	}
	return nil
}

// ParseNHA506 decodes a 21-byte NHA-506 main data frame.
func ParseNHA506(b []byte) (GasFrame, error) {
	if err := checkNHA(b, NHA506MainLen); err != nil {
		return GasFrame{}, err
	}
	return GasFrame{
		HC: be16(b[1:]), CO: be16(b[3:]), CO2: be16(b[5:]), O2: be16(b[7:]), NO: be16(b[9:]),
		RPM: be16(b[11:]), OilTemperature: int16(be16(b[13:])), Flow: be16(b[15:]),
		Status: b[17], Lambda: be16(b[18:]),
	}, nil
}

// AppendNHA506 appends the 21-byte main data frame of f to dst.
func AppendNHA506(dst []byte, f GasFrame) []byte {
	start := len(dst)
	dst = append(dst, NHAHeader)
	for _, v := range []uint16{f.HC, f.CO, f.CO2, f.O2, f.NO, f.RPM, uint16(f.OilTemperature), f.Flow} {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	dst = append(dst, f.Status)
	dst = binary.BigEndian.AppendUint16(dst, f.Lambda)
	return append(dst, sum8(dst[start:]))
}

// ParseMQW511 decodes a 19-byte MQW-511 main data frame.
func ParseMQW511(b []byte) (GasFrame, error) {
	if err := checkNHA(b, MQW511MainLen); err != nil {
		return GasFrame{}, err
	}
	return GasFrame{
		HC: be16(b[1:]), CO: be16(b[3:]), CO2: be16(b[5:]), O2: be16(b[7:]), NO: be16(b[9:]),
		RPM: be16(b[11:]), OilTemperature: int16(be16(b[13:])), Lambda: be16(b[15:]),
		Status: b[17],
	}, nil
}

// AppendMQW511 appends the 19-byte MQW-511 main data frame of f (without
// Flow) to dst.
func AppendMQW511(dst []byte, f GasFrame) []byte {
	start := len(dst)
	dst = append(dst, NHAHeader)
	for _, v := range []uint16{f.HC, f.CO, f.CO2, f.O2, f.NO, f.RPM, uint16(f.OilTemperature), f.Lambda} {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	dst = append(dst, f.Status)
	return append(dst, sum8(dst[start:]))
}

// ParseNHA506Ambient decodes an 8-byte NHA-506 ambient frame.
func ParseNHA506Ambient(b []byte) (AmbientFrame, error) {
	if err := checkNHA(b, NHA506AmbientLen); err != nil {
		return AmbientFrame{}, err
	}
	return AmbientFrame{Temperature: int16(be16(b[1:])), Pressure: be16(b[3:]), Humidity: be16(b[5:])}, nil
}

// AppendNHA506Ambient appends the 8-byte ambient frame of f to dst.
func AppendNHA506Ambient(dst []byte, f AmbientFrame) []byte {
	start := len(dst)
	dst = append(dst, NHAHeader)
	for _, v := range []uint16{uint16(f.Temperature), f.Pressure, f.Humidity} {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	return append(dst, sum8(dst[start:]))
}

// Quantities returns the values of f with their units, and its status flags.
// Flow is included when withFlow is set (NHA-506).
func (f GasFrame) Quantities(withFlow bool) ([]Quantity, []string) {
	q := []Quantity{
		{QuantityHC, dec(int64(f.HC), 1), UnitPPM},
		{QuantityCO, dec(int64(f.CO), 100), UnitVol},
		{QuantityCO2, dec(int64(f.CO2), 100), UnitVol},
		{QuantityO2, dec(int64(f.O2), 100), UnitVol},
		{QuantityNO, dec(int64(f.NO), 1), UnitPPM},
		{QuantityLambda, dec(int64(f.Lambda), 100), UnitNone},
		{QuantityRPM, dec(int64(f.RPM), 1), UnitRPM},
		{QuantityOilTemperature, dec(int64(f.OilTemperature), 1), UnitCelsius},
	}
	if withFlow {
		q = append(q, Quantity{QuantityFlow, dec(int64(f.Flow), 1), UnitNone})
	}
	var s []string
	if f.Status&StatusBitO2SensorAged != 0 {
		s = append(s, StatusO2SensorAged)
	}
	if f.Status&StatusBitNOSensorAged != 0 {
		s = append(s, StatusNOSensorAged)
	}
	return q, s
}

// Quantities returns the ambient values with their units.
func (f AmbientFrame) Quantities() []Quantity {
	return []Quantity{
		{QuantityTemperature, dec(int64(f.Temperature), 10), UnitCelsius},
		{QuantityPressure, dec(int64(f.Pressure), 10), UnitKPa},
		{QuantityHumidity, dec(int64(f.Humidity), 10), UnitPercent},
	}
}

// readNHA reads an n-byte NHA family reply: it skips bytes until a header,
// and maps the one-byte busy and NAK replies to their errors.
func readNHA(c *conn, n int) func(context.Context, *link) ([]byte, error) {
	return func(ctx context.Context, l *link) ([]byte, error) {
		for {
			b, err := l.readByte(ctx)
			if err != nil {
				return nil, err
			}
			switch b {
			case NHAHeader:
				frame := make([]byte, n)
				frame[0] = b
				if n > 1 {
					if err := l.readFull(ctx, frame[1:], c.gap); err != nil {
						return nil, err
					}
				}
				return frame, nil
			case NHABusy:
				return nil, ErrBusy
			case NHANAK:
				return nil, ErrNAK
			}
			c.skip()
		}
	}
}

func nhaCommand(ctx context.Context, c *conn, cmd Command) error {
	_, err := exchange(ctx, c, []byte{byte(cmd)}, readNHA(c, 1))
	return err
}

func gasRead(ctx context.Context, c *conn, req byte, n int, parse func([]byte) (GasFrame, error), withFlow bool) (Reading, error) {
	read := readNHA(c, n)
	f, err := exchange(ctx, c, []byte{req}, func(ctx context.Context, l *link) (GasFrame, error) {
		b, err := read(ctx, l)
		if err != nil {
			return GasFrame{}, err
		}
		return parse(b)
	})
	if err != nil {
		return Reading{}, err
	}
	q, s := f.Quantities(withFlow)
	return c.reading(c.method, q, s), nil
}

// NHA506 drives an NHA-506 family analyzer (also FLA-502).
type NHA506 struct{ c *conn }

// NewNHA506 runs the NHA-506 protocol over rw; port names the line in
// readings and errors. Close closes rw if it is an io.Closer.
func NewNHA506(rw io.ReadWriter, port string, o Options) *NHA506 {
	return &NHA506{newConn(rw, port, "nha506", "NHA-506", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the main data (HC, CO, CO2, O2, NO, lambda, rpm, oil
// temperature, flow and the sensor status).
func (d *NHA506) Read(ctx context.Context) (Reading, error) {
	return gasRead(ctx, d.c, NHA506RequestMain, NHA506MainLen, ParseNHA506, true)
}

// Ambient requests the ambient temperature, pressure and humidity.
func (d *NHA506) Ambient(ctx context.Context) (Reading, error) {
	read := readNHA(d.c, NHA506AmbientLen)
	f, err := exchange(ctx, d.c, []byte{NHA506RequestAmbient}, func(ctx context.Context, l *link) (AmbientFrame, error) {
		b, err := read(ctx, l)
		if err != nil {
			return AmbientFrame{}, err
		}
		return ParseNHA506Ambient(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodAmbient, f.Quantities(), nil), nil
}

// Command sends a one-byte command (zero, leak check, back-flush, stop pump).
// It returns nil on ACK, ErrBusy or ErrNAK otherwise.
func (d *NHA506) Command(ctx context.Context, cmd Command) error { return nhaCommand(ctx, d.c, cmd) }

// Stats returns the driver's counters.
func (d *NHA506) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *NHA506) Close() error { return d.c.close() }

// MQW511 drives a Mingquan MQW-511 analyzer.
type MQW511 struct{ c *conn }

// NewMQW511 runs the MQW-511 protocol over rw; see NewNHA506.
func NewMQW511(rw io.ReadWriter, port string, o Options) *MQW511 {
	return &MQW511{newConn(rw, port, "mqw511", "MQW-511", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the main data (HC, CO, CO2, O2, NO, lambda, rpm, oil
// temperature and the sensor status).
func (d *MQW511) Read(ctx context.Context) (Reading, error) {
	return gasRead(ctx, d.c, MQW511RequestMain, MQW511MainLen, ParseMQW511, false)
}

// Command sends a one-byte command; see NHA506.Command.
func (d *MQW511) Command(ctx context.Context, cmd Command) error { return nhaCommand(ctx, d.c, cmd) }

// Stats returns the driver's counters.
func (d *MQW511) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *MQW511) Close() error { return d.c.close() }

func methodOr(m, def string) string {
	if m == "" {
		return def
	}
	return m
}
