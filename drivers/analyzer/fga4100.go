package analyzer

import (
	"bytes"
	"context"
	"io"
)

// Foshan (FoFen) FGA-4100, 19200 baud 8N1. Facts from the station code
// (FoFenFGA4100.cpp), whose frames are literal:
//
//   - Every request is two frames: 7E 01 F4 0A, then the command frame.
//     Frames are 7E LEN payload CHK with CHK the bitwise NOT of the 8-bit sum
//     of LEN and the payload (inferred from every literal frame; all of them
//     satisfy it).
//   - Read data: 7E 01 F4 0A 7E 04 00 01 02 02 F6, answered by 51 bytes whose
//     [18-49] are eight 4-character ASCII decimals, read with atoi: HC ppm,
//     CO %vol/100, CO2 /10, O2 /10, NO ppm, lambda /100, rpm, oil
//     temperature /10 degC. The station checks [50] == NOT(sum of [18-49]).
//   - Pump on: ... 7E 0A 00 01 0E 02 01 00 00 00 00 00 E3; pump off the same
//     with 00 for the 01 and E4; each answered by 22 bytes the station
//     compares literally: 7E 01 C6 38 7E 01 81 7D, then 7E 0B 01 01 0E 00 00
//     01 00 00 00 00 00 E3 (on) or ... 00 ... E4 (off).
//   - Zero: ... 7E 04 00 01 16 45 9F, answered by 7E 01 C6 38 7E 01 81 7D;
//     the station then waits 30 s.
//   - No leak check, status, warm-up or back-flush command.
//
// Inferred: that [0-17] of the data reply are those two acknowledgement
// frames and the data frame's header (the driver checks only [0] = 7E and
// the checksum); that a field may be padded with spaces on either side or
// NULs after the digits (atoi stops at the first non-digit; anything else in
// a field is refused as a bad frame).

const (
	fgaMainLen   = 51
	fgaFieldsAt  = 18
	fgaFieldLen  = 4
	fgaDelimiter = 0x7E
)

// fgaFrame builds one 7E LEN payload CHK frame.
func fgaFrame(payload ...byte) []byte {
	b := append([]byte{fgaDelimiter, byte(len(payload))}, payload...)
	return append(b, ^sum8(b[1:]))
}

// fgaRequest is the select frame followed by the command frame.
func fgaRequest(payload ...byte) []byte {
	return append(fgaFrame(0xF4), fgaFrame(payload...)...)
}

var (
	fgaRead   = fgaRequest(0x00, 0x01, 0x02, 0x02)
	fgaZero   = fgaRequest(0x00, 0x01, 0x16, 0x45)
	fgaPumpOn = fgaRequest(0x00, 0x01, 0x0E, 0x02, 0x01, 0, 0, 0, 0, 0)
	fgaStop   = fgaRequest(0x00, 0x01, 0x0E, 0x02, 0x00, 0, 0, 0, 0, 0)
	fgaACK    = append(fgaFrame(0xC6), fgaFrame(0x81)...)
	fgaPumpOK = append(bytes.Clone(fgaACK), fgaFrame(0x01, 0x01, 0x0E, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0)...)
	fgaStopOK = append(bytes.Clone(fgaACK), fgaFrame(0x01, 0x01, 0x0E, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0)...)
)

var fgaFieldsOrder = []struct {
	name  string
	scale int64
	unit  string
}{
	{QuantityHC, 1, UnitPPM},
	{QuantityCO, 100, UnitVol},
	{QuantityCO2, 10, UnitVol},
	{QuantityO2, 10, UnitVol},
	{QuantityNO, 1, UnitPPM},
	{QuantityLambda, 100, UnitNone},
	{QuantityRPM, 1, UnitRPM},
	{QuantityOilTemperature, 10, UnitCelsius},
}

func checkFGAMain(b []byte) error {
	if len(b) != fgaMainLen {
		return frameError("length %d, want %d", len(b), fgaMainLen)
	}
	if b[0] != fgaDelimiter {
		return frameError("first byte %#02x, want %#02x", b[0], fgaDelimiter)
	}
	if got, want := b[50], ^sum8(b[fgaFieldsAt:50]); got != want {
		return checksumError(got, want)
	}
	return nil
}

func parseFGAMain(b []byte) ([]Quantity, error) {
	if err := checkFGAMain(b); err != nil {
		return nil, err
	}
	q := make([]Quantity, len(fgaFieldsOrder))
	for i, f := range fgaFieldsOrder {
		at := fgaFieldsAt + i*fgaFieldLen
		v, ok := parseFGAField(b[at : at+fgaFieldLen])
		if !ok {
			return nil, frameError("field %d at offset %d is not a decimal: %q", i, at, b[at:at+fgaFieldLen])
		}
		q[i] = Quantity{Name: f.name, Value: dec(v, f.scale), Unit: f.unit}
	}
	return q, nil
}

// parseFGAField parses an ASCII decimal of four characters: spaces, an
// optional sign, at least one digit, then spaces or NULs.
func parseFGAField(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var v int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return 0, false
	}
	for ; i < len(b); i++ {
		if b[i] != ' ' && b[i] != 0 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// FGA4100 drives a Foshan FGA-4100 gas analyzer.
type FGA4100 struct{ c *conn }

// NewFGA4100 runs the FGA-4100 protocol over rw; see NewNHA506.
func NewFGA4100(rw io.ReadWriter, port string, o Options) *FGA4100 {
	return &FGA4100{newConn(rw, port, "fga4100", "FGA-4100", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the measurements: HC, CO, CO2, O2, NO, lambda, rpm and oil
// temperature.
func (d *FGA4100) Read(ctx context.Context) (Reading, error) {
	q, err := exchange(ctx, d.c, bytes.Clone(fgaRead), func(ctx context.Context, l *link) ([]Quantity, error) {
		b, err := checked(d.c, fgaMainLen, checkFGAMain)(ctx, l)
		if err != nil {
			return nil, err
		}
		return parseFGAMain(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(d.c.method, q, nil)
}

// literal sends req and expects exactly want back.
func (d *FGA4100) literal(ctx context.Context, req, want []byte) error {
	_, err := exchange(ctx, d.c, bytes.Clone(req), checked(d.c, len(want), func(b []byte) error {
		if !bytes.Equal(b, want) {
			return frameError("answer % x, want % x", b, want)
		}
		return nil
	}))
	return err
}

// Zero sends the zero request and waits Options.ZeroWait.
func (d *FGA4100) Zero(ctx context.Context) error {
	if err := d.literal(ctx, fgaZero, fgaACK); err != nil {
		return err
	}
	return d.c.settle(ctx, "zero")
}

// Pump switches the pump on (from the probe) or off.
func (d *FGA4100) Pump(ctx context.Context, a PumpAction) error {
	switch a {
	case PumpProbe:
		return d.literal(ctx, fgaPumpOn, fgaPumpOK)
	case PumpStop:
		return d.literal(ctx, fgaStop, fgaStopOK)
	}
	return unsupported(d.c, "pump "+string(a))
}

// Stats returns the driver's counters.
func (d *FGA4100) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *FGA4100) Close() error { return d.c.close() }
