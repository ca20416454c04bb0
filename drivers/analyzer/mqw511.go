package analyzer

import (
	"context"
	"io"
)

// MingQuan MQW-511 and Nanhua NHA-501A, 9600 baud 8N1. Facts from the
// station code (MingQuanMQW511.cpp, NanhuaNha501A.cpp):
//
//   - Main data 0x03 answers 19 bytes and the station checks no checksum:
//     [1-2] HC ppm, [3-4] CO %vol/100, [5-6] CO2 /100, [7-8] O2 /100, [9-10]
//     NO ppm (signed), [11-12] rpm, [13-14] oil temperature (unsigned,
//     whole degC), [15-16] lambda /100 (signed); [0], [17] and [18] are not
//     read.
//   - 0x01 pump on, 0x02 stop, each answered by 0x06.
//   - The MQW-511 has no zero, leak check, warm-up or status command: the
//     station code only waits 30 s when asked to zero. The NHA-501A zeroes
//     with 0x0C (answered 0x06) and the station code then waits 30 s.
//
// With no checksum and no header, the only guard against a garbled reply is
// the plausibility check; the driver reads the first 19 bytes after its
// request, as the station does. Inferred: that the instrument reports no
// completion of its zero, so Zero waits Options.ZeroWait (default 30 s).

const (
	mqw511Main    = 0x03
	mqw511MainLen = 19
	mqw511PumpOn  = 0x01
	mqw511Stop    = 0x02
	nha501aZero   = 0x0C
)

var mqw511Fields = []field{
	s16(QuantityHC, 1, 1, UnitPPM),
	s16(QuantityCO, 3, 100, UnitVol),
	s16(QuantityCO2, 5, 100, UnitVol),
	s16(QuantityO2, 7, 100, UnitVol),
	s16(QuantityNO, 9, 1, UnitPPM),
	s16(QuantityLambda, 15, 100, UnitNone),
	u16(QuantityRPM, 11, 1, UnitRPM),
	u16(QuantityOilTemperature, 13, 1, UnitCelsius),
}

func parseMQW511Main(b []byte) ([]Quantity, error) {
	if len(b) != mqw511MainLen {
		return nil, frameError("length %d, want %d", len(b), mqw511MainLen)
	}
	return decodeFields(b, mqw511Fields), nil
}

// MQW511 drives a MingQuan MQW-511 gas analyzer.
type MQW511 struct{ c *conn }

// NewMQW511 runs the MQW-511 protocol over rw; see NewNHA506.
func NewMQW511(rw io.ReadWriter, port string, o Options) *MQW511 {
	return &MQW511{newConn(rw, port, "mqw511", "MQW-511", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the main data: HC, CO, CO2, O2, NO, lambda, rpm and oil
// temperature.
func (d *MQW511) Read(ctx context.Context) (Reading, error) {
	q, err := exchange(ctx, d.c, []byte{mqw511Main}, func(ctx context.Context, l *link) ([]Quantity, error) {
		b, err := fixed(d.c, mqw511MainLen)(ctx, l)
		if err != nil {
			return nil, err
		}
		return parseMQW511Main(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(d.c.method, q, nil)
}

func (d *MQW511) command(ctx context.Context, cmd byte) error { return d.c.oneByte(ctx, cmd) }

// Pump switches the pump on (from the probe) or off; the instrument has no
// ambient-air valve or back-flush.
func (d *MQW511) Pump(ctx context.Context, a PumpAction) error {
	switch a {
	case PumpProbe:
		return d.command(ctx, mqw511PumpOn)
	case PumpStop:
		return d.command(ctx, mqw511Stop)
	}
	return unsupported(d.c, "pump "+string(a))
}

// Stats returns the driver's counters.
func (d *MQW511) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *MQW511) Close() error { return d.c.close() }

// NHA501A drives a Nanhua NHA-501A: the MQW-511 protocol with a zero.
type NHA501A struct{ *MQW511 }

// NewNHA501A runs the NHA-501A protocol over rw; see NewNHA506.
func NewNHA501A(rw io.ReadWriter, port string, o Options) *NHA501A {
	return &NHA501A{&MQW511{newConn(rw, port, "nha501a", "NHA-501A", methodOr(o.Method, defaultGasMethod), o)}}
}

// Zero sends the zero command (0x0C) and waits Options.ZeroWait, since the
// instrument reports no completion.
func (d *NHA501A) Zero(ctx context.Context) error {
	if err := d.command(ctx, nha501aZero); err != nil {
		return err
	}
	return d.c.settle(ctx, "zero")
}
