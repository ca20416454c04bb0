package isotp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd"
	"go.einride.tech/can"
)

// Default timing (ISO 15765-4) and limits, used for zero Config fields.
const (
	DefaultP2      = 50 * time.Millisecond
	DefaultP2Star  = 5 * time.Second
	DefaultNBs     = 1000 * time.Millisecond
	DefaultNCr     = 1000 * time.Millisecond
	DefaultMaxWait = 10
)

// Config configures a Client. The zero value is a valid 11-bit OBD tester
// with the standard timing.
type Config struct {
	// Extended selects 29-bit identifiers for functional requests
	// (0x18DB33F1 instead of 0x7DF) and for the responses accepted after
	// them. Physical requests follow the form of Request.To.
	Extended bool
	// P2 is how long to wait for ECUs to start answering after the request
	// was sent. Zero means 50 ms.
	P2 time.Duration
	// P2Star is how long an ECU that answered "response pending" (NRC 0x78)
	// may take for its final answer. Zero means 5 s.
	P2Star time.Duration
	// NBs is how long to wait for the ECU's flow control when sending a
	// multi-frame request. Zero means 1000 ms.
	NBs time.Duration
	// NCr is how long to wait for each consecutive frame of a multi-frame
	// answer. Zero means 1000 ms.
	NCr time.Duration
	// BlockSize is the block size of our flow control: the ECU sends this
	// many consecutive frames and then waits for another flow control.
	// Zero means the whole answer after one flow control.
	BlockSize uint8
	// STmin is the raw STmin byte of our flow control: 0x00-0x7F
	// milliseconds, 0xF1-0xF9 100-900 µs between consecutive frames. Zero
	// means as fast as the ECU can.
	STmin uint8
	// MaxWait is how many flow-control WAIT frames in a row a multi-frame
	// request accepts before failing with ErrTooManyWaits. Zero means 10.
	MaxWait int
	// Pad is the byte that fills every frame to 8 bytes. Zero means 0xAA.
	Pad byte
	// Logger receives malformed-frame and timeout reports. Nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.P2 <= 0 {
		c.P2 = DefaultP2
	}
	if c.P2Star <= 0 {
		c.P2Star = DefaultP2Star
	}
	if c.NBs <= 0 {
		c.NBs = DefaultNBs
	}
	if c.NCr <= 0 {
		c.NCr = DefaultNCr
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Pad == 0 {
		c.Pad = DefaultPad
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Stats counts a Client's traffic since NewClient.
type Stats struct {
	Requests       int64 // Do calls that sent a request
	FramesSent     int64 // frames transmitted (requests and flow control)
	FramesReceived int64 // frames read from the bus, relevant or not
	Ignored        int64 // frames from unrelated identifiers, or left over from an earlier request
	Malformed      int64 // frames from a responding ECU that were rejected
	Timeouts       int64 // answers abandoned on N_Cr or P2* expiry
}

// Client is an OBD tester over ISO-TP: it implements obd.Transport on a
// canbus.Conn. It owns one reader goroutine, started by NewClient and
// stopped by Close. Do calls are serialised.
type Client struct {
	conn   canbus.Conn
	cfg    Config
	log    *slog.Logger
	frames chan can.Frame // from the reader; closed when it stops
	rerr   error          // why the reader stopped; written before frames is closed
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex // serialises Do

	requests, sent, received, ignored, malformed, timeouts atomic.Int64
}

var _ obd.Transport = (*Client)(nil)

// NewClient starts a Client on conn. The caller keeps ownership of conn and
// closes it after Close.
func NewClient(conn canbus.Conn, cfg Config) *Client {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		conn:   conn,
		cfg:    cfg,
		log:    cfg.Logger,
		frames: make(chan can.Frame, 64),
		ctx:    ctx,
		cancel: cancel,
	}
	c.wg.Add(1)
	go c.read()
	return c
}

// Close stops the reader goroutine and waits for it. A Do in progress
// returns ErrClosed. Close does not close the Conn.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:       c.requests.Load(),
		FramesSent:     c.sent.Load(),
		FramesReceived: c.received.Load(),
		Ignored:        c.ignored.Load(),
		Malformed:      c.malformed.Load(),
		Timeouts:       c.timeouts.Load(),
	}
}

func (c *Client) read() {
	defer c.wg.Done()
	defer close(c.frames)
	for {
		f, err := c.conn.Receive(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				c.rerr = ErrClosed
			} else {
				c.rerr = fmt.Errorf("isotp: receive: %w", err)
			}
			return
		}
		c.received.Add(1)
		select {
		case c.frames <- clamp(f):
		case <-c.ctx.Done():
			c.rerr = ErrClosed
			return
		}
	}
}

// Do sends one request and collects the answers (obd.Transport).
//
// A physical request (req.To set) may be up to 4095 bytes and is segmented
// as needed; only req.To's answers are accepted, and Do returns as soon as it
// answered. A functional request must fit one single frame; answers from
// every ECU are reassembled concurrently, each ECU's flow control going to
// its own physical request identifier. Do returns as soon as every ECU in
// req.Expect has answered (or failed); otherwise it waits P2, longer while
// an answer is still arriving (N_Cr per frame) or an ECU said "response
// pending" (P2*). Response-pending answers are not returned.
//
// When at least one ECU answered, Do returns the answers and a nil error;
// ECUs whose answer failed are logged and counted. When none answered it
// returns an error wrapping obd.ErrNoResponse and, if an answer was started
// but failed, also its cause (ErrTimeoutCr, ErrWrongSN, ErrOverflow, ...).
func (c *Client) Do(ctx context.Context, req obd.Request) ([]obd.Response, error) {
	if n := len(req.Data); n == 0 || n > MaxShortLength {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadRequest, n)
	}
	tx := sender{conn: c.conn, pad: c.cfg.Pad, nbs: c.cfg.NBs, maxWait: c.cfg.MaxWait, sent: &c.sent}
	expect := req.Expect
	if req.To != 0 {
		id, ext, err := RequestID(req.To)
		if err != nil {
			return nil, err
		}
		tx.id, tx.ext = id, ext
		if len(expect) == 0 {
			expect = []obd.ECU{req.To}
		}
	} else {
		if len(req.Data) > MaxSingle {
			return nil, fmt.Errorf("%w: functional request of %d bytes does not fit a single frame", ErrBadRequest, len(req.Data))
		}
		tx.id, tx.ext = functionalID(c.cfg.Extended), c.cfg.Extended
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	c.requests.Add(1)
	c.drain()
	err := tx.send(ctx, req.Data, func(ctx context.Context, timeout time.Duration) (PDU, error) {
		return c.nextFC(ctx, req.To, timeout)
	})
	if err != nil {
		return nil, fmt.Errorf("isotp: request to %s: %w", req.To, err)
	}
	return c.collect(ctx, req, expect)
}

// drain drops frames left over from an earlier request.
func (c *Client) drain() {
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				return
			}
			c.ignored.Add(1)
		default:
			return
		}
	}
}

// nextFC waits for a flow-control frame from ecu while sending to it.
func (c *Client) nextFC(ctx context.Context, ecu obd.ECU, timeout time.Duration) (PDU, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return PDU{}, c.rerr
			}
			if from, ok := responseECU(f); ok && from == ecu {
				p, err := Parse(f.Data[:f.Length])
				if err == nil && p.Kind == FlowControlFrame {
					return p, nil
				}
				c.malformed.Add(1)
				c.log.Warn("isotp: unexpected frame while waiting for flow control", "ecu", ecu, "frame", f.String(), "err", err)
				continue
			}
			c.ignored.Add(1)
		case <-t.C:
			return PDU{}, fmt.Errorf("%w: %s after %v", ErrTimeoutBs, ecu, timeout)
		case <-ctx.Done():
			return PDU{}, ctx.Err()
		}
	}
}

// ecuRx is the state of one answering ECU during collect.
type ecuRx struct {
	r            Reassembler
	deadline     time.Time // end of the current wait on this ECU; zero when none
	pendingUntil time.Time // P2* end after "response pending"; zero otherwise
	answered     bool
	err          error // first failure of an answer from this ECU
}

// settled reports whether the ECU has nothing more to say: it answered, or
// its answer failed and nothing else is in progress.
func (st *ecuRx) settled() bool {
	return st != nil && (st.answered || (st.err != nil && st.deadline.IsZero()))
}

func (st *ecuRx) fail(err error) {
	if st.err == nil {
		st.err = err
	}
}

func (c *Client) collect(ctx context.Context, req obd.Request, expect []obd.ECU) ([]obd.Response, error) {
	base := time.Now().Add(c.cfg.P2)
	ecus := make(map[obd.ECU]*ecuRx, 2)
	var order []obd.ECU // ECUs in order of first frame
	var resps []obd.Response
	timer := time.NewTimer(c.cfg.P2)
	defer timer.Stop()
	for {
		now := time.Now()
		next, done := waitUntil(now, base, expect, ecus)
		if done {
			break
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case f, ok := <-c.frames:
			if !ok {
				return nil, c.rerr
			}
			ecu, ok := responseECU(f)
			if req.To == 0 {
				ok = ok && f.IsExtended == c.cfg.Extended
			} else {
				ok = ok && ecu == req.To
			}
			if !ok || f.IsRemote {
				c.ignored.Add(1)
				continue
			}
			st := ecus[ecu]
			if st == nil {
				st = &ecuRx{r: Reassembler{BlockSize: c.cfg.BlockSize}}
				ecus[ecu] = st
				order = append(order, ecu)
			}
			if msg := c.handle(ctx, ecu, st, f, req.Data[0]); msg != nil {
				resps = append(resps, obd.Response{ECU: ecu, Data: msg})
			}
		case <-timer.C:
			c.expire(time.Now(), ecus)
		}
	}
	if len(resps) > 0 {
		return resps, nil
	}
	for _, ecu := range order {
		if err := ecus[ecu].err; err != nil {
			return nil, fmt.Errorf("%w: ECU %s: %w", obd.ErrNoResponse, ecu, err)
		}
	}
	return nil, obd.ErrNoResponse
}

// waitUntil returns when collect must next wake up, or done when it may
// return now.
func waitUntil(now, base time.Time, expect []obd.ECU, ecus map[obd.ECU]*ecuRx) (next time.Time, done bool) {
	if len(expect) > 0 {
		all := true
		for _, e := range expect {
			if !ecus[e].settled() {
				all = false
				break
			}
		}
		if all {
			return time.Time{}, true
		}
	}
	if now.Before(base) {
		next = base
	}
	for _, st := range ecus {
		if !st.deadline.IsZero() && (next.IsZero() || st.deadline.Before(next)) {
			next = st.deadline
		}
	}
	return next, next.IsZero()
}

// handle feeds one frame from ecu and returns a final answer to service if
// it completed one. A complete message that answers another service is a
// late answer to an earlier request (the ECU took longer than P2): it is
// counted as ignored and the wait for this request's answer goes on.
func (c *Client) handle(ctx context.Context, ecu obd.ECU, st *ecuRx, f can.Frame, service byte) []byte {
	was := st.r.InProgress()
	res, err := st.r.Feed(f.Data[:f.Length])
	now := time.Now()
	if res.Aborted != nil {
		c.malformed.Add(1)
		c.log.Warn("isotp: answer interrupted", "ecu", ecu, "err", res.Aborted)
		st.fail(res.Aborted)
	}
	if err != nil {
		c.malformed.Add(1)
		c.log.Warn("isotp: bad frame", "ecu", ecu, "frame", f.String(), "err", err)
		if (was && !st.r.InProgress()) || errors.Is(err, ErrOverflow) {
			st.fail(err)
		}
	}
	switch res.Flow {
	case SendContinue:
		if err := c.sendFC(ctx, ecu, FlowContinue); err != nil {
			st.r.Reset()
			st.fail(err)
		}
	case SendOverflow:
		if err := c.sendFC(ctx, ecu, FlowOverflow); err != nil {
			c.log.Warn("isotp: send overflow flow control", "ecu", ecu, "err", err)
		}
	}
	var answer []byte
	if msg := res.Message; msg != nil && !answersService(msg, service) {
		c.ignored.Add(1)
		c.log.Debug("isotp: late answer to an earlier request dropped", "ecu", ecu, "service", fmt.Sprintf("%02X", msg[0]))
	} else if msg != nil {
		if len(msg) >= 3 && msg[0] == 0x7F && msg[2] == 0x78 {
			st.pendingUntil = now.Add(c.cfg.P2Star)
			c.log.Debug("isotp: response pending", "ecu", ecu)
		} else {
			st.pendingUntil = time.Time{}
			st.answered = true
			answer = msg
		}
	}
	switch {
	case st.r.InProgress():
		st.deadline = now.Add(c.cfg.NCr)
	case !st.pendingUntil.IsZero():
		st.deadline = st.pendingUntil
	default:
		st.deadline = time.Time{}
	}
	return answer
}

// answersService reports whether msg is a positive (service+0x40) or negative
// (7F service ...) answer to service.
func answersService(msg []byte, service byte) bool {
	switch {
	case len(msg) == 0:
		return false
	case msg[0] == 0x7F:
		return len(msg) >= 2 && msg[1] == service
	default:
		return msg[0] == service+0x40
	}
}

// expire ends the waits whose deadline has passed.
func (c *Client) expire(now time.Time, ecus map[obd.ECU]*ecuRx) {
	for ecu, st := range ecus {
		if st.deadline.IsZero() || now.Before(st.deadline) {
			continue
		}
		c.timeouts.Add(1)
		if st.r.InProgress() {
			st.r.Reset()
			st.fail(fmt.Errorf("%w: after %v", ErrTimeoutCr, c.cfg.NCr))
		} else {
			st.fail(fmt.Errorf("%w: after %v", ErrTimeoutP2Star, c.cfg.P2Star))
		}
		c.log.Warn("isotp: answer timed out", "ecu", ecu, "err", st.err)
		st.deadline, st.pendingUntil = time.Time{}, time.Time{}
	}
}

// sendFC sends our flow control to ecu's physical request identifier.
func (c *Client) sendFC(ctx context.Context, ecu obd.ECU, status FlowStatus) error {
	id, ext, err := RequestID(ecu)
	if err != nil {
		return err
	}
	tx := sender{conn: c.conn, id: id, ext: ext, pad: c.cfg.Pad, sent: &c.sent}
	return tx.sendPDU(ctx, PDU{Kind: FlowControlFrame, Status: status, BlockSize: c.cfg.BlockSize, STmin: c.cfg.STmin})
}
