package analyzer

import (
	"bytes"
	"context"
	"io"
)

// FuLi FLA-501, 9600 baud 8N1: a framed protocol, 02 LEN CMD data CHK with
// CHK the two's complement of the sum of the earlier bytes. Facts from the
// station code (FuLiFLA501.cpp), whose frames are literal:
//
//   - main data 02 01 40 BD answers 23 bytes, read without a checksum check:
//     [4-5] CO2 %vol/100, [6-7] CO /1000, [8-9] HC ppm, [10-11] O2 /100,
//     [12-13] NO ppm, [14-15] rpm (unsigned), [16-17] oil temperature /10,
//     [18-19] lambda /100; all signed but rpm.
//   - pump on 02 02 A5 01 56, pump off 02 02 A5 00 57, zero 02 01 20 DD;
//     each answers 4 bytes the station does not examine, and after a zero it
//     waits 30 s.
//   - no leak check, status or warm-up command (the station code returns
//     "not supported").
//
// Inferred: nothing in the 4-byte answers is checked (their layout is
// unknown), so a command counts as done when 4 bytes came back; Zero waits
// Options.ZeroWait after the answer.

var (
	fla501Main   = []byte{0x02, 0x01, 0x40, 0xBD}
	fla501PumpOn = []byte{0x02, 0x02, 0xA5, 0x01, 0x56}
	fla501Stop   = []byte{0x02, 0x02, 0xA5, 0x00, 0x57}
	fla501Zero   = []byte{0x02, 0x01, 0x20, 0xDD}
)

const (
	fla501MainLen   = 23
	fla501AnswerLen = 4
)

var fla501Fields = []field{
	s16(QuantityHC, 8, 1, UnitPPM),
	s16(QuantityCO, 6, 1000, UnitVol),
	s16(QuantityCO2, 4, 100, UnitVol),
	s16(QuantityO2, 10, 100, UnitVol),
	s16(QuantityNO, 12, 1, UnitPPM),
	s16(QuantityLambda, 18, 100, UnitNone),
	u16(QuantityRPM, 14, 1, UnitRPM),
	s16(QuantityOilTemperature, 16, 10, UnitCelsius),
}

func parseFLA501Main(b []byte) ([]Quantity, error) {
	if len(b) != fla501MainLen {
		return nil, frameError("length %d, want %d", len(b), fla501MainLen)
	}
	return decodeFields(b, fla501Fields), nil
}

// FLA501 drives a FuLi FLA-501 gas analyzer.
type FLA501 struct{ c *conn }

// NewFLA501 runs the FLA-501 protocol over rw; see NewNHA506.
func NewFLA501(rw io.ReadWriter, port string, o Options) *FLA501 {
	return &FLA501{newConn(rw, port, "fla501", "FLA-501", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the main data: HC, CO, CO2, O2, NO, lambda, rpm and oil
// temperature.
func (d *FLA501) Read(ctx context.Context) (Reading, error) {
	q, err := exchange(ctx, d.c, bytes.Clone(fla501Main), func(ctx context.Context, l *link) ([]Quantity, error) {
		b, err := fixed(d.c, fla501MainLen)(ctx, l)
		if err != nil {
			return nil, err
		}
		return parseFLA501Main(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(d.c.method, q, nil)
}

func (d *FLA501) command(ctx context.Context, req []byte) error {
	_, err := exchange(ctx, d.c, bytes.Clone(req), fixed(d.c, fla501AnswerLen))
	return err
}

// Zero sends the zero frame and waits Options.ZeroWait.
func (d *FLA501) Zero(ctx context.Context) error {
	if err := d.command(ctx, fla501Zero); err != nil {
		return err
	}
	return d.c.settle(ctx, "zero")
}

// Pump switches the pump on (from the probe) or off.
func (d *FLA501) Pump(ctx context.Context, a PumpAction) error {
	switch a {
	case PumpProbe:
		return d.command(ctx, fla501PumpOn)
	case PumpStop:
		return d.command(ctx, fla501Stop)
	}
	return unsupported(d.c, "pump "+string(a))
}

// Stats returns the driver's counters.
func (d *FLA501) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *FLA501) Close() error { return d.c.close() }
