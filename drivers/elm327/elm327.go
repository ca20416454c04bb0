// Package elm327 drives ELM327-compatible OBD-II adapters as an obd.Transport.
//
// It works with USB, Bluetooth and Wi-Fi dongles, genuine, STN/OBDLink and
// clones, so that agent/scan reads the same snapshot through a dongle as over
// CAN.
//
// # Connecting quickly
//
// The Adapter spends no time the adapter does not need: a warm start (ATWS;
// ATZ only where ATWS is unknown or Options.FullReset asks for it), then ATE0
// (echo off), ATS0 (spaces off) and ATH1 (headers on, so every answer names
// its ECU). It sends no command whose default is already right (ATL0, ATAT1,
// ATSP0): the adapter's own protocol memory then tries the last protocol it
// found first. The search (0100) tells CAN 11- or 29-bit from the answer
// itself; only a non-CAN answer costs an ATDPN. When a search fails on a
// protocol left fixed by an earlier session, it is repeated once in
// automatic mode. STI recognises STN chips (OBDLink), which then run with
// aggressive adaptive timing.
//
// # Protocols
//
// All OBD protocols of the ELM327 are spoken: ISO 15765-4 CAN (protocols 6
// to 9, 11- and 29-bit) and the non-CAN ones, SAE J1850 PWM and VPW, ISO
// 9141-2, ISO 14230-4 KWP with 5-baud and fast init (1 to 5), whose frames
// are decoded per ECU from their header's source address, with Modes 03 and
// 09 put together across frames (see legacy.go). On a non-CAN protocol a
// request carries one PID (MaxPIDs reports 1), physical addressing filters
// the functional answers by source, and the response count is sent only
// where each ECU answers one frame. A protocol the driver cannot use (SAE
// J1939, the user CAN protocols) is reported once, as
// ErrUnsupportedProtocol, and never searched again.
//
// Each request is sent as one line of hex, with the number of expected
// answers appended when the caller knows it (obd.Request.Expect), so that the
// adapter returns without waiting out its timeout. Multi-frame CAN answers
// are reassembled per ECU from the frames the adapter prints (ISO-TP first
// and consecutive frames), or from its "0:", "1:" lines when headers are off.
//
// # Misbehaving adapters
//
// Real adapters and clones misbehave: echo that will not turn off, missing
// commands ("?" to ATDPN, ATRV or ATAT1), stray bytes (0xFC, NUL) after a
// reset, stray prompts, answers split across reads, a reset in the middle of
// a session, garbage, a NO DATA line beside valid frames. The Adapter
// degrades instead of failing where it can (re-initialising after a reset,
// resynchronising after a lost prompt, each retried once; bytes that are not
// text dropped) and reports every status message of the adapter as its own
// error (ErrNoData, ErrCANError, ...). Every wait has a deadline.
//
// # Opening
//
// Open opens a serial device ("/dev/ttyUSB0@38400"; a Bluetooth adapter
// once bound with rfcomm is "/dev/rfcomm0") and finds the adapter's baud
// rate, or a Wi-Fi adapter by its TCP address ("tcp://192.168.0.10:35000");
// New runs on any io.ReadWriter (a pipe in tests). The simulator in
// drivers/elm327/elmsim serves a simulated vehicle as an ELM327 on a
// pseudo-terminal or a TCP listener.
package elm327

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	// Protocol is the ELM327 protocol for ATSP: "0" (automatic), "1" to
	// "9" for one protocol, or "A6" (automatic, trying 6 first). Empty (the
	// default) sends no ATSP at all: the adapter's own setting stands,
	// which on an adapter in automatic mode tries the protocol it found
	// last first; a search that fails on a fixed protocol is repeated
	// with ATSP0.
	Protocol string
	// FullReset resets the adapter with ATZ instead of the warm start
	// ATWS (which keeps the baud rate and skips the LED test).
	FullReset bool

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

	headers   bool           // ATH1 accepted
	proto     byte           // protocol digit ('1'...'9'), 0 while unknown
	idBits    int            // 11 or 29 once known (CAN)
	header    string         // request header set with ATSH; "" = functional default
	unsynced  bool           // an exchange ended before its prompt
	searchErr error          // why the last search failed
	unusable  error          // the vehicle's protocol is one the driver cannot use
	autoSet   bool           // ATSP0 (or Options.Protocol) was sent this session
	last      byte           // the protocol found last, tried first after a reset
	found     []obd.Response // each ECU's answer to the last successful search
	stn       bool           // an STN chip (OBDLink), recognised by STI
	inited    bool           // the first initialisation is done
	closed    bool

	info     sync.Mutex // guards version, chip and protoName for the getters
	version  string
	chip     string
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

// usable reports whether the driver can speak a protocol number.
func usable(p byte) bool { return isoCAN(p) || isLegacy(p) }

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

// Version returns the adapter's banner, e.g. "ELM327 v1.5" (clones lie),
// preceded by the chip's identity when STI gave one: "STN1110 v4.3.1
// (ELM327 v1.4b)".
func (a *Adapter) Version() string {
	a.info.Lock()
	defer a.info.Unlock()
	if a.chip != "" {
		return a.chip + " (" + a.version + ")"
	}
	return a.version
}

// MaxPIDs is how many PIDs one request may carry on the vehicle's
// protocol: 1 on the non-CAN protocols, 0 (no limit of the adapter's own)
// on CAN or while the protocol is not known.
func (a *Adapter) MaxPIDs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if isLegacy(a.proto) {
		return 1
	}
	return 0
}

// SearchAnswers returns each ECU's answer to the last successful protocol
// search (0100, the supported PIDs 01-20), in the order they answered; nil
// when none did. A caller that needs the same request answered (a scan's
// discovery) takes these instead of asking again.
func (a *Adapter) SearchAnswers() []obd.Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]obd.Response, len(a.found))
	for i, r := range a.found {
		out[i] = obd.Response{ECU: r.ECU, Data: slices.Clone(r.Data)}
	}
	return out
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
		BytesRead:    a.p.pump.BytesRead(),
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
		if clean := textOnly(text); len(clean) != len(text) {
			a.log.Debug("elm327: dropped bytes that are not text", "cmd", cmd, "text", text)
			text = clean
		}
		if lines := stripEcho(splitLines(text), cmd); len(lines) > 0 {
			return strings.Join(lines, "\n"), nil
		}
		a.log.Debug("elm327: stray prompt", "cmd", cmd)
	}
}

// textOnly drops what an ELM327 never prints: control characters other than
// CR, LF and tab, and bytes outside ASCII (the stray 0xFC or NUL of a clone
// after a reset).
func textOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7F {
			b := make([]byte, 0, len(s))
			for j := 0; j < len(s); j++ {
				if c := s[j]; (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t' {
					b = append(b, c)
				}
			}
			return string(b)
		}
	}
	return s
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

// init resets and configures the adapter and searches for the vehicle (see
// the package doc for what it sends and why). Called with a.mu held.
func (a *Adapter) init(ctx context.Context) error {
	a.headers, a.proto, a.idBits, a.header, a.searchErr, a.unusable, a.autoSet, a.found = false, 0, 0, "", nil, nil, false, nil
	a.setProtocolName("")
	reset := "ATWS"
	if a.opts.FullReset {
		reset = "ATZ"
	}
	text, err := a.exchange(ctx, reset, a.opts.ResetTimeout)
	if err == nil && reset == "ATWS" && compact(lastLine(text)) == "?" {
		a.log.Info("elm327: adapter does not know the warm start ATWS; resetting with ATZ")
		text, err = a.exchange(ctx, "ATZ", a.opts.ResetTimeout)
	}
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
	if !isBanner(compact(version)) {
		if t, err := a.at(ctx, "ATI"); err == nil {
			version = splitLines(t)[0]
		}
	}
	a.info.Lock()
	a.version = version
	a.info.Unlock()
	if !a.inited {
		a.inited = true
		// STN chips (OBDLink) answer STI with their identity; an ELM327
		// answers "?".
		if t, err := a.at(ctx, "STI"); err == nil && strings.HasPrefix(compact(t), "STN") {
			a.stn = true
			a.info.Lock()
			a.chip = splitLines(t)[0]
			a.info.Unlock()
			a.log.Info("elm327: STN chip", "chip", a.chip, "version", version)
		} else if errors.Is(err, ErrAdapterReset) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return cmp.Or(err, ctx.Err())
		}
	}

	for _, cmd := range []string{"ATE0", "ATS0"} {
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
	timing := map[Timing]string{TimingAggressive: "ATAT2", TimingOff: "ATAT0"}[a.opts.Timing]
	if timing == "" && a.stn {
		timing = "ATAT2"
	}
	if timing != "" {
		if _, err := a.optional(ctx, timing); err != nil {
			return err
		}
	}
	if d := a.opts.ResponseTimeout; d > 0 {
		n := min(max((d+4*time.Millisecond-1)/(4*time.Millisecond), 1), 255)
		if _, err := a.optional(ctx, fmt.Sprintf("ATST%02X", int(n))); err != nil {
			return err
		}
	}
	sp := strings.ToUpper(a.opts.Protocol)
	switch {
	case sp != "":
	case a.last != 0:
		sp = "A" + string(a.last) // after a reset: the last protocol first
	default:
		// The adapter's memory tries the protocol it found last first
		// ("A6"); one that remembers none ("0", "A0", or a clone without
		// ATDPN) tries CAN 11/500 first, what most cars in a bay speak,
		// rather than the slow K-line inits of a full search.
		t, err := a.at(ctx, "ATDPN")
		if c := strings.TrimPrefix(compact(lastLine(t)), "A"); err != nil || len(c) != 1 || !usable(c[0]) {
			if err != nil && !errors.Is(err, ErrUnknownCommand) {
				return err
			}
			sp = "A6"
		}
	}
	if sp != "" {
		if _, err := a.optional(ctx, "ATSP"+sp); err != nil {
			return err
		}
		a.autoSet = true
	}
	return a.search(ctx)
}

// lastLine returns the last non-empty line of text, or "".
func lastLine(text string) string {
	lines := splitLines(text)
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// search asks 0100 so that the adapter finds the vehicle's protocol, then
// works out which one it found. A vehicle that does not answer is recorded
// in a.searchErr, not returned. A search that fails on a protocol the
// adapter kept fixed from an earlier session (no SEARCHING... shown) is
// repeated once in automatic mode.
func (a *Adapter) search(ctx context.Context) error {
	slow := a.opts.ResponseTimeout > 0 // the caller chose the wait
	for {
		p, err := a.searchOnce(ctx)
		switch {
		case err != nil, a.searchErr == nil, a.unusable != nil, p == nil:
			return err
		case !a.autoSet && !p.searched:
			a.log.Info("elm327: no vehicle on the adapter's fixed protocol; searching automatically", "err", a.searchErr)
			if _, err := a.optional(ctx, "ATSP0"); err != nil {
				return err
			}
			a.autoSet = true
		case !slow && errors.Is(a.searchErr, ErrNoData):
			// A protocol answered the search but no ECU within the
			// adapter's 200 ms: some older ECUs take 400 ms. Wait the
			// longest the adapter can (ATST FF, 1020 ms) from now on;
			// requests that name their ECUs still return at once.
			slow = true
			a.log.Info("elm327: no answer within the adapter's timeout; waiting longer for a slow ECU")
			if _, err := a.optional(ctx, "ATSTFF"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (a *Adapter) searchOnce(ctx context.Context) (*parsed, error) {
	text, err := a.exchange(ctx, "0100", a.opts.SearchTimeout)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			a.searchErr = err
			a.log.Warn("elm327: protocol search timed out", "err", err)
			return nil, nil
		}
		return nil, err
	}
	p, err := a.parseSearch(text)
	if err == nil {
		err = p.err()
	}
	if err != nil {
		if errors.Is(err, ErrAdapterReset) {
			return nil, err
		}
		a.searchErr = err
		a.log.Info("elm327: no vehicle found", "err", err)
		return p, nil
	}
	return p, a.detectProtocol(ctx, p)
}

// parseSearch parses the answer to a search: as CAN first, else as a
// non-CAN protocol (whose answer the CAN parser cannot read).
func (a *Adapter) parseSearch(text string) (*parsed, error) {
	if a.proto != 0 {
		return parseResponse(text, a.format())
	}
	f := Format{Headers: a.headers}
	p, err := parseResponse(text, f)
	if err != nil || len(p.resps) > 0 {
		return p, err
	}
	f.Protocol = '3' // any non-CAN protocol: the frame layout is the same
	if lp, lerr := parseResponse(text, f); lerr == nil && len(lp.resps) > 0 {
		lp.legacy = true
		return lp, nil
	}
	return p, nil
}

// detectProtocol sets the protocol a successful search found. On CAN the
// answer tells 11- or 29-bit identifiers, which is all the driver needs
// (Options.Protocol, when it names one, gives the exact name). A non-CAN
// answer costs an ATDPN (else ATDP, else the frame's form tells).
func (a *Adapter) detectProtocol(ctx context.Context, p *parsed) error {
	a.searchErr = nil
	a.found = a.found[:0]
	for _, r := range p.resps {
		if !slices.ContainsFunc(a.found, func(f obd.Response) bool { return f.ECU == r.ECU }) {
			a.found = append(a.found, r)
		}
	}
	if fixed := strings.TrimPrefix(strings.ToUpper(a.opts.Protocol), "A"); len(fixed) == 1 && fixed != "0" && !p.legacy &&
		isoCAN(fixed[0]) && (fixed[0] == '7' || fixed[0] == '9') == (p.idBits == 29) {
		a.setProtocol(fixed[0], protocols[fixed[0]])
		return nil
	}
	if !p.legacy && p.idBits != 0 {
		if p.idBits == 29 {
			a.setProtocol('7', "ISO 15765-4 (CAN 29-bit)")
		} else {
			a.setProtocol('6', "ISO 15765-4 (CAN 11-bit)")
		}
		return nil
	}
	num, err := a.describeProtocol(ctx)
	if err != nil {
		return err
	}
	if num == 0 {
		num = guessLegacy(p)
		if !p.legacy && !a.headers {
			num = '6'
			a.log.Warn("elm327: cannot tell the protocol; assuming 11-bit CAN")
		}
	}
	if !usable(num) {
		a.unusable = fmt.Errorf("%w: the vehicle answers on %s", ErrUnsupportedProtocol, cmp.Or(protocols[num], "protocol "+string(num)))
		a.searchErr = a.unusable
		a.log.Warn("elm327: " + a.unusable.Error())
		a.setProtocolName(protocols[num])
		return nil
	}
	a.setProtocol(num, protocols[num])
	if isLegacy(num) && !p.legacy {
		// The adapter says non-CAN but printed what read as CAN: read the
		// answers as it says from now on.
		a.log.Warn("elm327: the adapter reports a non-CAN protocol for a CAN-looking answer", "protocol", protocols[num])
	}
	return nil
}

// describeProtocol asks the adapter for its protocol number: ATDPN, else
// ATDP. It returns 0 when neither says.
func (a *Adapter) describeProtocol(ctx context.Context) (byte, error) {
	text, err := a.at(ctx, "ATDPN")
	if err == nil {
		c := strings.TrimPrefix(compact(splitLines(text)[0]), "A")
		if len(c) == 1 && protocols[c[0]] != "" {
			return c[0], nil
		}
		a.log.Warn("elm327: unexpected ATDPN answer", "text", text)
	} else if !errors.Is(err, ErrUnknownCommand) {
		return 0, err
	}
	text, err = a.at(ctx, "ATDP")
	if err == nil {
		name := compact(strings.TrimPrefix(strings.TrimSpace(splitLines(text)[0]), "AUTO,"))
		for num, n := range protocols {
			if compact(n) == name {
				return num, nil
			}
		}
		a.log.Warn("elm327: unexpected ATDP answer", "text", text)
	} else if !errors.Is(err, ErrUnknownCommand) {
		return 0, err
	}
	return 0, nil
}

// guessLegacy names a non-CAN protocol from the first frame of an answer
// when the adapter does not say: a KWP format byte is ISO 14230-4, a J1850
// CRC is J1850 (PWM when the header's first byte is 41 or 61), else ISO
// 9141-2.
func guessLegacy(p *parsed) byte {
	if p.firstFrame == nil {
		return '3'
	}
	b := p.firstFrame
	switch {
	case b[0]&0x80 != 0:
		return '5'
	case crc8J1850(b[:len(b)-1]) == b[len(b)-1] && (b[0] == 0x41 || b[0] == 0x61):
		return '1'
	case crc8J1850(b[:len(b)-1]) == b[len(b)-1]:
		return '2'
	}
	return '3'
}

func (a *Adapter) setProtocol(num byte, name string) {
	a.proto, a.last = num, num
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
	switch {
	case isLegacy(a.proto):
		f = Format{Headers: a.headers, ECU: legacyECU, Protocol: a.proto}
	case a.idBits == 29:
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
	if a.unusable != nil {
		return nil, a.unusable
	}
	legacy := isLegacy(a.proto)
	if legacy {
		// Non-CAN: functional requests only, answers filtered by source
		// below; the count only where every ECU answers one frame.
		count = count && (req.Data[0] == 0x01 || req.Data[0] == 0x02)
	} else if err := a.address(ctx, req.To); err != nil {
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
	var p *parsed
	if searching {
		p, err = a.parseSearch(text)
	} else {
		p, err = parseResponse(text, a.format())
	}
	if err != nil {
		return nil, err
	}
	for _, l := range p.malformed {
		a.log.Warn("elm327: malformed line skipped", "cmd", cmd, "line", l)
	}
	if p.badChecks > 0 {
		a.log.Debug("elm327: frames whose check byte does not match kept (the adapter checks it)", "cmd", cmd, "frames", p.badChecks)
	}
	if searching && len(p.resps) > 0 {
		if err := a.detectProtocol(ctx, p); err != nil {
			return nil, err
		}
		if a.unusable != nil {
			return nil, a.unusable
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
