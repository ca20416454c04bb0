package analyzer

import (
	"context"
	"io"
)

// MingQuan MQW-50A, 9600 baud 8N1. Frames are 02 CMD LEN data CHK, LEN the
// frame length less one, CHK the two's complement of the sum of the earlier
// bytes. Facts from the station code (MingQuanMQW50A.cpp):
//
//   - main data 02 60 03 9B answers 28 bytes: [3-4] CO2 %vol/100, [5-6] CO
//     /100, [7-8] HC ppm, [9-10] NO ppm, [11-12] O2 /100, [13-14] relative
//     humidity /10 %, [15-16] oil temperature /10 degC, [17-18] ambient
//     temperature /10 degC, [19-20] rpm (unsigned), [23-24] lambda /1000 (not
//     /100), [25-26] pressure /10 kPa, all signed but rpm; [27] is the two's
//     complement of the sum of [0-26] (the station checks it when it reads
//     the ambient values from the same reply).
//   - commands answer 4 bytes beginning 0x06: ambient air 02 7C 03 7F, probe
//     02 7B 03 80, back-flush 02 80 03 7B, stop 02 78 03 83, zero 02 67 03
//     94, leak check 02 66 03 95.
//   - status 02 61 03 9A answers 11 bytes beginning 0x06: [4] bit7 busy;
//     while busy, [3] bit0 warming up, bit6 zeroing, bit4 leak check;
//     when not busy, [5] bit2 the last zero failed and [5] bit0 the last leak
//     check found a leak.
//
// Inferred: that the status reply carries no checksum worth checking (the
// station checks only its first byte), and that a zero or leak check is
// over once the busy bit clears.

const (
	mqw50aMain      = 0x60
	mqw50aStatus    = 0x61
	mqw50aLeakCheck = 0x66
	mqw50aZero      = 0x67
	mqw50aStop      = 0x78
	mqw50aProbe     = 0x7B
	mqw50aAmbient   = 0x7C
	mqw50aBackFlush = 0x80

	mqw50aMainLen   = 28
	mqw50aStatusLen = 11
	mqw50aAnswerLen = 4
	mqw50aACK       = 0x06
)

// mqw50aFrame builds a request frame.
func mqw50aFrame(cmd byte, data ...byte) []byte {
	return withNeg8(append([]byte{0x02, cmd, byte(3 + len(data))}, data...)...)
}

var mqw50aFields = []field{
	s16(QuantityHC, 7, 1, UnitPPM),
	s16(QuantityCO, 5, 100, UnitVol),
	s16(QuantityCO2, 3, 100, UnitVol),
	s16(QuantityO2, 11, 100, UnitVol),
	s16(QuantityNO, 9, 1, UnitPPM),
	s16(QuantityLambda, 23, 1000, UnitNone),
	u16(QuantityRPM, 19, 1, UnitRPM),
	s16(QuantityOilTemperature, 15, 10, UnitCelsius),
	s16(QuantityTemperature, 17, 10, UnitCelsius),
	s16(QuantityPressure, 25, 10, UnitKPa),
	s16(QuantityHumidity, 13, 10, UnitPercent),
}

func checkMQW50AMain(b []byte) error {
	if len(b) != mqw50aMainLen {
		return frameError("length %d, want %d", len(b), mqw50aMainLen)
	}
	if got, want := b[27], neg8(b[:27]); got != want {
		return checksumError(got, want)
	}
	return nil
}

func parseMQW50AMain(b []byte) ([]Quantity, error) {
	if err := checkMQW50AMain(b); err != nil {
		return nil, err
	}
	return decodeFields(b, mqw50aFields), nil
}

func checkACKFirst(n int) func([]byte) error {
	return func(b []byte) error {
		if len(b) != n {
			return frameError("length %d, want %d", len(b), n)
		}
		if b[0] != mqw50aACK {
			return frameError("first byte %#02x, want %#02x", b[0], mqw50aACK)
		}
		return nil
	}
}

// mqw50aStatusOf reads an 11-byte status reply.
type mqw50aStatusReply struct {
	busy, warmingUp, zeroing, leakCheck bool
	zeroFailed, leak                    bool
	raw                                 []byte
}

func parseMQW50AStatus(b []byte) (mqw50aStatusReply, error) {
	if err := checkACKFirst(mqw50aStatusLen)(b); err != nil {
		return mqw50aStatusReply{}, err
	}
	return mqw50aStatusReply{
		busy:       b[4]&0x80 != 0,
		warmingUp:  b[3]&0x01 != 0,
		zeroing:    b[3]&0x40 != 0,
		leakCheck:  b[3]&0x10 != 0,
		zeroFailed: b[5]&0x04 != 0,
		leak:       b[5]&0x01 != 0,
		raw:        b,
	}, nil
}

func (s mqw50aStatusReply) mode() Mode {
	switch {
	case !s.busy:
		return ModeReady
	case s.warmingUp:
		return ModeWarmingUp
	case s.zeroing:
		return ModeZeroing
	case s.leakCheck:
		return ModeLeakCheck
	}
	return ModeUnknown
}

// MQW50A drives a MingQuan MQW-50A gas analyzer.
type MQW50A struct{ c *conn }

// NewMQW50A runs the MQW-50A protocol over rw; see NewNHA506.
func NewMQW50A(rw io.ReadWriter, port string, o Options) *MQW50A {
	return &MQW50A{newConn(rw, port, "mqw50a", "MQW-50A", methodOr(o.Method, defaultGasMethod), o)}
}

// Read requests the main data: HC, CO, CO2, O2, NO, lambda, rpm, oil
// temperature and the ambient temperature, pressure and humidity.
func (d *MQW50A) Read(ctx context.Context) (Reading, error) {
	q, err := exchange(ctx, d.c, mqw50aFrame(mqw50aMain), func(ctx context.Context, l *link) ([]Quantity, error) {
		b, err := checked(d.c, mqw50aMainLen, checkMQW50AMain)(ctx, l)
		if err != nil {
			return nil, err
		}
		return parseMQW50AMain(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(d.c.method, q, nil)
}

func (d *MQW50A) command(ctx context.Context, cmd byte) error {
	_, err := exchange(ctx, d.c, mqw50aFrame(cmd), checked(d.c, mqw50aAnswerLen, checkACKFirst(mqw50aAnswerLen)))
	return err
}

func (d *MQW50A) status(ctx context.Context) (mqw50aStatusReply, error) {
	return exchange(ctx, d.c, mqw50aFrame(mqw50aStatus), func(ctx context.Context, l *link) (mqw50aStatusReply, error) {
		b, err := checked(d.c, mqw50aStatusLen, checkACKFirst(mqw50aStatusLen))(ctx, l)
		if err != nil {
			return mqw50aStatusReply{}, err
		}
		return parseMQW50AStatus(b)
	})
}

// State reads the status.
func (d *MQW50A) State(ctx context.Context) (State, error) {
	s, err := d.status(ctx)
	if err != nil {
		return State{}, err
	}
	return State{Mode: s.mode(), Raw: hexOf(s.raw)}, nil
}

// operation starts cmd and polls the status until the busy bit clears.
func (d *MQW50A) operation(ctx context.Context, what string, cmd byte, outcome func(mqw50aStatusReply) error) error {
	if err := d.command(ctx, cmd); err != nil {
		return err
	}
	return d.c.operation(ctx, what, func(ctx context.Context) (bool, error) {
		s, err := d.status(ctx)
		if err != nil {
			return true, err
		}
		if s.busy {
			return false, nil
		}
		if err := outcome(s); err != nil {
			return true, d.c.wrap(err)
		}
		return true, nil
	})
}

// Zero zeroes the analyzer and waits for the outcome.
func (d *MQW50A) Zero(ctx context.Context) error {
	return d.operation(ctx, "zero", mqw50aZero, func(s mqw50aStatusReply) error {
		if s.zeroFailed {
			return ErrZeroFailed
		}
		return nil
	})
}

// LeakCheck runs the leak check (the probe must be capped) and waits for
// the outcome.
func (d *MQW50A) LeakCheck(ctx context.Context) error {
	return d.operation(ctx, "leak check", mqw50aLeakCheck, func(s mqw50aStatusReply) error {
		if s.leak {
			return ErrLeak
		}
		return nil
	})
}

// Pump switches the pump and valves.
func (d *MQW50A) Pump(ctx context.Context, a PumpAction) error {
	switch a {
	case PumpProbe:
		return d.command(ctx, mqw50aProbe)
	case PumpAmbient:
		return d.command(ctx, mqw50aAmbient)
	case PumpBackFlush:
		return d.command(ctx, mqw50aBackFlush)
	case PumpStop:
		return d.command(ctx, mqw50aStop)
	}
	return unsupported(d.c, "pump "+string(a))
}

// Stats returns the driver's counters.
func (d *MQW50A) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *MQW50A) Close() error { return d.c.close() }
