// Package elmsim serves a simulated vehicle as an ELM327 adapter.
//
// It serves drivers/obd/obdsim's vehicle on an io.ReadWriter or on a
// pseudo-terminal, so that the ELM327 driver, the agent and any other ELM327
// client can be tested with no dongle and no car.
//
// It speaks the command set a client needs: ATZ, ATWS, ATD, ATI, AT@1,
// ATE0/1, ATL0/1, ATS0/1, ATH0/1, ATCAF0/1, ATSP/ATTP, ATDP, ATDPN, ATST,
// ATAT0/1/2, ATRV, ATSH, ATCP and "?" for anything else; OBD requests as hex
// with an optional response count. Answers come from the ECUs' Handle
// (functional: every ECU; after ATSH to a physical identifier: that ECU),
// each after its latency, formatted as the adapter prints CAN frames: with
// headers one line per frame including the PCI byte, without headers the
// payload, or a length line and "0:", "1:" lines for multi-frame answers.
//
// Timing follows the real adapter: with a response count it returns as soon
// as that many answers arrived; otherwise it waits its timeout (ATST,
// default 200 ms) after the last answer before the prompt, and prints NO
// DATA when nobody answered. It does not model adaptive timing (ATAT is
// accepted and ignored): it always waits the full timeout, the worst case.
// A character received while it is answering stops it (STOPPED). Output can
// be paced to a baud rate, and faults injected (Faults).
package elmsim

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

// Defaults.
const (
	// DefaultVersion is the banner (ATZ, ATI).
	DefaultVersion = "ELM327 v1.5"
	// DefaultVoltage is what ATRV reports, in volts.
	DefaultVoltage = 12.6
	// DefaultTimeout is the adapter's answer timeout, ATST 32 (50 x 4 ms).
	DefaultTimeout = 200 * time.Millisecond
	// maxLine is the longest command line accepted.
	maxLine = 64
	// pad fills CAN frames to 8 bytes.
	pad = 0xAA
)

// Faults are injected into OBD requests. Each count is the number of the
// request that suffers the fault (1 is the first OBD request the Sim
// answers, counted over its lifetime); zero means never.
type Faults struct {
	// Garbage prints a line of non-hex bytes before the answer.
	Garbage int
	// DropPrompt prints the answer but no prompt.
	DropPrompt int
	// Reset resets the adapter instead of answering, as after a power dip:
	// banner, prompt, every setting back to its default.
	Reset int
	// BufferFull prints the first line of the answer, then BUFFER FULL.
	BufferFull int
	// CANError prints CAN ERROR instead of the answer.
	CANError int
	// Unsupported lists AT commands, without "AT" and upper case (e.g.
	// "DPN", "AT1", "H1"), that are answered "?" as by a clone lacking them.
	Unsupported []string
}

// Quirks make the Sim behave like the adapters found in the field: cheap
// clones and the independent emulators tools are tested against.
type Quirks struct {
	// RefuseBatches answers "?" to a Mode 01 or 02 request that carries
	// more than one PID.
	RefuseBatches bool
	// FirstPIDOnly passes only the first PID of such a request on to the
	// vehicle, so that only the first is answered.
	FirstPIDOnly bool
	// AfterReset is sent right after the prompt that ends ATZ or ATWS:
	// the stray 0xFC or NUL some clones emit after a reset.
	AfterReset string
}

// AdapterTiming is how long the simulated adapter itself takes, beyond the
// ECUs' latency. The zero value takes no time at all; RealTiming gives
// figures of a real adapter.
type AdapterTiming struct {
	// Reset is how long ATZ takes, WarmStart how long ATWS takes.
	Reset, WarmStart time.Duration
	// Search is what trying one protocol costs in a protocol search, by
	// protocol number ('1' to '9'); the vehicle's own protocol costs its
	// entry too, before its first answer. An automatic search tries the
	// protocol the adapter remembers (or ATSP An names) first, then the
	// others in the order 1 to 9.
	Search map[byte]time.Duration
}

// RealTiming returns the timing of a real ELM327 as far as its data sheet
// and independent emulators show (unverified figures, good for benchmarks,
// not a model of any one chip): ATZ 500 ms, ATWS 100 ms; trying a J1850
// protocol 150 ms, ISO 9141-2 and KWP with 5-baud init 2.5 s (the 5-baud
// address alone takes 2 s), KWP fast init 350 ms, each CAN protocol 100 ms.
func RealTiming() AdapterTiming {
	ms := time.Millisecond
	return AdapterTiming{
		Reset: 500 * ms, WarmStart: 100 * ms,
		Search: map[byte]time.Duration{
			'1': 150 * ms, '2': 150 * ms, '3': 2500 * ms, '4': 2500 * ms, '5': 350 * ms,
			'6': 100 * ms, '7': 100 * ms, '8': 100 * ms, '9': 100 * ms,
		},
	}
}

// Options tune a Sim. The zero value serves the profile as written.
type Options struct {
	// Latency, when positive, replaces every ECU's profile latency.
	Latency time.Duration
	// Baud, when positive, paces the output to that baud rate (10 bits per
	// byte, a line leaves when its last byte would have) and delays each
	// command by the time its bytes take on the wire.
	Baud int
	// Version is the banner; empty means DefaultVersion.
	Version string
	// Voltage is what ATRV reports; zero means DefaultVoltage.
	Voltage float64
	// Faults to inject.
	Faults Faults
	// Quirks of the adapter's personality.
	Quirks Quirks
	// Timing is how long the adapter's own work takes (reset, protocol
	// search); zero takes none.
	Timing AdapterTiming
	// STI, when set, is what STI answers: the identity of an STN chip
	// (OBDLink), e.g. "STN1110 v4.3.1". Empty answers "?", as an ELM327.
	STI string
	// Logger receives one debug line per command. Nil discards.
	Logger *slog.Logger
}

type simECU struct {
	e       *obdsim.ECU
	latency time.Duration
}

// Sim is a simulated ELM327 plugged into a simulated vehicle.
type Sim struct {
	v        *obdsim.Vehicle
	ecus     []simECU
	proto    byte // the vehicle's protocol number, '1' to '9'
	opts     Options
	memory   atomic.Uint32 // the protocol found last, tried first after a reset (the adapter's memory)
	log      *slog.Logger
	requests atomic.Int64
	absent   atomic.Bool
}

// New builds the vehicle of profile p and the adapter in front of it.
func New(p *obdsim.Profile, opts Options) (*Sim, error) {
	v, err := obdsim.New(p, obdsim.Options{Latency: opts.Latency, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Voltage == 0 {
		opts.Voltage = DefaultVoltage
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{v: v, opts: opts, log: opts.Logger}
	for _, pe := range p.ECUs {
		lat := time.Duration(pe.Latency)
		if opts.Latency > 0 {
			lat = opts.Latency
		}
		s.ecus = append(s.ecus, simECU{e: v.ECU(obd.ECU(pe.Address)), latency: lat})
	}
	switch {
	case obdsim.Legacy(p.Protocol):
		s.proto = legacyProtocols[p.Protocol]
	case p.Bus.IDBits == 29 && p.Bus.Bitrate == 250000:
		s.proto = '9'
	case p.Bus.IDBits == 29:
		s.proto = '7'
	case p.Bus.Bitrate == 250000:
		s.proto = '8'
	default:
		s.proto = '6'
	}
	return s, nil
}

// legacyProtocols maps a profile's non-CAN protocol to the ELM327's number.
var legacyProtocols = map[string]byte{
	obdsim.ProtocolJ1850PWM: '1',
	obdsim.ProtocolJ1850VPW: '2',
	obdsim.ProtocolISO9141:  '3',
	obdsim.ProtocolKWP5Baud: '4',
	obdsim.ProtocolKWPFast:  '5',
}

// legacy reports whether the vehicle is on a non-CAN protocol.
func (s *Sim) legacy() bool { return s.proto >= '1' && s.proto <= '5' }

// Vehicle returns the simulated vehicle.
func (s *Sim) Vehicle() *obdsim.Vehicle { return s.v }

// Protocol returns the name of the vehicle's protocol as ATDP prints it.
func (s *Sim) Protocol() string { return elm327.ProtocolName(s.proto) }

// Requests returns how many OBD requests the Sim has received.
func (s *Sim) Requests() int64 { return s.requests.Load() }

// SetConnected plugs the adapter into the vehicle (true, the default) or
// unplugs it: a protocol search then ends in UNABLE TO CONNECT and requests
// on a known protocol in NO DATA.
func (s *Sim) SetConnected(connected bool) { s.absent.Store(!connected) }

func (s *Sim) extended() bool { return s.proto == '7' || s.proto == '9' }

// Serve answers commands on rw until ctx ends (nil) or rw fails. Settings
// live as long as Serve. When ctx ends, Serve unblocks its read with rw's
// SetReadDeadline if it has one, or else by closing rw if it is an
// io.Closer. A Sim serves one line at a time.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	in := make(chan []byte, 16)
	var (
		wg   sync.WaitGroup
		rerr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(in)
		b := make([]byte, 256)
		for {
			n, err := rw.Read(b)
			if n > 0 {
				select {
				case in <- bytes.Clone(b[:n]):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				rerr = err
				return
			}
		}
	}()
	defer func() {
		cancel()
		d, ok := rw.(interface{ SetReadDeadline(time.Time) error })
		if !ok || d.SetReadDeadline(time.Unix(1, 0)) != nil {
			if c, ok := rw.(io.Closer); ok {
				_ = c.Close()
			}
		}
		wg.Wait()
	}()
	ss := &session{s: s, ctx: ctx, w: rw, in: in}
	ss.defaults()
	for {
		line, err := ss.readLine()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, errEnd) && endOfLine(rerr) {
				return nil
			}
			if errors.Is(err, errEnd) {
				return fmt.Errorf("elmsim: read: %w", rerr)
			}
			return err
		}
		if err := ss.handle(line); err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, errEnd) && endOfLine(rerr), endOfLine(err):
				return nil
			case errors.Is(err, errEnd):
				return fmt.Errorf("elmsim: read: %w", rerr)
			}
			return fmt.Errorf("elmsim: write: %w", err)
		}
	}
}

// errEnd: the input ended.
var errEnd = errors.New("elmsim: input ended")

func endOfLine(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// session is the adapter's state while serving one line.
type session struct {
	s       *Sim
	ctx     context.Context
	w       io.Writer
	in      <-chan []byte
	pending []byte // received, not yet consumed

	echo, linefeeds, spaces, headers, caf bool

	auto     bool // automatic protocol
	fixed    byte // protocol set with ATSP n (or tried first with ATSP An), 0 none
	found    bool // automatic search done
	busInit  bool // a non-CAN bus was initialised on a fixed protocol
	timeout  time.Duration
	header   string    // ATSH value; "" = functional
	last     string    // last command, repeated by an empty line
	wireFree time.Time // when the output line is free again
	// received is when the last command's last byte arrived on the
	// (paced) line, and ready when the answer being sent was ready: the
	// times the simulated wire runs on, so that a timer that wakes late
	// on a loaded machine does not delay what follows it as well.
	received, ready time.Time
}

func (ss *session) defaults() {
	ss.echo, ss.linefeeds, ss.spaces, ss.headers, ss.caf = true, false, true, false, true
	// Automatic, trying first what the adapter's memory holds.
	ss.auto, ss.fixed, ss.found, ss.busInit = true, byte(ss.s.memory.Load()), false, false
	ss.timeout = DefaultTimeout
	ss.header = ""
}

func (ss *session) eol() string {
	if ss.linefeeds {
		return "\r\n"
	}
	return "\r"
}

// readLine returns the next command line, without its CR.
func (ss *session) readLine() (string, error) {
	for {
		if i := bytes.IndexByte(ss.pending, '\r'); i >= 0 {
			line := string(ss.pending[:i])
			ss.pending = ss.pending[i+1:]
			if err := ss.pace(len(line) + 1); err != nil {
				return "", err
			}
			return line, nil
		}
		select {
		case b, ok := <-ss.in:
			if !ok {
				return "", errEnd
			}
			ss.pending = append(ss.pending, clean(b)...)
		case <-ss.ctx.Done():
			return "", ss.ctx.Err()
		}
	}
}

// byteTime is how long n bytes take on the wire.
func (ss *session) byteTime(n int) time.Duration {
	if ss.s.opts.Baud <= 0 {
		return 0
	}
	return time.Duration(n) * 10 * time.Second / time.Duration(ss.s.opts.Baud)
}

// pace waits for the wire time of n received bytes.
func (ss *session) pace(n int) error {
	ss.received, ss.ready = time.Now(), time.Time{}
	d := ss.byteTime(n)
	if d == 0 {
		return nil
	}
	ss.received = ss.received.Add(d)
	return ss.sleep(ss.received)
}

func (ss *session) sleep(until time.Time) error {
	return ctxtime.Sleep(ss.ctx, time.Until(until))
}

// send writes s, paced to the baud rate: it leaves when its last byte
// would have.
func (ss *session) send(s string) error {
	if d := ss.byteTime(len(s)); d > 0 {
		start := time.Now()
		if !ss.ready.IsZero() && ss.ready.Before(start) {
			start = ss.ready // it was ready then: the line was sending
		}
		if ss.wireFree.After(start) {
			start = ss.wireFree
		}
		ss.wireFree = start.Add(d)
		if err := ss.sleep(ss.wireFree); err != nil {
			return err
		}
	}
	_, err := io.WriteString(ss.w, s)
	return err
}

// reply prints lines and the prompt.
func (ss *session) reply(lines ...string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + ss.eol())
	}
	b.WriteString(ss.eol() + ">")
	return ss.send(b.String())
}

// wait waits until t unless a character arrives first, which interrupts
// the adapter: the character is dropped and wait reports true.
func (ss *session) wait(t time.Time) (interrupted bool, err error) {
	if len(ss.pending) > 0 {
		ss.pending = ss.pending[1:]
		return true, nil
	}
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	for {
		select {
		case <-tm.C:
			return false, nil
		case b, ok := <-ss.in:
			if !ok {
				return false, errEnd
			}
			if b = clean(b); len(b) > 0 {
				ss.pending = append(ss.pending, b[1:]...)
				return true, nil
			}
		case <-ss.ctx.Done():
			return false, ss.ctx.Err()
		}
	}
}

// clean drops the control characters the adapter ignores (all but CR).
func clean(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if c >= ' ' || c == '\r' {
			out = append(out, c)
		}
	}
	return out
}

// handle answers one command line.
func (ss *session) handle(raw string) error {
	if ss.echo {
		if err := ss.send(raw + ss.eol()); err != nil {
			return err
		}
	}
	var b strings.Builder
	for _, r := range raw {
		if r > ' ' && r < 0x7F {
			b.WriteRune(r)
		}
	}
	cmd := strings.ToUpper(b.String())
	if len(cmd) > maxLine {
		return ss.reply("?")
	}
	if cmd == "" {
		if ss.last == "" {
			return ss.send(ss.eol() + ">")
		}
		cmd = ss.last
	}
	ss.last = cmd
	ss.s.log.Debug("elmsim: command", "cmd", cmd)
	if strings.HasPrefix(cmd, "AT") {
		return ss.at(cmd[2:])
	}
	if strings.HasPrefix(cmd, "ST") {
		if slices.Contains(ss.s.opts.Faults.Unsupported, cmd) {
			return ss.reply("?")
		}
		return ss.at(cmd) // STI and friends: answered beside the AT set
	}
	return ss.request(cmd)
}

// settings are the on/off AT commands.
func (ss *session) settings() map[string]*bool {
	return map[string]*bool{"E": &ss.echo, "L": &ss.linefeeds, "S": &ss.spaces, "H": &ss.headers, "CAF": &ss.caf}
}

// ignored are AT commands accepted without effect.
var ignored = []string{"D0", "D1", "M0", "M1", "CFC0", "CFC1", "R0", "R1", "AT0", "AT1", "AT2", "PC", "AL", "NL"}

func (ss *session) at(arg string) error {
	s := ss.s
	if slices.Contains(s.opts.Faults.Unsupported, arg) {
		return ss.reply("?")
	}
	switch arg {
	case "Z", "WS":
		d := s.opts.Timing.Reset
		if arg == "WS" {
			d = s.opts.Timing.WarmStart
		}
		if err := ss.sleep(time.Now().Add(d)); err != nil {
			return err
		}
		ss.defaults()
		return ss.send(ss.eol() + ss.eol() + s.opts.Version + ss.eol() + ss.eol() + ">" + s.opts.Quirks.AfterReset)
	case "STI", "STDI":
		if s.opts.STI == "" {
			return ss.reply("?")
		}
		return ss.reply(s.opts.STI)
	case "D":
		ss.defaults()
		return ss.reply("OK")
	case "I":
		return ss.reply(s.opts.Version)
	case "@1":
		return ss.reply("OBDII to RS232 Interpreter")
	case "RV":
		return ss.reply(fmt.Sprintf("%.1fV", s.opts.Voltage))
	case "DP":
		return ss.reply(ss.describe(false))
	case "DPN":
		return ss.reply(ss.describe(true))
	}
	if slices.Contains(ignored, arg) {
		return ss.reply("OK")
	}
	if n := len(arg); n >= 2 && (arg[n-1] == '0' || arg[n-1] == '1') {
		if p, ok := ss.settings()[arg[:n-1]]; ok {
			*p = arg[n-1] == '1'
			return ss.reply("OK")
		}
	}
	switch {
	case strings.HasPrefix(arg, "SP"), strings.HasPrefix(arg, "TP"):
		return ss.setProtocol(arg[2:], strings.HasPrefix(arg, "TP"))
	case strings.HasPrefix(arg, "ST"):
		v, err := strconv.ParseUint(arg[2:], 16, 8)
		if err != nil || len(arg) != 4 {
			return ss.reply("?")
		}
		ss.timeout = time.Duration(v) * 4 * time.Millisecond
		if v == 0 {
			ss.timeout = DefaultTimeout
		}
		return ss.reply("OK")
	case strings.HasPrefix(arg, "SH"):
		h := arg[2:]
		if _, err := strconv.ParseUint(h, 16, 32); err != nil || (len(h) != 3 && len(h) != 6 && len(h) != 8) {
			return ss.reply("?")
		}
		ss.header = h
		return ss.reply("OK")
	case strings.HasPrefix(arg, "CP"):
		if _, err := strconv.ParseUint(arg[2:], 16, 8); err != nil || len(arg) != 4 {
			return ss.reply("?")
		}
		return ss.reply("OK")
	}
	return ss.reply("?")
}

// setProtocol handles ATSP and ATTP: "0" automatic, "n" fixed, "An"
// automatic trying n first. ATTP n behaves as ATSP An.
func (ss *session) setProtocol(arg string, try bool) error {
	auto := try || strings.HasPrefix(arg, "A")
	arg = strings.TrimPrefix(arg, "A")
	if len(arg) != 1 || (arg != "0" && elm327.ProtocolName(arg[0]) == "") {
		return ss.reply("?")
	}
	ss.found, ss.busInit = false, false
	ss.fixed, ss.auto = 0, auto || arg == "0"
	if arg != "0" {
		ss.fixed = arg[0]
	}
	if arg == "0" {
		ss.s.memory.Store(0)
	}
	return ss.reply("OK")
}

// current returns the protocol in use, or 0 while searching.
func (ss *session) current() byte {
	if ss.auto {
		if ss.found {
			return ss.s.proto
		}
		return ss.fixed
	}
	return ss.fixed
}

// describe answers ATDP (name) or ATDPN (number).
func (ss *session) describe(number bool) string {
	p := ss.current()
	if number {
		d := "0"
		if p != 0 {
			d = string(p)
		}
		if ss.auto {
			return "A" + d
		}
		return d
	}
	name := elm327.ProtocolName(p)
	switch {
	case ss.auto && p == 0:
		return "AUTO"
	case ss.auto:
		return "AUTO, " + name
	}
	return name
}

// searchTime waits what an automatic search costs: the protocol tried
// first, then 1 to 9 up to the vehicle's, or all of them when no vehicle
// answers.
func (ss *session) searchTime() error {
	t := ss.s.opts.Timing.Search
	if len(t) == 0 {
		return nil
	}
	order := []byte("123456789")
	if ss.fixed != 0 {
		order = append([]byte{ss.fixed}, order...)
	}
	var d time.Duration
	tried := map[byte]bool{}
	for _, p := range order {
		if tried[p] {
			continue
		}
		tried[p] = true
		d += t[p]
		if p == ss.s.proto && !ss.s.absent.Load() {
			break
		}
	}
	return ss.sleep(time.Now().Add(d))
}

// targets returns the ECUs a request goes to and whether it is functional.
func (ss *session) targets() ([]simECU, bool) {
	h := ss.header
	ext := ss.s.extended()
	if ss.s.legacy() {
		return ss.s.ecus, true // the driver filters by source address
	}
	switch {
	case h == "" || (!ext && h == "7DF") || (ext && (h == "DB33F1" || h == "18DB33F1")):
		return ss.s.ecus, true
	}
	var want obd.ECU
	v, _ := strconv.ParseUint(h, 16, 32)
	switch {
	case !ext && len(h) == 3 && v >= 0x7E0 && v <= 0x7E7:
		want = obd.ECU(v + 8)
	case ext && len(h) >= 6 && v&0xFFFF00FF == 0xDA00F1:
		want = obd.ECU(0x18DAF100 | (v>>8)&0xFF)
	}
	for _, e := range ss.s.ecus {
		if e.e.Address() == want {
			return []simECU{e}, false
		}
	}
	return nil, false
}

// answer is one ECU's formatted answer and when it arrives.
type answer struct {
	latency time.Duration
	lines   []string
}

// request answers an OBD request.
func (ss *session) request(cmd string) error {
	if !isHex(cmd) || len(cmd) < 2 {
		return ss.reply("?")
	}
	want := 0
	if len(cmd)%2 == 1 {
		v, _ := strconv.ParseUint(cmd[len(cmd)-1:], 16, 8)
		want, cmd = int(v), cmd[:len(cmd)-1]
	}
	data := make([]byte, len(cmd)/2)
	for i := range data {
		v, _ := strconv.ParseUint(cmd[2*i:2*i+2], 16, 8)
		data[i] = byte(v)
	}
	if len(data) > isotp.MaxSingle {
		return ss.reply("?")
	}
	if batch := (data[0] == 0x01 && len(data) > 2) || (data[0] == 0x02 && len(data) > 3); batch {
		switch q := ss.s.opts.Quirks; {
		case q.RefuseBatches:
			return ss.reply("?")
		case q.FirstPIDOnly:
			data = data[:1+int(data[0])]
		}
	}
	s := ss.s
	n := int(s.requests.Add(1))
	f := s.opts.Faults

	if ss.auto && !ss.found {
		if err := ss.send("SEARCHING..." + ss.eol()); err != nil {
			return err
		}
		if err := ss.searchTime(); err != nil {
			return err
		}
		if s.absent.Load() {
			return ss.reply("UNABLE TO CONNECT")
		}
		ss.found = true
		s.memory.Store(uint32(s.proto))
	} else if !ss.auto && ss.fixed == s.proto && !ss.busInit && s.legacy() {
		// A fixed non-CAN protocol initialises the bus before the first
		// request, and says so.
		if err := ss.sleep(time.Now().Add(s.opts.Timing.Search[s.proto])); err != nil {
			return err
		}
		ss.busInit = true
		if s.proto >= '3' {
			if err := ss.send("BUS INIT: ...OK" + ss.eol()); err != nil {
				return err
			}
		}
	}
	switch p := ss.current(); {
	case p == s.proto:
	case p >= '3' && p <= '5':
		return ss.reply("BUS INIT: ...ERROR")
	case p == '1' || p == '2':
		return ss.reply("NO DATA")
	default:
		return ss.reply("CAN ERROR")
	}
	switch n {
	case f.Reset:
		ss.defaults()
		return ss.send(ss.eol() + ss.eol() + s.opts.Version + ss.eol() + ss.eol() + ">")
	case f.CANError:
		return ss.reply("CAN ERROR")
	case f.Garbage:
		if err := ss.send("\x7f#\x1b%&!*" + ss.eol()); err != nil {
			return err
		}
	}

	var answers []answer
	oneItem := len(data) <= 2 || (data[0] == 0x02 && len(data) <= 3) || (data[0] != 0x01 && data[0] != 0x02)
	if !s.absent.Load() && (!s.legacy() || oneItem) {
		ecus, functional := ss.targets()
		for _, e := range ecus {
			resp, ok := e.e.Handle(data, functional)
			if ok {
				answers = append(answers, answer{e.latency, ss.format(e.e.Address(), resp)})
			}
		}
	}
	slices.SortStableFunc(answers, func(a, b answer) int { return cmp.Compare(a.latency, b.latency) })

	start := time.Now()
	if !ss.received.IsZero() && ss.received.Before(start) {
		start = ss.received
	}
	last, got := start, 0
	for _, a := range answers {
		due := start.Add(a.latency)
		if due.Sub(last) > ss.timeout {
			break // the adapter stopped listening before this ECU answered
		}
		if stop, err := ss.wait(due); err != nil || stop {
			if err != nil {
				return err
			}
			return ss.reply("", "STOPPED")
		}
		for i, l := range a.lines {
			if i > 0 && s.legacy() {
				// Non-CAN frames follow one another on a slow bus.
				if err := ss.sleep(time.Now().Add(legacyFrameGap)); err != nil {
					return err
				}
			}
			switch {
			case i == 0:
				ss.ready = due
			case s.legacy():
				ss.ready = time.Time{} // after its gap, from now
			}
			if err := ss.send(l + ss.eol()); err != nil {
				return err
			}
			if i == 0 && n == f.BufferFull {
				return ss.reply("BUFFER FULL")
			}
		}
		got++
		last = time.Now()
		if want > 0 && got >= want {
			break
		}
	}
	if want == 0 || got < want {
		if stop, err := ss.wait(last.Add(ss.timeout)); err != nil || stop {
			if err != nil {
				return err
			}
			return ss.reply("", "STOPPED")
		}
	}
	if got == 0 {
		return ss.reply("NO DATA")
	}
	if n == f.DropPrompt {
		return nil
	}
	return ss.send(ss.eol() + ">")
}

// legacyFrameGap is the time between two frames of one ECU's answer on a
// non-CAN bus (ISO 9141-2 P2 is 25-50 ms; J1850 is quicker).
const legacyFrameGap = 20 * time.Millisecond

// format prints one ECU's answer as the adapter shows it.
func (ss *session) format(addr obd.ECU, msg []byte) []string {
	if ss.s.legacy() {
		return ss.formatLegacy(addr, msg)
	}
	frames := segment(msg)
	sep := ""
	if ss.spaces {
		sep = " "
	}
	if ss.headers || !ss.caf {
		hdr := addr.String()
		if ss.spaces && len(hdr) == 8 {
			hdr = hdr[0:2] + " " + hdr[2:4] + " " + hdr[4:6] + " " + hdr[6:8]
		}
		lines := make([]string, len(frames))
		for i, fr := range frames {
			lines[i] = hexBytes(fr, sep)
			if ss.headers {
				lines[i] = hdr + sep + lines[i]
			}
		}
		return lines
	}
	if len(frames) == 1 {
		return []string{hexBytes(msg, sep)}
	}
	lines := []string{fmt.Sprintf("%03X", len(msg))}
	for i, fr := range frames {
		body := fr[1:]
		if i == 0 {
			body = fr[2:]
		}
		lines = append(lines, fmt.Sprintf("%X:", i%16)+sep+hexBytes(body, sep))
	}
	return lines
}

// segment cuts msg into the 8-byte CAN frames of ISO-TP (single, or first
// and consecutive frames), padded.
func segment(msg []byte) [][]byte {
	var out [][]byte
	add := func(p isotp.PDU) {
		d, err := isotp.Encode(p, pad)
		if err == nil {
			out = append(out, d[:])
		}
	}
	if len(msg) <= isotp.MaxSingle {
		add(isotp.PDU{Kind: isotp.SingleFrame, Data: msg})
		return out
	}
	add(isotp.PDU{Kind: isotp.FirstFrame, Length: uint32(len(msg)), Data: msg[:6]})
	sn := uint8(1)
	for rest := msg[6:]; len(rest) > 0; sn++ {
		k := min(len(rest), 7)
		add(isotp.PDU{Kind: isotp.ConsecutiveFrame, SN: sn, Data: rest[:k]})
		rest = rest[k:]
	}
	return out
}

func hexBytes(b []byte, sep string) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteString(sep)
		}
		fmt.Fprintf(&sb, "%02X", x)
	}
	return sb.String()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// formatLegacy prints one ECU's answer, given in its CAN form, as the
// frames of the vehicle's non-CAN protocol: Modes 03, 07 and 0A as three
// DTCs per frame with 00 00 padding and no count; Mode 09 as one frame per
// 4 data bytes after a message sequence number; everything else as one
// frame. With headers on, each frame gets its three header bytes (priority
// or KWP format byte, the tester 6B or F1 as target, the ECU as source) and
// its check byte (J1850 CRC, or the 8-bit sum on ISO 9141-2 and KWP).
func (ss *session) formatLegacy(addr obd.ECU, msg []byte) []string {
	var frames [][]byte
	switch {
	case len(msg) >= 2 && (msg[0] == 0x43 || msg[0] == 0x47 || msg[0] == 0x4A):
		pairs := msg[2:]
		if len(pairs) == 0 {
			pairs = make([]byte, 6)
		}
		for len(pairs)%6 != 0 {
			pairs = append(pairs, 0)
		}
		for i := 0; i < len(pairs); i += 6 {
			frames = append(frames, append([]byte{msg[0]}, pairs[i:i+6]...))
		}
	case len(msg) >= 3 && msg[0] == 0x49:
		frames = obd.LegacyInfoFrames(obd.PID(msg[1]), msg[2:])
	default:
		frames = [][]byte{msg}
	}
	sep := ""
	if ss.spaces {
		sep = " "
	}
	lines := make([]string, len(frames))
	for i, fr := range frames {
		if ss.headers {
			fr = legacyFrame(ss.s.proto, byte(addr), fr)
		}
		lines[i] = hexBytes(fr, sep)
	}
	return lines
}

// legacyFrame wraps data in the header and check byte of protocol proto.
func legacyFrame(proto, source byte, data []byte) []byte {
	var hdr []byte
	switch proto {
	case '1':
		hdr = []byte{0x41, 0x6B, source}
	case '4', '5':
		hdr = []byte{0x80 | byte(len(data)), 0xF1, source}
	default:
		hdr = []byte{0x48, 0x6B, source}
	}
	fr := append(hdr, data...)
	return append(fr, elm327.CheckByte(fr, proto))
}

// The adapter personalities of Personality: the adapters a workshop owns
// and the emulators tools are tested against.
const (
	// PersonalityGenuine is a well-behaved ELM327 v1.5 (the default).
	PersonalityGenuine = "genuine"
	// PersonalityRefusesBatches answers "?" to a request with several
	// PIDs, as many clones and the independent ELM327-emulator do.
	PersonalityRefusesBatches = "refuses-batches"
	// PersonalityFirstPIDOnly answers only the first PID of such a
	// request.
	PersonalityFirstPIDOnly = "first-pid-only"
	// PersonalityClone is a cheap "v2.1" clone: no ATWS, ATDPN, ATDP,
	// ATRV or ATAT, and a stray 0xFC and NUL after every reset.
	PersonalityClone = "clone"
	// PersonalitySlowECU puts the vehicle's ECUs 400 ms away, beyond the
	// adapter's default 200 ms timeout, as some older ECUs are.
	PersonalitySlowECU = "slow-ecu"
	// PersonalitySTN is an OBDLink (STN1110) chip: ELM327 v1.4b that
	// answers STI.
	PersonalitySTN = "stn"
	// PersonalityRealTiming is a genuine adapter with a real adapter's
	// reset and protocol search times (RealTiming).
	PersonalityRealTiming = "real-timing"
)

// Personalities lists the names Personality knows, sorted.
func Personalities() []string {
	return []string{PersonalityClone, PersonalityFirstPIDOnly, PersonalityGenuine, PersonalityRealTiming,
		PersonalityRefusesBatches, PersonalitySlowECU, PersonalitySTN}
}

// ErrPersonality is returned by Personality for a name it does not know.
var ErrPersonality = errors.New("elmsim: unknown adapter personality")

// Personality returns the Options of a named adapter personality (the
// Personality constants).
func Personality(name string) (Options, error) {
	switch name {
	case PersonalityGenuine, "":
		return Options{}, nil
	case PersonalityRefusesBatches:
		return Options{Quirks: Quirks{RefuseBatches: true}}, nil
	case PersonalityFirstPIDOnly:
		return Options{Quirks: Quirks{FirstPIDOnly: true}}, nil
	case PersonalityClone:
		return Options{Version: "ELM327 v2.1", Quirks: Quirks{AfterReset: "\xFC\x00"},
			Faults: Faults{Unsupported: []string{"WS", "DPN", "DP", "RV", "AT0", "AT1", "AT2"}}}, nil
	case PersonalitySlowECU:
		return Options{Latency: 400 * time.Millisecond}, nil
	case PersonalitySTN:
		return Options{Version: "ELM327 v1.4b", STI: "STN1110 v4.3.1"}, nil
	case PersonalityRealTiming:
		return Options{Timing: RealTiming()}, nil
	}
	return Options{}, fmt.Errorf("%w: %q (want one of %s)", ErrPersonality, name, strings.Join(Personalities(), ", "))
}
