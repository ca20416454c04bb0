package analyzer

import (
	"context"
	"encoding/binary"
	"io"
)

// NHT-6 family framing; see the package documentation.
const (
	NHT6SetStatus        = 0xA0 // request [A0, status, chk]; reply [A0, status, chk]
	NHT6GetStatus        = 0xA1 // request [A1, chk]; reply [A1, status, chk]
	NHT6Realtime         = 0xA5 // request [A5, chk]; reply NHT6RealtimeLen bytes
	NHT6FreeAcceleration = 0xB1 // request [B1, chk]; reply NHT6FreeAccelerationLen bytes
	NHT6NAK              = 0x15 // reply [15, code, chk]

	NHT6RealtimeLen         = 10
	NHT6FreeAccelerationLen = 12
	NHT6StatusLen           = 3
	NHT6NAKLen              = 3

	// NHT6NoTemperature in OpacityFrame.OilTemperature means no sensor.
	NHT6NoTemperature = 0xFFFF
)

// OpacityFrame is an NHT-6 real-time reply as encoded.
type OpacityFrame struct {
	N              uint16 // opacity % x10
	K              uint16 // light absorption coefficient m^-1 x100
	RPM            uint16 // 1/min
	OilTemperature uint16 // kelvin, NHT6NoTemperature = none
}

// FreeAccelerationFrame is an NHT-6 free-acceleration result as encoded.
type FreeAccelerationFrame struct {
	K1, K2, K3, KMean uint16 // m^-1 x100
	IdleRPM           uint16 // 1/min
}

// neg8 is the two's complement of the 8-bit sum of b: appending it makes the
// frame sum to zero.
func neg8(b []byte) byte { return -sum8(b) }

// NHT6Request returns the request frame for cmd with optional data bytes
// (the status for NHT6SetStatus).
func NHT6Request(cmd byte, data ...byte) []byte {
	b := append([]byte{cmd}, data...)
	return append(b, neg8(b))
}

// nht6Check validates an NHT-6 frame of n bytes answering cmd. A complete NAK
// frame gives a *NAKError.
func nht6Check(b []byte, cmd byte, n int) error {
	if len(b) == NHT6NAKLen && b[0] == NHT6NAK {
		if sum8(b) != 0 {
			return checksumError(b[2], neg8(b[:2]))
		}
		return &NAKError{Code: b[1]}
	}
	if len(b) != n {
		return frameError("length %d, want %d", len(b), n)
	}
	if b[0] != cmd {
		return frameError("header %#02x, want %#02x", b[0], cmd)
	}
	if sum8(b) != 0 {
		return checksumError(b[n-1], neg8(b[:n-1]))
	}
	return nil
}

// ParseNHT6Realtime decodes a real-time reply (or a NAK, as *NAKError).
func ParseNHT6Realtime(b []byte) (OpacityFrame, error) {
	if err := nht6Check(b, NHT6Realtime, NHT6RealtimeLen); err != nil {
		return OpacityFrame{}, err
	}
	return OpacityFrame{N: be16(b[1:]), K: be16(b[3:]), RPM: be16(b[5:]), OilTemperature: be16(b[7:])}, nil
}

// AppendNHT6Realtime appends the real-time reply of f to dst.
func AppendNHT6Realtime(dst []byte, f OpacityFrame) []byte {
	return appendNHT6(dst, NHT6Realtime, f.N, f.K, f.RPM, f.OilTemperature)
}

// ParseNHT6FreeAcceleration decodes a free-acceleration reply (or a NAK).
func ParseNHT6FreeAcceleration(b []byte) (FreeAccelerationFrame, error) {
	if err := nht6Check(b, NHT6FreeAcceleration, NHT6FreeAccelerationLen); err != nil {
		return FreeAccelerationFrame{}, err
	}
	return FreeAccelerationFrame{K1: be16(b[1:]), K2: be16(b[3:]), K3: be16(b[5:]), KMean: be16(b[7:]), IdleRPM: be16(b[9:])}, nil
}

// AppendNHT6FreeAcceleration appends the free-acceleration reply of f to dst.
func AppendNHT6FreeAcceleration(dst []byte, f FreeAccelerationFrame) []byte {
	return appendNHT6(dst, NHT6FreeAcceleration, f.K1, f.K2, f.K3, f.KMean, f.IdleRPM)
}

// ParseNHT6Status decodes the reply to NHT6SetStatus or NHT6GetStatus (cmd)
// and returns the status byte.
func ParseNHT6Status(b []byte, cmd byte) (byte, error) {
	if err := nht6Check(b, cmd, NHT6StatusLen); err != nil {
		return 0, err
	}
	return b[1], nil
}

// AppendNHT6Status appends a status reply to cmd to dst.
func AppendNHT6Status(dst []byte, cmd, status byte) []byte {
	start := len(dst)
	dst = append(dst, cmd, status)
	return append(dst, neg8(dst[start:]))
}

// AppendNHT6NAK appends a NAK with an error code to dst.
func AppendNHT6NAK(dst []byte, code byte) []byte { return AppendNHT6Status(dst, NHT6NAK, code) }

func appendNHT6(dst []byte, cmd byte, vs ...uint16) []byte {
	start := len(dst)
	dst = append(dst, cmd)
	for _, v := range vs {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	return append(dst, neg8(dst[start:]))
}

// kelvinToCelsius converts whole kelvin to degC in hundredths, so that the
// value is the exact decimal (358 K -> 84.85).
func kelvinToCelsius(k uint16) float64 { return dec(int64(k)*100-27315, 100) }

// Quantities returns the values of f with their units, and its status flags.
func (f OpacityFrame) Quantities() ([]Quantity, []string) {
	q := []Quantity{
		{QuantityOpacityN, dec(int64(f.N), 10), UnitPercent},
		{QuantityOpacityK, dec(int64(f.K), 100), UnitPerMetre},
		{QuantityRPM, dec(int64(f.RPM), 1), UnitRPM},
	}
	if f.OilTemperature == NHT6NoTemperature {
		return q, []string{StatusNoOilTemperature}
	}
	return append(q, Quantity{QuantityOilTemperature, kelvinToCelsius(f.OilTemperature), UnitCelsius}), nil
}

// Quantities returns the values of f with their units.
func (f FreeAccelerationFrame) Quantities() []Quantity {
	return []Quantity{
		{QuantityK1, dec(int64(f.K1), 100), UnitPerMetre},
		{QuantityK2, dec(int64(f.K2), 100), UnitPerMetre},
		{QuantityK3, dec(int64(f.K3), 100), UnitPerMetre},
		{QuantityKMean, dec(int64(f.KMean), 100), UnitPerMetre},
		{QuantityIdleRPM, dec(int64(f.IdleRPM), 1), UnitRPM},
	}
}

// NHT6 drives an NHT-6 family opacimeter (also MQY-200).
type NHT6 struct{ c *conn }

// NewNHT6 runs the NHT-6 protocol over rw; see NewNHA506. Read returns the
// free-acceleration results unless o.Method is MethodRealtime; any other
// method is refused by Open (and treated as free acceleration here).
func NewNHT6(rw io.ReadWriter, port string, o Options) *NHT6 {
	return &NHT6{newConn(rw, port, "nht6", "NHT-6", methodOr(o.Method, defaultOpacimeterMethod), o)}
}

// readNHT6 reads an n-byte reply to cmd, or a NAK, skipping other bytes.
func readNHT6(c *conn, cmd byte, n int) func(context.Context, *link) ([]byte, error) {
	return func(ctx context.Context, l *link) ([]byte, error) {
		for {
			b, err := l.readByte(ctx)
			if err != nil {
				return nil, err
			}
			size := n
			switch b {
			case cmd:
			case NHT6NAK:
				size = NHT6NAKLen
			default:
				c.skip()
				continue
			}
			frame := make([]byte, size)
			frame[0] = b
			if err := l.readFull(ctx, frame[1:], c.gap); err != nil {
				return nil, err
			}
			return frame, nil
		}
	}
}

func nht6Exchange[T any](ctx context.Context, c *conn, req []byte, n int, parse func([]byte) (T, error)) (T, error) {
	read := readNHT6(c, req[0], n)
	return exchange(ctx, c, req, func(ctx context.Context, l *link) (T, error) {
		b, err := read(ctx, l)
		if err != nil {
			var zero T
			return zero, err
		}
		return parse(b)
	})
}

// Read returns the free-acceleration results or, with MethodRealtime, the
// real-time values.
func (d *NHT6) Read(ctx context.Context) (Reading, error) {
	if d.c.method == MethodRealtime {
		return d.Realtime(ctx)
	}
	return d.FreeAcceleration(ctx)
}

// Realtime requests the real-time values: opacity N, K, rpm and oil
// temperature.
func (d *NHT6) Realtime(ctx context.Context) (Reading, error) {
	f, err := nht6Exchange(ctx, d.c, NHT6Request(NHT6Realtime), NHT6RealtimeLen, ParseNHT6Realtime)
	if err != nil {
		return Reading{}, err
	}
	q, s := f.Quantities()
	return d.c.reading(MethodRealtime, q, s), nil
}

// FreeAcceleration requests the results of the last free-acceleration test:
// K of three accelerations, their mean and the idle rpm.
func (d *NHT6) FreeAcceleration(ctx context.Context) (Reading, error) {
	f, err := nht6Exchange(ctx, d.c, NHT6Request(NHT6FreeAcceleration), NHT6FreeAccelerationLen, ParseNHT6FreeAcceleration)
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodFreeAcceleration, f.Quantities(), nil), nil
}

// SetStatus sets the instrument's status (vendor-defined values) and returns
// the status it reports back.
func (d *NHT6) SetStatus(ctx context.Context, status byte) (byte, error) {
	return nht6Exchange(ctx, d.c, NHT6Request(NHT6SetStatus, status), NHT6StatusLen, func(b []byte) (byte, error) {
		return ParseNHT6Status(b, NHT6SetStatus)
	})
}

// Status returns the instrument's status byte.
func (d *NHT6) Status(ctx context.Context) (byte, error) {
	return nht6Exchange(ctx, d.c, NHT6Request(NHT6GetStatus), NHT6StatusLen, func(b []byte) (byte, error) {
		return ParseNHT6Status(b, NHT6GetStatus)
	})
}

// Stats returns the driver's counters.
func (d *NHT6) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *NHT6) Close() error { return d.c.close() }
