// Package elm327 drives ELM327-compatible OBD-II adapters (USB or Bluetooth
// serial dongles, genuine and clones) and implements obd.Transport on them,
// so that agent/scan reads the same snapshot through a dongle as over CAN.
//
// The Adapter initialises the dongle with ATZ, ATE0, ATL0, ATS0, ATH1 (headers
// on, so every answer names its ECU), ATAT1 and ATSP0, searches the
// vehicle's protocol with 0100 and reads it back with ATDPN (or ATDP). Only
// ISO 15765-4 CAN vehicles (protocols 6 to 9, 11- and 29-bit) are parsed. Each
// request is sent as one line of hex, with the number of expected answers
// appended when the caller knows it (obd.Request.Expect), so that the adapter
// returns without waiting out its timeout. Multi-frame answers are
// reassembled per ECU from the CAN frames the adapter prints (ISO-TP first and
// consecutive frames), or from its "0:", "1:" lines when headers are off.
//
// Real adapters and clones misbehave: echo that will not turn off, missing
// commands ("?" to ATDPN or ATAT1), stray prompts, answers split across reads,
// a reset in the middle of a session, garbage. The Adapter degrades instead
// of failing where it can (re-initialising after a reset, resynchronising
// after a lost prompt, each retried once) and reports every status message of
// the adapter as its own error (ErrNoData, ErrCANError, ...). Every wait has a
// deadline.
//
// Open opens a serial device ("/dev/ttyUSB0@38400") and finds the adapter's
// baud rate; New runs on any io.ReadWriter (a pipe in tests). The simulator
// in drivers/elm327/elmsim serves a simulated vehicle as an ELM327.
package elm327

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Default timing, used for zero Options fields.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultSearchTimeout = 20 * time.Second
	DefaultResetTimeout  = 3 * time.Second
	DefaultProbeTimeout  = time.Second
)

// Timing selects the adapter's adaptive timing (ATAT).
type Timing int

// Adaptive timing modes.
const (
	TimingAdaptive   Timing = iota // ATAT1, the adapter's default
	TimingAggressive               // ATAT2
	TimingOff                      // ATAT0: always wait the full ATST timeout
)

// Options configure an Adapter. The zero value is ready to use.
type Options struct {
	// Timeout bounds each exchange with the adapter (command to prompt).
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// SearchTimeout bounds a request that makes the adapter search for the
	// vehicle's protocol. Zero means DefaultSearchTimeout.
	SearchTimeout time.Duration
	// ResetTimeout bounds ATZ. Zero means DefaultResetTimeout.
	ResetTimeout time.Duration
	// Timing selects the adaptive timing mode sent with ATAT; adapters that
	// do not know the command are left as they are.
	Timing Timing
	// ResponseTimeout, when positive, is sent with ATST (in 4 ms steps, at
	// most 1020 ms): how long the adapter waits for an answer. Zero leaves
	// the adapter's default (200 ms).
	ResponseTimeout time.Duration
	// Protocol is the ELM327 protocol for ATSP: "0" (automatic, the
	// default when empty), "6" to "9" for CAN, or "A6" (automatic, trying
	// 6 first).
	Protocol string

	// Baud is the first baud rate Open tries when the spec names none.
	// Zero means 38400.
	Baud int
	// Bauds is the order in which Open tries baud rates after the first.
	// Nil means 38400, 9600, 115200, 57600, 230400, 500000.
	Bauds []int
	// Opener opens the serial device for Open. Nil means
	// drivers/serialport (rates it does not support are skipped).
	Opener Opener
	// ProbeTimeout is how long Open waits for an answer at each baud rate.
	// Zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration

	// Logger receives reports of clone quirks, retries and malformed lines.
	// Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SearchTimeout <= 0 {
		o.SearchTimeout = DefaultSearchTimeout
	}
	if o.ResetTimeout <= 0 {
		o.ResetTimeout = DefaultResetTimeout
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Protocol == "" {
		o.Protocol = "0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats counts an Adapter's traffic since it was created.
type Stats struct {
	Requests     int64 // Do calls
	BytesWritten int64 // bytes sent to the adapter, commands included
	BytesRead    int64 // bytes received from the adapter
	Retries      int64 // requests sent again (after a reset, lost prompt, STOPPED, early end)
	Resets       int64 // times the adapter reset itself and was initialised again
}

// Adapter is an initialised ELM327. It implements obd.Transport; Do calls
// are serialised. It owns one reader goroutine, stopped by Close.
type Adapter struct {
	opts Options
	log  *slog.Logger
	p    *port
	mu   sync.Mutex // serialises exchanges; guards the fields below

	headers   bool   // ATH1 accepted
	proto     byte   // protocol digit ('6'...), 0 while unknown
	idBits    int    // 11 or 29 once known
	header    string // request header set with ATSH; "" = functional default
	unsynced  bool   // an exchange ended before its prompt
	searchErr error  // why the last search failed
	closed    bool

	info     sync.Mutex // guards version and protoName for the getters
	version  string
	protoNm  string
	baudRate int

	requests, retries, resets atomic.Int64
}

var _ obd.Transport = (*Adapter)(nil)

// protocols are the ELM327's protocol numbers and the names it prints for
// them (ATDP).
var protocols = map[byte]string{
	'1': "SAE J1850 PWM",
	'2': "SAE J1850 VPW",
	'3': "ISO 9141-2",
	'4': "ISO 14230-4 (KWP 5BAUD)",
	'5': "ISO 14230-4 (KWP FAST)",
	'6': "ISO 15765-4 (CAN 11/500)",
	'7': "ISO 15765-4 (CAN 29/500)",
	'8': "ISO 15765-4 (CAN 11/250)",
	'9': "ISO 15765-4 (CAN 29/250)",
	'A': "SAE J1939 (CAN 29/250)",
	'B': "USER1 (CAN 11/125)",
	'C': "USER2 (CAN 11/50)",
}

// ProtocolName returns the name the ELM327 prints (ATDP) for a protocol
// number ('1' to 'C'), or "" for an unknown one.
func ProtocolName(num byte) string { return protocols[num] }

// isoCAN reports whether a protocol number is ISO 15765-4 CAN.
func isoCAN(p byte) bool { return p >= '6' && p <= '9' }

// New initialises the adapter on rw and searches for the vehicle. The
// Adapter takes rw over: Close closes it when it is an io.Closer. rw's Read
// may return fragments and may time out (an error with Timeout() true, as
// drivers/serialport does); it must return once rw is closed, or within a
// bounded time, for Close to return.
//
// New fails only when the adapter itself does not answer (ErrNoAdapter,
// ErrTimeout, ErrClosed). A vehicle that does not answer the search (NO
// DATA, UNABLE TO CONNECT, ignition off) is not an error: Protocol stays
// empty, SearchErr says why, and the next Do searches again.
func New(ctx context.Context, rw io.ReadWriter, opts Options) (*Adapter, error) {
	return newAdapter(ctx, newPort(rw), opts)
}

func newAdapter(ctx context.Context, p *port, opts Options) (*Adapter, error) {
	opts = opts.withDefaults()
	a := &Adapter{opts: opts, log: opts.Logger, p: p}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.init(ctx); err != nil {
		p.close()
		return nil, err
	}
	return a, nil
}

// Close stops the reader goroutine, closes the line and waits. A Do in
// progress returns ErrClosed.
func (a *Adapter) Close() error {
	err := a.p.close()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return err
}

// Protocol returns the name of the vehicle protocol the adapter found, as
// it prints it ("ISO 15765-4 (CAN 11/500)"), or "" before a vehicle answered.
func (a *Adapter) Protocol() string {
	a.info.Lock()
	defer a.info.Unlock()
	return a.protoNm
}

// Version returns the adapter's banner, e.g. "ELM327 v1.5" (clones lie).
func (a *Adapter) Version() string {
	a.info.Lock()
	defer a.info.Unlock()
	return a.version
}

// Baud returns the baud rate Open found the adapter at; zero for New.
func (a *Adapter) Baud() int {
	a.info.Lock()
	defer a.info.Unlock()
	return a.baudRate
}

// SearchErr returns why the last protocol search failed, or nil.
func (a *Adapter) SearchErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.searchErr
}

// Stats returns the counters.
func (a *Adapter) Stats() Stats {
	return Stats{
		Requests:     a.requests.Load(),
		BytesWritten: a.p.written.Load(),
		BytesRead:    a.p.read.Load(),
		Retries:      a.retries.Load(),
		Resets:       a.resets.Load(),
	}
}

// exchange sends one command line and returns the adapter's answer up to
// the prompt, with the echo of the command and empty lines removed. Input
// left over from an earlier exchange is discarded first; a prompt with
// nothing before it (a stray prompt) is skipped.
func (a *Adapter) exchange(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	if a.closed {
		return "", ErrClosed
	}
	if a.unsynced {
		if err := a.resync(ctx); err != nil {
			return "", err
		}
	}
	if stale := a.p.discard(); len(strings.TrimSpace(strings.Trim(string(stale), ">"))) > 0 {
		a.log.Debug("elm327: discarding stale input", "text", string(stale))
	}
	if err := a.p.write(cmd + "\r"); err != nil {
		return "", fmt.Errorf("elm327: write %s: %w", cmd, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		text, err := a.p.untilPrompt(ctx, deadline)
		if err != nil {
			// The adapter may still be answering: resynchronise before
			// the next command.
			a.unsynced = true
			return "", fmt.Errorf("elm327: %s: %w", cmd, err)
		}
		if lines := stripEcho(splitLines(text), cmd); len(lines) > 0 {
			return strings.Join(lines, "\n"), nil
		}
		a.log.Debug("elm327: stray prompt", "cmd", cmd)
	}
}

// stripEcho removes the echo of cmd from the head of lines.
func stripEcho(lines []string, cmd string) []string {
	c := compact(cmd)
	for len(lines) > 0 && compact(lines[0]) == c {
		lines = lines[1:]
	}
	return lines
}

// at sends an AT command and returns its answer. "?" becomes
// ErrUnknownCommand, a banner where none was asked for ErrAdapterReset.
func (a *Adapter) at(ctx context.Context, cmd string) (string, error) {
	text, err := a.exchange(ctx, cmd, a.opts.Timeout)
	if err != nil {
		return "", err
	}
	lines := splitLines(text)
	last := compact(lines[len(lines)-1])
	switch {
	case last == "?":
		return "", fmt.Errorf("%w: %s", ErrUnknownCommand, cmd)
	case cmd != "ATI" && cmd != "ATZ" && cmd != "ATWS" && (isBanner(compact(lines[0])) || last == "LVRESET"):
		return "", fmt.Errorf("%w: during %s", ErrAdapterReset, cmd)
	}
	return text, nil
}

// optional sends an AT command a clone may lack: "?" is logged and
// ignored.
func (a *Adapter) optional(ctx context.Context, cmd string) (ok bool, err error) {
	_, err = a.at(ctx, cmd)
	if errors.Is(err, ErrUnknownCommand) {
		a.log.Warn("elm327: adapter does not know a command; going on without it", "cmd", cmd)
		return false, nil
	}
	return err == nil, err
}

// init resets and configures the adapter and searches for the vehicle.
// Called with a.mu held.
func (a *Adapter) init(ctx context.Context) error {
	a.headers, a.proto, a.idBits, a.header, a.searchErr = false, 0, 0, "", nil
	a.setProtocolName("")
	text, err := a.exchange(ctx, "ATZ", a.opts.ResetTimeout)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return fmt.Errorf("%w: %w", ErrNoAdapter, err)
		}
		return err
	}
	version := ""
	for _, l := range splitLines(text) {
		if isBanner(compact(l)) || version == "" {
			version = l
		}
	}
	if compact(version) == "?" {
		if t, err := a.at(ctx, "ATI"); err == nil {
			version = splitLines(t)[0]
		}
	}
	a.info.Lock()
	a.version = version
	a.info.Unlock()

	for _, cmd := range []string{"ATE0", "ATL0", "ATS0"} {
		if _, err := a.optional(ctx, cmd); err != nil {
			return err
		}
	}
	ok, err := a.optional(ctx, "ATH1")
	if err != nil {
		return err
	}
	a.headers = ok
	if !ok {
		a.log.Warn("elm327: headers unavailable; every answer is attributed to the engine ECU")
	}
	timing := map[Timing]string{TimingAdaptive: "ATAT1", TimingAggressive: "ATAT2", TimingOff: "ATAT0"}[a.opts.Timing]
	if timing == "" {
		timing = "ATAT1"
	}
	if _, err := a.optional(ctx, timing); err != nil {
		return err
	}
	if d := a.opts.ResponseTimeout; d > 0 {
		n := min(max((d+4*time.Millisecond-1)/(4*time.Millisecond), 1), 255)
		if _, err := a.optional(ctx, fmt.Sprintf("ATST%02X", int(n))); err != nil {
			return err
		}
	}
	if _, err := a.optional(ctx, "ATSP"+strings.ToUpper(a.opts.Protocol)); err != nil {
		return err
	}
	return a.search(ctx)
}

// search asks 0100 so that the adapter finds the vehicle's protocol, then
// reads which one it found. A vehicle that does not answer is recorded in
// a.searchErr, not returned.
func (a *Adapter) search(ctx context.Context) error {
	text, err := a.exchange(ctx, "0100", a.opts.SearchTimeout)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			a.searchErr = err
			a.log.Warn("elm327: protocol search timed out", "err", err)
			return nil
		}
		return err
	}
	p, err := parseResponse(text, a.format())
	if err == nil {
		err = p.err()
	}
	if err != nil {
		if errors.Is(err, ErrAdapterReset) {
			return err
		}
		a.searchErr = err
		a.log.Info("elm327: no vehicle found", "err", err)
		return nil
	}
	return a.detectProtocol(ctx, p.idBits)
}

// detectProtocol reads the protocol the adapter is using: ATDPN, else ATDP,
// else the header width seen in an answer.
func (a *Adapter) detectProtocol(ctx context.Context, seenBits int) error {
	a.searchErr = nil
	text, err := a.at(ctx, "ATDPN")
	if err == nil {
		c := strings.TrimPrefix(compact(splitLines(text)[0]), "A")
		if len(c) == 1 && protocols[c[0]] != "" {
			a.setProtocol(c[0], protocols[c[0]])
			return nil
		}
		a.log.Warn("elm327: unexpected ATDPN answer", "text", text)
	} else if !errors.Is(err, ErrUnknownCommand) {
		return err
	}
	text, err = a.at(ctx, "ATDP")
	if err == nil {
		name := compact(strings.TrimPrefix(strings.TrimSpace(splitLines(text)[0]), "AUTO,"))
		for num, n := range protocols {
			if compact(n) == name {
				a.setProtocol(num, n)
				return nil
			}
		}
		a.log.Warn("elm327: unexpected ATDP answer", "text", text)
	} else if !errors.Is(err, ErrUnknownCommand) {
		return err
	}
	switch seenBits {
	case 11:
		a.setProtocol('6', "ISO 15765-4 (CAN 11-bit)")
	case 29:
		a.setProtocol('7', "ISO 15765-4 (CAN 29-bit)")
	default:
		a.log.Warn("elm327: cannot tell the protocol; assuming 11-bit CAN")
		a.setProtocol('6', "ISO 15765-4 (CAN, assumed 11-bit)")
	}
	return nil
}

func (a *Adapter) setProtocol(num byte, name string) {
	a.proto = num
	switch num {
	case '7', '9', 'A':
		a.idBits = 29
	default:
		a.idBits = 11
	}
	a.setProtocolName(name)
}

func (a *Adapter) setProtocolName(name string) {
	a.info.Lock()
	a.protoNm = name
	a.info.Unlock()
}

// format is how the adapter prints answers now.
func (a *Adapter) format() Format {
	f := Format{Headers: a.headers, IDBits: a.idBits, ECU: 0x7E8}
	if a.idBits == 29 {
		f.ECU = 0x18DAF110
	}
	return f
}

// resync recovers from a lost prompt or an abandoned exchange: a bare CR
// either interrupts the adapter (STOPPED) or repeats the last command; both
// end with exactly one prompt, after which the line is quiet.
func (a *Adapter) resync(ctx context.Context) error {
	a.unsynced = false
	a.p.discard()
	if err := a.p.write("\r"); err != nil {
		return fmt.Errorf("elm327: resync: %w", err)
	}
	_, err := a.p.untilPrompt(ctx, time.Now().Add(a.opts.Timeout))
	a.p.discard()
	if err != nil && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("elm327: resync: %w", err)
	}
	return nil
}

// Do sends one OBD request and returns every ECU's answer (obd.Transport).
//
// The request goes out as hex, functional unless req.To is set (then the
// adapter's header is set to that ECU's physical request identifier with
// ATSH and only its answers are kept). When req.Expect is not empty (or
// req.To is set) the number of expected answers is appended, so the adapter
// returns as soon as they arrived.
//
// Do retries once after the adapter reset itself (having initialised it
// again), lost its prompt, printed STOPPED, or returned before a multi-frame
// answer was complete (then without the answer count). NO DATA is an error
// matching both ErrNoData and obd.ErrNoResponse; the other status messages
// have their own errors.
func (a *Adapter) Do(ctx context.Context, req obd.Request) ([]obd.Response, error) {
	if n := len(req.Data); n == 0 || n > isotp.MaxSingle {
		return nil, fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrBadRequest, n, isotp.MaxSingle)
	}
	expect := len(req.Expect)
	if req.To != 0 && expect == 0 {
		expect = 1
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests.Add(1)
	count := expect > 0 && expect <= 15
	for attempt := 0; ; attempt++ {
		resps, err := a.doOnce(ctx, req, count)
		if err == nil || attempt > 0 || ctx.Err() != nil {
			return resps, err
		}
		switch {
		case errors.Is(err, ErrAdapterReset):
			a.resets.Add(1)
			a.log.Warn("elm327: adapter reset; initialising it again", "err", err)
			if ierr := a.init(ctx); ierr != nil {
				return nil, fmt.Errorf("%w; initialising again: %w", err, ierr)
			}
		case errors.Is(err, ErrTimeout):
			a.log.Warn("elm327: no prompt; resynchronising", "err", err)
		case errors.Is(err, ErrStopped):
			a.log.Warn("elm327: adapter stopped; sending again", "err", err)
		case errors.Is(err, ErrIncomplete) && count:
			a.log.Warn("elm327: adapter returned before a multi-frame answer ended; sending again without the answer count", "err", err)
			count = false
		default:
			return nil, err
		}
		a.retries.Add(1)
	}
}

func (a *Adapter) doOnce(ctx context.Context, req obd.Request, count bool) ([]obd.Response, error) {
	if a.proto != 0 && !isoCAN(a.proto) {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedProtocol, protocols[a.proto])
	}
	if err := a.address(ctx, req.To); err != nil {
		return nil, err
	}
	cmd := strings.ToUpper(hex.EncodeToString(req.Data))
	timeout := a.opts.Timeout
	searching := a.proto == 0
	expect := len(req.Expect)
	if expect == 0 {
		expect = 1
	}
	switch {
	case searching:
		timeout = a.opts.SearchTimeout
	case count:
		cmd += strconv.FormatInt(int64(expect), 16)
		cmd = strings.ToUpper(cmd)
	}
	text, err := a.exchange(ctx, cmd, timeout)
	if err != nil {
		return nil, err
	}
	p, err := parseResponse(text, a.format())
	if err != nil {
		return nil, err
	}
	for _, l := range p.malformed {
		a.log.Warn("elm327: malformed line skipped", "cmd", cmd, "line", l)
	}
	if searching && len(p.resps) > 0 {
		if err := a.detectProtocol(ctx, p.idBits); err != nil {
			return nil, err
		}
	}
	if len(p.incomplete) > 0 && count {
		return nil, fmt.Errorf("%w: ECU %s", ErrIncomplete, p.incomplete[0])
	}
	resps := p.resps
	if req.To != 0 {
		resps = resps[:0:0]
		for _, r := range p.resps {
			if r.ECU == req.To {
				resps = append(resps, r)
			}
		}
	}
	if len(resps) == 0 {
		if err := p.err(); err != nil {
			return nil, err
		}
		return nil, obd.ErrNoResponse
	}
	return resps, nil
}

// address sets the adapter's request header: functional when to is zero,
// else the physical request identifier of that ECU.
func (a *Adapter) address(ctx context.Context, to obd.ECU) error {
	want := ""
	if to != 0 {
		id, ext, err := isotp.RequestID(to)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if ext != (a.idBits == 29) && a.idBits != 0 {
			return fmt.Errorf("%w: ECU %s on a %d-bit bus", ErrBadRequest, to, a.idBits)
		}
		want = fmt.Sprintf("%03X", id)
		if ext {
			want = fmt.Sprintf("%06X", id&0xFFFFFF)
		}
	}
	if want == a.header {
		return nil
	}
	set := want
	if set == "" {
		set = "7DF"
		if a.idBits == 29 {
			set = "DB33F1"
		}
	}
	if _, err := a.at(ctx, "ATSH"+set); err != nil {
		return err
	}
	a.header = want
	return nil
}

// Voltage reads the supply voltage at the OBD connector (ATRV), in volts:
// about 12 V with the engine off, 14 V running, near 0 when the adapter is
// powered but not plugged into a car.
func (a *Adapter) Voltage(ctx context.Context) (float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	text, err := a.at(ctx, "ATRV")
	if err != nil {
		return 0, err
	}
	s := strings.TrimSuffix(compact(splitLines(text)[0]), "V")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%w: ATRV answered %q", ErrBadResponse, text)
	}
	return v, nil
}
