package analyzer

import (
	"bytes"
	"context"
	"io"
	"math"
)

// FoFen FTY-100 opacimeter, 9600 baud 8N1. Facts from the station code
// (FoFenFTY100.cpp), whose frames are literal:
//
//   - requests are 'f' 't' 'y' 01 02 cmd chk, chk the two's complement of the
//     sum of the earlier bytes; replies are read without a checksum check.
//   - real time, command 02 (f t y 01 02 02 A8): 10 bytes, [3-4] N %/10,
//     [5-6] oil temperature in kelvin (0xFFFF none; the station subtracts
//     273), [7-8] rpm, unsigned. The instrument sends no K: the station
//     computes it from N for an effective length of 430 mm.
//   - status, command 01 (... 01 A9): 7 bytes, [3] bit1 warming up, bit2
//     measuring.
//   - calibrate, command 05 (... 05 A5): 4 bytes.
//   - no highest-value register: the station samples every 500 ms itself.
//
// Inferred: K = -ln(1 - N/100) / 0.430 m (the Beer-Lambert relation the
// standard defines K by), rounded to 0.01 m^-1 as the other opacimeters
// report it; a calibration is over when the status reports measuring again.

const (
	ftyRealtime  = 0x02
	ftyStatus    = 0x01
	ftyCalibrate = 0x05

	ftyRealtimeLen  = 10
	ftyStatusLen    = 7
	ftyCalibrateLen = 4

	// ftyLength is the effective optical length in metres.
	ftyLength = 0.430
)

func ftyRequest(cmd byte) []byte { return withNeg8('f', 't', 'y', 0x01, 0x02, cmd) }

// kFromN is the light absorption coefficient for opacity n (%) over the
// FTY-100's effective length, rounded to 0.01 m^-1. At 100 % and above (the
// light path blocked, or a garbled frame) no K exists: it is +Inf, never
// NaN, so that the plausibility check refuses the reading instead of a
// smoky peak being passed over.
func kFromN(n float64) float64 {
	if n >= 100 {
		return math.Inf(1)
	}
	k := -math.Log(1-n/100) / ftyLength
	return math.Round(k*100) / 100
}

func parseFTYRealtime(b []byte) ([]Quantity, []string, error) {
	if len(b) != ftyRealtimeLen {
		return nil, nil, frameError("length %d, want %d", len(b), ftyRealtimeLen)
	}
	n := dec(int64(be16(b[3:])), 10)
	q := []Quantity{
		{QuantityOpacityN, n, UnitPercent},
		{QuantityOpacityK, kFromN(n), UnitPerMetre},
		{QuantityRPM, float64(be16(b[7:])), UnitRPM},
	}
	t, ok := kelvin(be16(b[5:]))
	if !ok {
		return q, []string{StatusNoOilTemperature}, nil
	}
	return append(q, Quantity{QuantityOilTemperature, t, UnitCelsius}), nil, nil
}

func parseFTYStatus(b []byte) (Mode, error) {
	if len(b) != ftyStatusLen {
		return "", frameError("length %d, want %d", len(b), ftyStatusLen)
	}
	switch {
	case b[3]&0x02 != 0:
		return ModeWarmingUp, nil
	case b[3]&0x04 != 0:
		return ModeMeasuring, nil
	}
	return ModeUnknown, nil
}

// FTY100 drives a FoFen FTY-100 opacimeter.
type FTY100 struct{ c *conn }

// NewFTY100 runs the FTY-100 protocol over rw; see NewNHA506. Read returns
// the real-time values.
func NewFTY100(rw io.ReadWriter, port string, o Options) *FTY100 {
	return &FTY100{newConn(rw, port, "fty100", "FTY-100", MethodRealtime, o)}
}

// Read requests opacity N, K (computed), rpm and oil temperature.
func (d *FTY100) Read(ctx context.Context) (Reading, error) {
	type rt struct {
		q     []Quantity
		flags []string
	}
	r, err := exchange(ctx, d.c, ftyRequest(ftyRealtime), func(ctx context.Context, l *link) (rt, error) {
		b, err := fixed(d.c, ftyRealtimeLen)(ctx, l)
		if err != nil {
			return rt{}, err
		}
		q, flags, err := parseFTYRealtime(b)
		return rt{q, flags}, err
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodRealtime, r.q, r.flags)
}

// State reads the status.
func (d *FTY100) State(ctx context.Context) (State, error) {
	var raw []byte
	m, err := exchange(ctx, d.c, ftyRequest(ftyStatus), func(ctx context.Context, l *link) (Mode, error) {
		b, err := fixed(d.c, ftyStatusLen)(ctx, l)
		if err != nil {
			return "", err
		}
		raw = bytes.Clone(b)
		return parseFTYStatus(b)
	})
	if err != nil {
		return State{}, err
	}
	return State{Mode: m, Raw: hexOf(raw)}, nil
}

// Zero runs the calibration and waits until the status reports measuring.
func (d *FTY100) Zero(ctx context.Context) error {
	if _, err := exchange(ctx, d.c, ftyRequest(ftyCalibrate), fixed(d.c, ftyCalibrateLen)); err != nil {
		return err
	}
	return d.c.operation(ctx, "calibration", func(ctx context.Context) (bool, error) {
		st, err := d.State(ctx)
		if err != nil {
			return true, err
		}
		return st.Mode == ModeMeasuring, nil
	})
}

// Stats returns the driver's counters.
func (d *FTY100) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *FTY100) Close() error { return d.c.close() }
