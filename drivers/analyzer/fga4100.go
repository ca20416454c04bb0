package analyzer

import (
	"context"
	"io"
	"strconv"
)

// FGA-4100 framing; see the package documentation.
const (
	FGADelimiter      = 0x7E // first byte of every frame
	FGAAddress        = 0x01 // default instrument address
	FGACommandMeasure = 0x60 // read measurements
	FGARequestLen     = 4
	FGAReplyLen       = 51
	fgaFieldsAt       = 18 // offset of the first ASCII field
	fgaFieldLen       = 4
	fgaFields         = 8
	fgaMin, fgaMax    = -999, 9999 // what four characters can hold
)

// FGAFrame is an FGA-4100 measurement reply as encoded: each field is the
// integer written as four ASCII characters.
type FGAFrame struct {
	Address        byte
	Status         [15]byte // bytes 3-17, ASCII, not interpreted
	HC             int      // ppm
	CO             int      // %vol x100
	CO2            int      // %vol x10
	O2             int      // %vol x10
	NO             int      // ppm
	Lambda         int      // x100
	RPM            int      // 1/min
	OilTemperature int      // degC x10
}

func (f *FGAFrame) fields() [fgaFields]*int {
	return [fgaFields]*int{&f.HC, &f.CO, &f.CO2, &f.O2, &f.NO, &f.Lambda, &f.RPM, &f.OilTemperature}
}

// FGARequest returns the measurement request for the instrument at addr.
func FGARequest(addr byte) []byte {
	return []byte{FGADelimiter, addr, FGACommandMeasure, ^(addr + FGACommandMeasure)}
}

// ParseFGARequest decodes a 4-byte request and returns the address and
// command (the simulator's side).
func ParseFGARequest(b []byte) (addr, cmd byte, err error) {
	if len(b) != FGARequestLen {
		return 0, 0, frameError("request length %d, want %d", len(b), FGARequestLen)
	}
	if b[0] != FGADelimiter {
		return 0, 0, frameError("request delimiter %#02x, want %#02x", b[0], FGADelimiter)
	}
	if want := ^(b[1] + b[2]); b[3] != want {
		return 0, 0, checksumError(b[3], want)
	}
	return b[1], b[2], nil
}

// ParseFGA4100 decodes a 51-byte FGA-4100 measurement reply.
func ParseFGA4100(b []byte) (FGAFrame, error) {
	var f FGAFrame
	if len(b) != FGAReplyLen {
		return f, frameError("length %d, want %d", len(b), FGAReplyLen)
	}
	if b[0] != FGADelimiter {
		return f, frameError("delimiter %#02x, want %#02x", b[0], FGADelimiter)
	}
	if b[2] != FGACommandMeasure {
		return f, frameError("command %#02x, want %#02x", b[2], FGACommandMeasure)
	}
	if got, want := b[FGAReplyLen-1], ^sum8(b[fgaFieldsAt:FGAReplyLen-1]); got != want {
		return f, checksumError(got, want)
	}
	f.Address = b[1]
	copy(f.Status[:], b[3:fgaFieldsAt])
	for i, p := range f.fields() {
		at := fgaFieldsAt + i*fgaFieldLen
		v, err := parseFGAField(b[at : at+fgaFieldLen])
		if err != nil {
			return FGAFrame{}, frameError("field %d at offset %d: %w", i, at, err)
		}
		*p = v
	}
	return f, nil
}

// parseFGAField parses a right-aligned, space-padded decimal with an optional
// minus sign, e.g. " 180", "0120", " -12".
func parseFGAField(b []byte) (int, error) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	s := string(b[i:])
	if s == "" || s[0] == '+' {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, strconv.ErrSyntax
	}
	return v, nil
}

// AppendFGA4100 appends the 51-byte reply of f to dst. Fields outside
// -999..9999 are clamped (four characters cannot hold them); a zero Status is
// sent as ASCII '0's.
func AppendFGA4100(dst []byte, f FGAFrame) []byte {
	dst = append(dst, FGADelimiter, f.Address, FGACommandMeasure)
	for _, c := range f.Status {
		if c == 0 {
			c = '0'
		}
		dst = append(dst, c)
	}
	start := len(dst)
	for _, p := range f.fields() {
		v := min(max(*p, fgaMin), fgaMax)
		s := strconv.Itoa(v)
		for range fgaFieldLen - len(s) {
			dst = append(dst, ' ')
		}
		dst = append(dst, s...)
	}
	return append(dst, ^sum8(dst[start:]))
}

// Quantities returns the values of f with their units.
func (f FGAFrame) Quantities() []Quantity {
	return []Quantity{
		{QuantityHC, dec(int64(f.HC), 1), UnitPPM},
		{QuantityCO, dec(int64(f.CO), 100), UnitVol},
		{QuantityCO2, dec(int64(f.CO2), 10), UnitVol},
		{QuantityO2, dec(int64(f.O2), 10), UnitVol},
		{QuantityNO, dec(int64(f.NO), 1), UnitPPM},
		{QuantityLambda, dec(int64(f.Lambda), 100), UnitNone},
		{QuantityRPM, dec(int64(f.RPM), 1), UnitRPM},
		{QuantityOilTemperature, dec(int64(f.OilTemperature), 10), UnitCelsius},
	}
}

// FGA4100 drives a Foshan FGA-4100 analyzer.
type FGA4100 struct {
	c    *conn
	addr byte
}

// NewFGA4100 runs the FGA-4100 protocol over rw, addressing FGAAddress; see
// NewNHA506.
func NewFGA4100(rw io.ReadWriter, port string, o Options) *FGA4100 {
	return &FGA4100{c: newConn(rw, port, "fga4100", "FGA-4100", methodOr(o.Method, defaultGasMethod), o), addr: FGAAddress}
}

// Read requests the measurements (HC, CO, CO2, O2, NO, lambda, rpm, oil
// temperature).
func (d *FGA4100) Read(ctx context.Context) (Reading, error) {
	f, err := exchange(ctx, d.c, FGARequest(d.addr), func(ctx context.Context, l *link) (FGAFrame, error) {
		for {
			b, err := l.readByte(ctx)
			if err != nil {
				return FGAFrame{}, err
			}
			if b != FGADelimiter {
				d.c.skip()
				continue
			}
			frame := make([]byte, FGAReplyLen)
			frame[0] = b
			if err := l.readFull(ctx, frame[1:], d.c.gap); err != nil {
				return FGAFrame{}, err
			}
			f, err := ParseFGA4100(frame)
			if err == nil && f.Address != d.addr {
				err = frameError("address %#02x, want %#02x", f.Address, d.addr)
			}
			return f, err
		}
	})
	if err != nil {
		return Reading{}, err
	}
	return d.c.reading(d.c.method, f.Quantities(), nil), nil
}

// Stats returns the driver's counters.
func (d *FGA4100) Stats() Stats { return d.c.stats() }

// Close closes the line and waits for the driver's goroutine.
func (d *FGA4100) Close() error { return d.c.close() }
