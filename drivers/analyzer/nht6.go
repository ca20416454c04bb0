package analyzer

import (
	"context"
	"io"
)

// The NHT-6 family of opacimeters: Nanhua NHT-6 and MingQuan MQY-200, 9600
// baud 8N1. Facts from the station code (NanhuaNht6.cpp, MingQuanMQY200.cpp):
//
//   - A request is [cmd, data..., chk], chk the two's complement of the sum
//     of the earlier bytes. A reply is fixed-length per command and ends in
//     the same kind of checksum, unless its first byte is 0x15: then one more
//     byte follows, the error code, and nothing else (NAK, 2 bytes).
//   - NHT-6: real time 0xA5, 10 bytes: [1-2] N %/10, [3-4] K m^-1/100, [5-6]
//     rpm, [7-8] oil temperature in kelvin, 0xFFFF when no sensor (the
//     station subtracts 273); all unsigned. Free acceleration result 0xB1,
//     12 bytes: K1, K2, K3, mean K (/100), idle rpm. Highest values 0xA6, 8
//     bytes: N, K, rpm; cleared by 0xA7 (2 bytes). Status 0xA1, 3 bytes,
//     status at [1]: 0 warming up, 1 measuring, 2 calibrating, 3 internal
//     link error. Set status 0xA0 status (1-4), stop warm-up 0xA2, calibrate
//     0xA4: 2-byte replies. Alarm word 0xA3: 4 bytes, [1-2].
//   - MQY-200: real time is 0xA6 (same 10-byte layout; the station does not
//     test for 0xFFFF), calibrate 0xA2, highest values 0xA9 (8 bytes),
//     cleared by 0xA8; status 0xA1 and set status 0xA0 as on the NHT-6; no
//     free acceleration result, alarm or stop warm-up.
//
// Inferred: the first byte of a reply is not examined (the station reads it
// without looking), so replies are found by their checksum; 0xFFFF means no
// oil temperature on the MQY-200 as well; the MQY-200's status codes mean
// what the NHT-6's do; a calibration is over when the status is 1 (measuring)
// again, and failed when it ends in 3 (internal link error).

const (
	nhtNAK    = 0x15
	nhtNAKLen = 2
)

// nhtModel is one member of the family.
type nhtModel struct {
	name, model string
	realtime    byte
	result      byte // 0: none
	peak        byte
	clearPeak   byte
	calibrate   byte
	stopWarmUp  byte // 0: none
	alarm       byte // 0: none
}

const (
	nhtSetStatus = 0xA0
	nhtGetStatus = 0xA1
)

var (
	modelNHT6 = &nhtModel{
		name: "nht6", model: "NHT-6",
		realtime: 0xA5, result: 0xB1, peak: 0xA6, clearPeak: 0xA7, calibrate: 0xA4, stopWarmUp: 0xA2, alarm: 0xA3,
	}
	modelMQY200 = &nhtModel{
		name: "mqy200", model: "MQY-200",
		realtime: 0xA6, peak: 0xA9, clearPeak: 0xA8, calibrate: 0xA2,
	}
)

// checkNHT checks an n-byte reply: its bytes sum to zero.
func checkNHT(n int) func([]byte) error {
	return func(b []byte) error {
		if len(b) != n {
			return frameError("length %d, want %d", len(b), n)
		}
		if sum8(b) != 0 {
			return checksumError(b[n-1], neg8(b[:n-1]))
		}
		return nil
	}
}

// readNHT reads an n-byte reply or a NAK, sliding over bytes that do not
// make a valid reply.
func readNHT(c *conn, n int) func(context.Context, *link) ([]byte, error) {
	valid := checkNHT(n)
	return func(ctx context.Context, l *link) ([]byte, error) {
		first, err := l.readByte(ctx)
		if err != nil {
			return nil, err
		}
		if first == nhtNAK {
			var code [1]byte
			if err := l.readFull(ctx, code[:], c.gap); err != nil {
				return nil, err
			}
			return nil, &NAKError{Code: code[0]}
		}
		buf := make([]byte, n, 4*n)
		buf[0] = first
		if err := l.readFull(ctx, buf[1:], c.gap); err != nil {
			return nil, err
		}
		for skipped := 0; ; skipped++ {
			w := buf[skipped : skipped+n]
			verr := valid(w)
			if verr == nil {
				c.skip(skipped)
				return w, nil
			}
			var one [1]byte
			if len(buf) == cap(buf) || l.readFull(ctx, one[:], c.gap) != nil {
				c.skip(skipped)
				return nil, verr
			}
			buf = append(buf, one[0])
		}
	}
}

func parseNHTRealtime(b []byte) ([]Quantity, []string, error) {
	if err := checkNHT(10)(b); err != nil {
		return nil, nil, err
	}
	q := decodeFields(b, []field{
		u16(QuantityOpacityN, 1, 10, UnitPercent),
		u16(QuantityOpacityK, 3, 100, UnitPerMetre),
		u16(QuantityRPM, 5, 1, UnitRPM),
	})
	t, ok := kelvin(be16(b[7:]))
	if !ok {
		return q, []string{StatusNoOilTemperature}, nil
	}
	return append(q, Quantity{QuantityOilTemperature, t, UnitCelsius}), nil, nil
}

func parseNHTResult(b []byte) ([]Quantity, error) {
	if err := checkNHT(12)(b); err != nil {
		return nil, err
	}
	return decodeFields(b, []field{
		u16(QuantityK1, 1, 100, UnitPerMetre),
		u16(QuantityK2, 3, 100, UnitPerMetre),
		u16(QuantityK3, 5, 100, UnitPerMetre),
		u16(QuantityKMean, 7, 100, UnitPerMetre),
		u16(QuantityIdleRPM, 9, 1, UnitRPM),
	}), nil
}

func parseNHTPeak(b []byte) ([]Quantity, error) {
	if err := checkNHT(8)(b); err != nil {
		return nil, err
	}
	return decodeFields(b, []field{
		u16(QuantityOpacityN, 1, 10, UnitPercent),
		u16(QuantityOpacityK, 3, 100, UnitPerMetre),
		u16(QuantityRPM, 5, 1, UnitRPM),
	}), nil
}

func nhtMode(b byte) Mode {
	switch b {
	case 0:
		return ModeWarmingUp
	case 1:
		return ModeMeasuring
	case 2:
		return ModeCalibrating
	case 3:
		return ModeFault
	}
	return ModeUnknown
}

// NHT6 drives an NHT-6 family opacimeter: NHT-6 or MQY-200.
type NHT6 struct {
	c *conn
	m *nhtModel
}

func newNHT(m *nhtModel, rw io.ReadWriter, port string, o Options) *NHT6 {
	def := defaultOpacimeterMethod
	if m.result == 0 {
		def = MethodRealtime
	}
	return &NHT6{newConn(rw, port, m.name, m.model, methodOr(o.Method, def), o), m}
}

// NewNHT6 runs the NHT-6 protocol over rw; see NewNHA506. Read returns the
// free-acceleration result unless o.Method is MethodRealtime.
func NewNHT6(rw io.ReadWriter, port string, o Options) *NHT6 { return newNHT(modelNHT6, rw, port, o) }

// NewMQY200 runs the MQY-200 protocol over rw; see NewNHA506. Read returns
// the real-time values (the instrument keeps no free-acceleration result).
func NewMQY200(rw io.ReadWriter, port string, o Options) *NHT6 {
	return newNHT(modelMQY200, rw, port, o)
}

func nhtExchange[T any](ctx context.Context, d *NHT6, n int, parse func([]byte) (T, error), cmd byte, data ...byte) (T, error) {
	read := readNHT(d.c, n)
	return exchange(ctx, d.c, withNeg8(append([]byte{cmd}, data...)...), func(ctx context.Context, l *link) (T, error) {
		b, err := read(ctx, l)
		if err != nil {
			var zero T
			return zero, err
		}
		return parse(b)
	})
}

func (d *NHT6) simple(ctx context.Context, cmd byte, data ...byte) error {
	_, err := nhtExchange(ctx, d, 2, func([]byte) (struct{}, error) { return struct{}{}, nil }, cmd, data...)
	return err
}

// Read returns the free-acceleration result (NHT-6) or, with
// MethodRealtime and on the MQY-200, the real-time values.
func (d *NHT6) Read(ctx context.Context) (Reading, error) {
	if d.c.method == MethodRealtime || d.m.result == 0 {
		return d.Realtime(ctx)
	}
	return d.FreeAcceleration(ctx)
}

// Realtime requests opacity N, K, rpm and oil temperature.
func (d *NHT6) Realtime(ctx context.Context) (Reading, error) {
	type rt struct {
		q     []Quantity
		flags []string
	}
	r, err := nhtExchange(ctx, d, 10, func(b []byte) (rt, error) {
		q, flags, err := parseNHTRealtime(b)
		return rt{q, flags}, err
	}, d.m.realtime)
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodRealtime, r.q, r.flags)
}

// FreeAcceleration requests the instrument's own result of its last free
// acceleration test: K of three accelerations, their mean and the idle rpm.
func (d *NHT6) FreeAcceleration(ctx context.Context) (Reading, error) {
	if d.m.result == 0 {
		return Reading{}, unsupported(d.c, "free acceleration result")
	}
	q, err := nhtExchange(ctx, d, 12, parseNHTResult, d.m.result)
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodFreeAcceleration, q, nil)
}

// Peak requests the highest N, K and rpm since ClearPeak.
func (d *NHT6) Peak(ctx context.Context) (Reading, error) {
	q, err := nhtExchange(ctx, d, 8, parseNHTPeak, d.m.peak)
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodPeak, q, nil)
}

// ClearPeak clears the highest values.
func (d *NHT6) ClearPeak(ctx context.Context) error { return d.simple(ctx, d.m.clearPeak) }

// State reads the status byte.
func (d *NHT6) State(ctx context.Context) (State, error) {
	b, err := nhtExchange(ctx, d, 3, func(b []byte) (byte, error) { return b[1], nil }, nhtGetStatus)
	if err != nil {
		return State{}, err
	}
	return State{Mode: nhtMode(b), Raw: hexOf([]byte{b})}, nil
}

// SetStatus sets the instrument's status (1 to 4, vendor-defined).
func (d *NHT6) SetStatus(ctx context.Context, status byte) error {
	if status < 1 || status > 4 {
		return errorf("%w: status %d: want 1 to 4", ErrBadOptions, status)
	}
	return d.simple(ctx, nhtSetStatus, status)
}

// StopWarmUp ends the warm-up early (NHT-6 only).
func (d *NHT6) StopWarmUp(ctx context.Context) error {
	if d.m.stopWarmUp == 0 {
		return unsupported(d.c, "stop warm-up")
	}
	return d.simple(ctx, d.m.stopWarmUp)
}

// Alarms reads the alarm word (NHT-6 only; the bits are vendor-defined).
func (d *NHT6) Alarms(ctx context.Context) (uint16, error) {
	if d.m.alarm == 0 {
		return 0, unsupported(d.c, "alarms")
	}
	return nhtExchange(ctx, d, 4, func(b []byte) (uint16, error) { return be16(b[1:]), nil }, d.m.alarm)
}

// Zero runs the calibration (clean air through the smoke chamber) and waits
// until the status is "measuring" again; a status of 3 (internal fault)
// makes it fail.
func (d *NHT6) Zero(ctx context.Context) error {
	if err := d.simple(ctx, d.m.calibrate); err != nil {
		return err
	}
	return d.c.operation(ctx, "calibration", func(ctx context.Context) (bool, error) {
		st, err := d.State(ctx)
		switch {
		case err != nil:
			return true, err
		case st.Mode == ModeFault:
			return true, d.c.wrap(ErrZeroFailed)
		}
		return st.Mode == ModeMeasuring, nil
	})
}

// Stats returns the driver's counters.
func (d *NHT6) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *NHT6) Close() error { return d.c.close() }
