package canbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.einride.tech/can"
)

// maxCandumpSeconds bounds the timestamp of a candump line (the last second
// of year 9999) so that every parsed time can be written back.
const maxCandumpSeconds = 253402300799

// ParseCandumpLine parses one line of a candump -L log:
//
//	(1436509052.249713) vcan0 7E8#0341000000000000
//
// The identifier has 3 hex digits (11-bit) or 8 (29-bit); the data is 0 to 8
// bytes in hex, or R with an optional length digit for a remote frame. Fields
// may be separated by several blanks (candump pads interface names), and a
// trailing direction flag (T or R, from candump -x) is accepted. A CAN FD line
// ("##") gives ErrCANFD; any other malformed line gives ErrBadCandump.
func ParseCandumpLine(line string) (t time.Time, iface string, f can.Frame, err error) {
	fields := strings.Fields(line)
	if len(fields) == 4 && (fields[3] == "T" || fields[3] == "R") {
		fields = fields[:3]
	}
	if len(fields) != 3 {
		return time.Time{}, "", can.Frame{}, fmt.Errorf("%w: want \"(seconds.micros) iface frame\", got %q", ErrBadCandump, line)
	}
	t, err = parseCandumpTime(fields[0])
	if err != nil {
		return time.Time{}, "", can.Frame{}, err
	}
	f, err = parseCandumpFrame(fields[2])
	if err != nil {
		return time.Time{}, "", can.Frame{}, err
	}
	return t, fields[1], f, nil
}

func parseCandumpTime(s string) (time.Time, error) {
	inner, ok := strings.CutPrefix(s, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return time.Time{}, fmt.Errorf("%w: timestamp %q not in parentheses", ErrBadCandump, s)
	}
	secStr, fracStr, ok := strings.Cut(inner, ".")
	if !ok || !isDigits(secStr) || !isDigits(fracStr) || len(fracStr) > 9 {
		return time.Time{}, fmt.Errorf("%w: timestamp %q is not seconds.fraction", ErrBadCandump, s)
	}
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil || sec > maxCandumpSeconds {
		return time.Time{}, fmt.Errorf("%w: timestamp %q out of range", ErrBadCandump, s)
	}
	nsec, _ := strconv.ParseInt(fracStr+strings.Repeat("0", 9-len(fracStr)), 10, 64)
	return time.Unix(sec, nsec), nil
}

func parseCandumpFrame(s string) (can.Frame, error) {
	if strings.Contains(s, "##") {
		return can.Frame{}, fmt.Errorf("%w: %q", ErrCANFD, s)
	}
	idStr, data, ok := strings.Cut(s, "#")
	if !ok {
		return can.Frame{}, fmt.Errorf("%w: frame %q has no '#'", ErrBadCandump, s)
	}
	var f can.Frame
	switch len(idStr) {
	case 3:
	case 8:
		f.IsExtended = true
	default:
		return can.Frame{}, fmt.Errorf("%w: frame %q: identifier must be 3 or 8 hex digits", ErrBadCandump, s)
	}
	if !isHex(idStr) {
		return can.Frame{}, fmt.Errorf("%w: frame %q: identifier is not hex", ErrBadCandump, s)
	}
	id, _ := strconv.ParseUint(idStr, 16, 32)
	f.ID = uint32(id)
	if (f.IsExtended && f.ID > can.MaxExtendedID) || (!f.IsExtended && f.ID > can.MaxID) {
		return can.Frame{}, fmt.Errorf("%w: frame %q: identifier out of range (error frames are not supported)", ErrBadCandump, s)
	}
	if rest, ok := strings.CutPrefix(data, "R"); ok {
		f.IsRemote = true
		switch {
		case rest == "":
		case len(rest) == 1 && rest[0] >= '0' && rest[0] <= '8':
			f.Length = rest[0] - '0'
		default:
			return can.Frame{}, fmt.Errorf("%w: frame %q: remote length must be one digit 0-8", ErrBadCandump, s)
		}
		return f, nil
	}
	if len(data) > 2*can.MaxDataLength || len(data)%2 != 0 || !isHex(data) {
		return can.Frame{}, fmt.Errorf("%w: frame %q: data must be 0 to 8 bytes of hex", ErrBadCandump, s)
	}
	f.Length = uint8(len(data) / 2)
	for i := range int(f.Length) {
		b, _ := strconv.ParseUint(data[2*i:2*i+2], 16, 8)
		f.Data[i] = byte(b)
	}
	return f, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// WriteCandump writes one frame as a candump -L line ending in "\n". The time
// is written to the microsecond and must not be before 1970 or after year
// 9999; the interface name must be non-empty and contain no white space; the
// frame must pass Validate. A remote frame's data bytes are not written (a
// remote frame carries none). Errors wrap ErrBadCandump, or come from w.
func WriteCandump(w io.Writer, t time.Time, iface string, f can.Frame) error {
	if iface == "" || strings.IndexFunc(iface, unicode.IsSpace) >= 0 {
		return fmt.Errorf("%w: interface name %q must be non-empty without blanks", ErrBadCandump, iface)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandump, err)
	}
	sec := t.Unix()
	if sec < 0 || sec > maxCandumpSeconds {
		return fmt.Errorf("%w: time %v out of range", ErrBadCandump, t)
	}
	b := make([]byte, 0, 64)
	b = append(b, '(')
	b = fmt.Appendf(b, "%010d.%06d", sec, t.Nanosecond()/1000)
	b = append(b, ") "...)
	b = append(b, iface...)
	b = append(b, ' ')
	if f.IsRemote {
		f.Data = can.Data{}
	}
	b = append(b, f.String()...)
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
}

// Recorder appends frames to a candump -L log, stamping each with the time
// it is written. It is safe for concurrent use. The first write error is
// kept: later frames are not written and Err reports it.
type Recorder struct {
	mu    sync.Mutex
	w     io.Writer
	iface string
	now   func() time.Time
	err   error
}

// NewRecorder returns a Recorder writing to w under the interface name iface.
// now gives each frame's timestamp; nil means time.Now.
func NewRecorder(w io.Writer, iface string, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{w: w, iface: iface, now: now}
}

// WriteFrame appends one frame to the log.
func (r *Recorder) WriteFrame(f can.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if err := WriteCandump(r.w, r.now(), r.iface, f); err != nil {
		r.err = fmt.Errorf("canbus: record: %w", err)
	}
	return r.err
}

// Err returns the first error met while writing, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Record wraps conn so that every frame successfully sent or received through
// it is appended to w as a candump -L line under the interface name iface,
// stamped by now (nil means time.Now). The result is safe for concurrent use
// like conn. Recording never makes Send or Receive fail: the first write error
// stops recording and is returned by Close, joined with conn's own error.
func Record(conn Conn, w io.Writer, iface string, now func() time.Time) Conn {
	return &recordConn{conn: conn, rec: NewRecorder(w, iface, now)}
}

type recordConn struct {
	conn Conn
	rec  *Recorder
}

func (c *recordConn) Send(ctx context.Context, f can.Frame) error {
	if err := c.conn.Send(ctx, f); err != nil {
		return err
	}
	_ = c.rec.WriteFrame(f) // reported by Close
	return nil
}

func (c *recordConn) Receive(ctx context.Context) (can.Frame, error) {
	f, err := c.conn.Receive(ctx)
	if err != nil {
		return f, err
	}
	_ = c.rec.WriteFrame(f) // reported by Close
	return f, nil
}

func (c *recordConn) Close() error {
	return errors.Join(c.conn.Close(), c.rec.Err())
}
