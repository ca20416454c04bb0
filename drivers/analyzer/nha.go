package analyzer

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// The NHA family: Nanhua NHA-506I (also sold as NHA-605I), FuLi FLA-502,
// Nanhua NHA-503 and NHA-503V, 9600 baud 8N1. Facts from the station code
// (NanhuaNha506I.cpp, FuLiFLA502.cpp, NanhuaNha503.cpp; DOMAIN.md section 3):
//
//   - A request is one byte without a checksum. A data reply has a fixed
//     length; its last byte is the 8-bit sum of every earlier byte (not
//     complemented). Byte [0] of a reply is not examined, so this package
//     does not examine it either and finds a reply by its checksum.
//   - Main data (NHA-506I 0x01, 21 bytes): [1-2] HC ppm, [3-4] CO %vol/100,
//     [5-6] CO2 /100, [7-8] O2 /100, [9-10] NO ppm, all signed; [11-12] rpm
//     unsigned; [13-14] oil temperature signed, whole degC; [15-16] a flow
//     value in undocumented units, unsigned; [17] flags (bit0 O2 sensor
//     aged, bit1 NO sensor aged); [18-19] lambda signed /100.
//     FLA-502: CO /1000 and oil temperature /10. NHA-503V: oil /10.
//     NHA-503: 0x2C gives 23 bytes, the same layout with oil /10 and [21]
//     bit6 water trap full; the older 0x81 gives the 21-byte layout.
//   - Ambient 0x02, 8 bytes: temperature /10 degC, pressure /10 kPa,
//     humidity /10 %, all read as signed.
//   - Zero 8 and leak check 7 answer ONE byte: 0x00 done (zero good, no
//     leak), 0x01 failed (zero failed, leak found), 0x05 still running. The
//     driver asks again every Options.PollInterval until 0x00 or 0x01.
//   - Pump and valve commands answer one byte, 0x06: back-flush 5, stop pump
//     6; probe and ambient air are 35/34 on the NHA-506I and 4/3 on the
//     FLA-502 and NHA-503.
//   - Status: NHA-506I 38 and NHA-503 38, FLA-502 34, one byte; 0 ready
//     (pump off), 1 measuring, 2 warming up, 3 leak check. The NHA-506I's
//     newer firmware sends 0xF0/0xF1 for 0/1; the FLA-502 sends 0xF0/0xF1
//     for 0/1 and the station code calls its 0x00/0x01 "not supported".
//     Warm-up seconds left: 39 (FLA-502: 35), 2 bytes big-endian, no
//     checksum.
//
// Inferred: 0x06 as an answer to zero or leak check (DOMAIN.md: "also
// occurs") is taken as "accepted, still running"; an answer of 0x15 or
// 0x05 to a one-byte command as a refusal or busy; the NHA-503V's commands
// are the NHA-503's; an NHA-503 that does not answer 0x2C is asked 0x81
// from then on.

// NHA family commands.
const (
	nhaAmbient   = 0x02
	nhaBackFlush = 0x05
	nhaStopPump  = 0x06
	nhaLeakCheck = 0x07
	nhaZero      = 0x08

	nhaACK  = 0x06
	nhaBusy = 0x05
	nhaNAK  = 0x15

	nhaDone    = 0x00
	nhaFailed  = 0x01
	nhaRunning = 0x05
)

// nhaMain is one main-data request of the family and its reply layout.
type nhaMain struct {
	req    byte
	n      int
	fields []field
	water  bool // [21] bit 6: water trap full
}

// nhaModel is one member of the family.
type nhaModel struct {
	name, model    string
	main           []nhaMain // tried in order until one answers
	probe, ambient byte      // pump on from the probe, from ambient air
	status         byte
	mode           func(byte) Mode
	warmUp         byte
}

func nhaFields(coScale, oilScale int64) []field {
	return []field{
		s16(QuantityHC, 1, 1, UnitPPM),
		s16(QuantityCO, 3, coScale, UnitVol),
		s16(QuantityCO2, 5, 100, UnitVol),
		s16(QuantityO2, 7, 100, UnitVol),
		s16(QuantityNO, 9, 1, UnitPPM),
		s16(QuantityLambda, 18, 100, UnitNone),
		u16(QuantityRPM, 11, 1, UnitRPM),
		s16(QuantityOilTemperature, 13, oilScale, UnitCelsius),
		u16(QuantityFlow, 15, 1, UnitNone),
	}
}

var (
	modelNHA506 = &nhaModel{
		name: "nha506", model: "NHA-506I",
		main:  []nhaMain{{req: 0x01, n: 21, fields: nhaFields(100, 1)}},
		probe: 35, ambient: 34, status: 38, mode: nha506Mode, warmUp: 39,
	}
	modelFLA502 = &nhaModel{
		name: "fla502", model: "FLA-502",
		main:  []nhaMain{{req: 0x01, n: 21, fields: nhaFields(1000, 10)}},
		probe: 4, ambient: 3, status: 34, mode: fla502Mode, warmUp: 35,
	}
	modelNHA503 = &nhaModel{
		name: "nha503", model: "NHA-503",
		main: []nhaMain{
			{req: 0x2C, n: 23, fields: nhaFields(100, 10), water: true},
			{req: 0x81, n: 21, fields: nhaFields(100, 10)},
		},
		probe: 4, ambient: 3, status: 38, mode: nhaMode, warmUp: 39,
	}
	modelNHA503V = &nhaModel{
		name: "nha503v", model: "NHA-503V",
		main:  []nhaMain{{req: 0x01, n: 21, fields: nhaFields(100, 10)}},
		probe: 4, ambient: 3, status: 38, mode: nhaMode, warmUp: 39,
	}
)

// nhaMode reads the family's status codes 0-3.
func nhaMode(b byte) Mode {
	switch b {
	case 0:
		return ModeReady
	case 1:
		return ModeMeasuring
	case 2:
		return ModeWarmingUp
	case 3:
		return ModeLeakCheck
	}
	return ModeUnknown
}

func nha506Mode(b byte) Mode {
	switch b {
	case 0xF0:
		b = 0
	case 0xF1:
		b = 1
	}
	return nhaMode(b)
}

func fla502Mode(b byte) Mode {
	switch b {
	case 0xF0:
		return ModeReady
	case 0xF1:
		return ModeMeasuring
	case 0x00, 0x01:
		return ModeUnknown
	}
	return nhaMode(b)
}

// checkNHA checks an n-byte reply's length and 8-bit sum.
func checkNHA(b []byte, n int) error {
	if len(b) != n {
		return frameError("length %d, want %d", len(b), n)
	}
	if got, want := b[n-1], sum8(b[:n-1]); got != want {
		return checksumError(got, want)
	}
	return nil
}

// parseNHAMain decodes a main data reply of layout m.
func parseNHAMain(m nhaMain, b []byte) ([]Quantity, []string, error) {
	if err := checkNHA(b, m.n); err != nil {
		return nil, nil, err
	}
	q := decodeFields(b, m.fields)
	var flags []string
	if b[17]&0x01 != 0 {
		flags = append(flags, StatusO2SensorAged)
	}
	if b[17]&0x02 != 0 {
		flags = append(flags, StatusNOSensorAged)
	}
	if m.water && b[21]&0x40 != 0 {
		flags = append(flags, StatusWaterTrapFull)
	}
	return q, flags, nil
}

// parseNHAAmbient decodes the 8-byte ambient reply.
func parseNHAAmbient(b []byte) ([]Quantity, error) {
	if err := checkNHA(b, 8); err != nil {
		return nil, err
	}
	return decodeFields(b, []field{
		s16(QuantityTemperature, 1, 10, UnitCelsius),
		s16(QuantityPressure, 3, 10, UnitKPa),
		s16(QuantityHumidity, 5, 10, UnitPercent),
	}), nil
}

// nhaCommandReply reads the answer to a one-byte command: nil for 0x06.
func nhaCommandReply(b byte) error {
	switch b {
	case nhaACK:
		return nil
	case nhaNAK:
		return ErrNAK
	case nhaBusy:
		return ErrBusy
	}
	return frameError("command answer %#02x, want %#02x", b, nhaACK)
}

// nhaOperationReply reads the answer to zero or leak check: done with its
// outcome, or still running.
func nhaOperationReply(b byte, failed error) (done bool, err error) {
	switch b {
	case nhaDone:
		return true, nil
	case nhaFailed:
		return true, failed
	case nhaRunning, nhaACK:
		return false, nil
	}
	return false, frameError("answer %#02x, want 00, 01 or 05", b)
}

// NHA drives an NHA family gas analyzer: NHA-506I/605I, FLA-502, NHA-503 or
// NHA-503V.
type NHA struct {
	c    *conn
	m    *nhaModel
	main atomic.Int32 // index into m.main of the request in use
}

func newNHA(m *nhaModel, rw io.ReadWriter, port string, o Options) *NHA {
	return &NHA{c: newConn(rw, port, m.name, m.model, methodOr(o.Method, defaultGasMethod), o), m: m}
}

// NewNHA506 runs the NHA-506I (NHA-605I) protocol over rw; port names the
// line in readings and errors. Close closes rw if it is an io.Closer.
func NewNHA506(rw io.ReadWriter, port string, o Options) *NHA {
	return newNHA(modelNHA506, rw, port, o)
}

// NewFLA502 runs the FLA-502 protocol over rw; see NewNHA506.
func NewFLA502(rw io.ReadWriter, port string, o Options) *NHA {
	return newNHA(modelFLA502, rw, port, o)
}

// NewNHA503 runs the NHA-503 protocol over rw; see NewNHA506.
func NewNHA503(rw io.ReadWriter, port string, o Options) *NHA {
	return newNHA(modelNHA503, rw, port, o)
}

// NewNHA503V runs the NHA-503V protocol over rw; see NewNHA506.
func NewNHA503V(rw io.ReadWriter, port string, o Options) *NHA {
	return newNHA(modelNHA503V, rw, port, o)
}

// Read requests the main data: HC, CO, CO2, O2, NO, lambda, rpm, oil
// temperature, flow and the sensor flags.
func (d *NHA) Read(ctx context.Context) (Reading, error) {
	for {
		i := int(d.main.Load())
		m := d.m.main[i]
		type result struct {
			q     []Quantity
			flags []string
		}
		r, err := exchange(ctx, d.c, []byte{m.req}, func(ctx context.Context, l *link) (result, error) {
			b, err := checked(d.c, m.n, func(b []byte) error { return checkNHA(b, m.n) })(ctx, l)
			if err != nil {
				return result{}, err
			}
			q, flags, err := parseNHAMain(m, b)
			return result{q, flags}, err
		})
		if err == nil || i+1 == len(d.m.main) || ctx.Err() != nil || !isSilence(err) {
			if err != nil {
				return Reading{}, err
			}
			return d.c.reading(d.c.method, r.q, r.flags)
		}
		d.c.log.Info("analyzer: no answer to the main data request, trying the older one",
			"port", d.c.id.Port, "model", d.m.model, "request", m.req, "next", d.m.main[i+1].req)
		d.main.CompareAndSwap(int32(i), int32(i+1))
	}
}

func isSilence(err error) bool { return errorsIs(err, ErrNoResponse) || errorsIs(err, ErrIncomplete) }

// Ambient requests the ambient temperature, pressure and humidity.
func (d *NHA) Ambient(ctx context.Context) (Reading, error) {
	q, err := exchange(ctx, d.c, []byte{nhaAmbient}, func(ctx context.Context, l *link) ([]Quantity, error) {
		b, err := checked(d.c, 8, func(b []byte) error { return checkNHA(b, 8) })(ctx, l)
		if err != nil {
			return nil, err
		}
		return parseNHAAmbient(b)
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(MethodAmbient, q, nil)
}

// command sends a one-byte command answered by 0x06.
func (d *NHA) command(ctx context.Context, cmd byte) error { return d.c.oneByte(ctx, cmd) }

// operation sends cmd until the instrument answers done or failed.
func (d *NHA) operation(ctx context.Context, what string, cmd byte, failed error) error {
	return d.c.operation(ctx, what, func(ctx context.Context) (bool, error) {
		type outcome struct {
			done bool
			err  error
		}
		o, err := exchange(ctx, d.c, []byte{cmd}, func(ctx context.Context, l *link) (outcome, error) {
			b, err := l.readByte(ctx)
			if err != nil {
				return outcome{}, err
			}
			done, oerr := nhaOperationReply(b, failed)
			if errorsIs(oerr, ErrBadFrame) {
				return outcome{}, oerr
			}
			return outcome{done, oerr}, nil
		})
		if err != nil {
			return true, err
		}
		if o.err != nil {
			return true, d.c.wrap(o.err)
		}
		return o.done, nil
	})
}

// Zero zeroes the analyzer (command 8) and waits until it reports the
// outcome.
func (d *NHA) Zero(ctx context.Context) error {
	return d.operation(ctx, "zero", nhaZero, ErrZeroFailed)
}

// LeakCheck runs the leak check (command 7; the probe must be capped) and
// waits until it reports the outcome.
func (d *NHA) LeakCheck(ctx context.Context) error {
	return d.operation(ctx, "leak check", nhaLeakCheck, ErrLeak)
}

// State reads the status and, while warming up, the warm-up time left.
func (d *NHA) State(ctx context.Context) (State, error) {
	raw, err := exchange(ctx, d.c, []byte{d.m.status}, func(ctx context.Context, l *link) (byte, error) {
		return l.readByte(ctx)
	})
	if err != nil {
		return State{}, err
	}
	st := State{Mode: d.m.mode(raw), Raw: hexOf([]byte{raw})}
	if st.Mode == ModeWarmingUp {
		b, err := exchange(ctx, d.c, []byte{d.m.warmUp}, fixed(d.c, 2))
		if err != nil {
			return st, err
		}
		st.WarmUpLeft = time.Duration(be16(b)) * time.Second
	}
	return st, nil
}

// Pump switches the pump and valves.
func (d *NHA) Pump(ctx context.Context, a PumpAction) error {
	switch a {
	case PumpProbe:
		return d.command(ctx, d.m.probe)
	case PumpAmbient:
		return d.command(ctx, d.m.ambient)
	case PumpBackFlush:
		return d.command(ctx, nhaBackFlush)
	case PumpStop:
		return d.command(ctx, nhaStopPump)
	}
	return unsupported(d.c, "pump "+string(a))
}

// Stats returns the driver's counters.
func (d *NHA) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *NHA) Close() error { return d.c.close() }

func methodOr(m, def string) string {
	if m == "" {
		return def
	}
	return m
}
