package j1939

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
)

// Timeouts are the J1939-21 transport and J1939-81 claim times. Zero fields
// take the standard values (DefaultTimeouts).
type Timeouts struct {
	// T1: receiver, between two packets (750 ms).
	T1 time.Duration
	// T2: receiver, after sending a CTS until the first packet (1250 ms).
	T2 time.Duration
	// T3: sender, after the last packet of a window or the RTS until the
	// next CTS or EoMA (1250 ms).
	T3 time.Duration
	// T4: sender, after a CTS that holds the connection open (1050 ms).
	T4 time.Duration
	// Tr: a node's response time to a request (200 ms).
	Tr time.Duration
	// Claim: how long an address claim must stand unchallenged (250 ms).
	Claim time.Duration
	// BAMGap: time between the packets of a BAM (50 ms; J1939-21 allows
	// 50 to 200).
	BAMGap time.Duration
}

// DefaultTimeouts are the standard values.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		T1:     750 * time.Millisecond,
		T2:     1250 * time.Millisecond,
		T3:     1250 * time.Millisecond,
		T4:     1050 * time.Millisecond,
		Tr:     200 * time.Millisecond,
		Claim:  250 * time.Millisecond,
		BAMGap: 50 * time.Millisecond,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	for _, p := range []struct{ v, def *time.Duration }{
		{&t.T1, &d.T1}, {&t.T2, &d.T2}, {&t.T3, &d.T3}, {&t.T4, &d.T4},
		{&t.Tr, &d.Tr}, {&t.Claim, &d.Claim}, {&t.BAMGap, &d.BAMGap},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return t
}

// Config configures a Node. Name and Addresses are required unless
// ListenOnly is set.
type Config struct {
	// Name is the NAME the node claims its address with.
	Name Name
	// Addresses the node may claim, in order of preference. A node whose
	// NAME is arbitrary-address capable skips addresses other nodes hold;
	// otherwise it contends for its first address only.
	Addresses []uint8
	// ListenOnly makes a node that never transmits: no claim, no CTS. It
	// still reassembles every transfer it hears.
	ListenOnly bool
	// Timeouts; zero fields take the standard values.
	Timeouts Timeouts
	// PacketsPerCTS is how many packets the node asks for per CTS when it
	// receives a connection-mode transfer (default 16, at most 255).
	PacketsPerCTS int
	// Retransmits is how many times a receiving node asks again for
	// packets missing from a window (a gap in the sequence numbers) before
	// it aborts (default 2). Silence is not retried: after T1 or T2 the
	// transfer is aborted, as J1939-21 requires.
	Retransmits int
	// QueueLen is how many received messages wait for Receive before the
	// oldest is dropped (default 256).
	QueueLen int
	// Logger receives protocol diagnostics; nil discards them.
	Logger *slog.Logger
}

type claimState int

const (
	stateIdle     claimState = iota // Claim not called yet
	stateClaiming                   // claim sent, waiting Timeouts.Claim
	stateClaimed
	stateCannot // every address lost: sent Cannot Claim
	stateListen // listen-only
)

// event is what Receive returns: a message or a non-fatal transfer error.
type event struct {
	msg Message
	err error
}

type frameOrErr struct {
	f   can.Frame
	err error
}

// Node is one J1939 controller application on a bus: the agent's tool, or a
// simulated ECU. It owns two goroutines (a reader and the protocol loop)
// until Close. It does not own the canbus.Conn: close that after the Node.
type Node struct {
	conn canbus.Conn
	cfg  Config
	to   Timeouts
	log  *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	frames  chan frameOrErr
	kick    chan struct{}
	events  chan event
	done    chan struct{}
	dropped atomic.Int64
	bamMu   sync.Mutex // one BAM at a time: receivers key BAMs by source

	mu      sync.Mutex
	state   claimState
	addr    uint8
	cand    int       // index in cfg.Addresses being claimed or held
	claimAt time.Time // when a claim in progress stands
	changed chan struct{}
	others  map[uint8]Name // addresses claimed by other nodes
	tx      map[uint8]*txSession
	rxOpen  map[rxKey]bool // transfers being received, mirrored for Receiving
	loopErr error
}

// NewNode starts a node on conn. It claims no address until Claim.
func NewNode(conn canbus.Conn, cfg Config) *Node {
	n := newNode(conn, cfg)
	n.wg.Add(2)
	go n.read()
	go n.run()
	return n
}

// newNode prepares a node without starting its goroutines.
func newNode(conn canbus.Conn, cfg Config) *Node {
	if cfg.PacketsPerCTS <= 0 || cfg.PacketsPerCTS > 255 {
		cfg.PacketsPerCTS = 16
	}
	if cfg.Retransmits <= 0 {
		cfg.Retransmits = 2
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		conn:    conn,
		cfg:     cfg,
		to:      cfg.Timeouts.withDefaults(),
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		frames:  make(chan frameOrErr),
		kick:    make(chan struct{}, 1),
		events:  make(chan event, cfg.QueueLen),
		done:    make(chan struct{}),
		addr:    AddressNull,
		changed: make(chan struct{}),
		others:  map[uint8]Name{},
		tx:      map[uint8]*txSession{},
		rxOpen:  map[rxKey]bool{},
	}
	if cfg.ListenOnly {
		n.state = stateListen
	}
	return n
}

// Close stops the node's goroutines and waits for them. Receive then
// returns ErrClosed. Close does not close the Conn.
func (n *Node) Close() error {
	n.cancel()
	n.wg.Wait()
	return nil
}

// Timeouts returns the node's effective timeouts.
func (n *Node) Timeouts() Timeouts { return n.to }

// Name returns the node's NAME.
func (n *Node) Name() Name { return n.cfg.Name }

// Address returns the address the node holds or is claiming, and whether
// the claim stands. AddressNull when it has none.
func (n *Node) Address() (addr uint8, claimed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr, n.state == stateClaimed
}

// ListenOnly reports whether the node never transmits, by configuration or
// because the bus refused to (a replay).
func (n *Node) ListenOnly() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == stateListen
}

// Claims returns the addresses other nodes have claimed and their NAMEs, as
// heard so far.
func (n *Node) Claims() map[uint8]Name {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[uint8]Name, len(n.others))
	for a, nm := range n.others {
		out[a] = nm
	}
	return out
}

// Receiving reports whether a transfer from src to dst (AddressGlobal for a
// BAM) is being received: a requester then waits for it to end rather than
// for Tr.
func (n *Node) Receiving(src, dst uint8) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rxOpen[rxKey{src, dst}]
}

// Dropped counts received messages dropped because Receive was not called
// fast enough.
func (n *Node) Dropped() int64 { return n.dropped.Load() }

// Receive returns the next complete message heard on the bus, whatever its
// destination, including requests and address claims. A transfer that failed
// gives a *TransferError (matching ErrAborted): the node goes on and Receive
// may be called again. Any other error is final: ErrClosed after Close, or
// the Conn's error (io.EOF at the end of a replay) once every message before
// it was returned.
func (n *Node) Receive(ctx context.Context) (Message, error) {
	select {
	case ev, ok := <-n.events:
		if !ok {
			return Message{}, n.finalErr()
		}
		return ev.msg, ev.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

func (n *Node) finalErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.loopErr == nil {
		return ErrClosed
	}
	return n.loopErr
}

func (n *Node) read() {
	defer n.wg.Done()
	for {
		f, err := n.conn.Receive(n.ctx)
		if err != nil && (errors.Is(err, canbus.ErrBadCandump) || errors.Is(err, canbus.ErrCANFD)) {
			n.log.Warn("j1939: skipping unreadable frame", "err", err)
			continue
		}
		select {
		case n.frames <- frameOrErr{f, err}:
		case <-n.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// run is the protocol loop: it handles frames, transport sessions, claims
// and timeouts.
func (n *Node) run() {
	defer n.wg.Done()
	rx := sessions{n: n, m: map[rxKey]*rxSession{}}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if dl, ok := n.nextDeadline(rx); ok {
			timer.Reset(time.Until(dl))
		} else {
			timer.Stop()
		}
		select {
		case <-n.ctx.Done():
			n.finish(ErrClosed)
			return
		case fe := <-n.frames:
			if fe.err != nil {
				if n.ctx.Err() != nil {
					fe.err = ErrClosed
				}
				n.finish(fe.err)
				return
			}
			n.handle(fe.f, rx)
		case <-timer.C:
			n.expire(rx, time.Now())
		case <-n.kick:
		}
	}
}

func (n *Node) finish(err error) {
	n.mu.Lock()
	n.loopErr = err
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	close(n.done)
	close(n.events)
}

// deliver queues an event for Receive, dropping the oldest when full.
func (n *Node) deliver(ev event) {
	for {
		select {
		case n.events <- ev:
			return
		default:
		}
		select {
		case <-n.events:
			n.dropped.Add(1)
		default:
		}
	}
}

func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// setState changes the claim state and wakes everyone waiting on it. Called
// with mu held.
func (n *Node) setStateLocked(s claimState) {
	n.state = s
	close(n.changed)
	n.changed = make(chan struct{})
}

func (n *Node) nextDeadline(rx sessions) (time.Time, bool) {
	var dl time.Time
	ok := false
	for _, s := range rx.m {
		if !ok || s.deadline.Before(dl) {
			dl, ok = s.deadline, true
		}
	}
	n.mu.Lock()
	if n.state == stateClaiming && (!ok || n.claimAt.Before(dl)) {
		dl, ok = n.claimAt, true
	}
	n.mu.Unlock()
	return dl, ok
}

// sendFrame transmits one frame; a read-only bus turns the node listen-only.
func (n *Node) sendFrame(ctx context.Context, h Header, data []byte) error {
	err := n.conn.Send(ctx, h.frame(data))
	if errors.Is(err, canbus.ErrReadOnly) {
		n.mu.Lock()
		if n.state != stateListen {
			n.setStateLocked(stateListen)
		}
		n.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrListenOnly, err)
	}
	return err
}

// sendLoop transmits from the protocol loop; failures are logged.
func (n *Node) sendLoop(h Header, data []byte) {
	if err := n.sendFrame(n.ctx, h, data); err != nil && n.ctx.Err() == nil {
		n.log.Warn("j1939: send failed", "pgn", h.PGN, "err", err)
	}
}

func (n *Node) handle(f can.Frame, rx sessions) {
	h, err := ParseFrame(f)
	if err != nil {
		return // 11-bit traffic shares the bus; not ours
	}
	data := f.Data[:f.Length]
	switch h.PGN {
	case PGNTPCM:
		n.onCM(h, data, rx)
		return
	case PGNTPDT:
		n.onDT(h, data, rx)
		return
	case PGNAddressClaimed:
		n.onClaim(h, data)
	case PGNRequest:
		if pgn, err := ParseRequest(data); err == nil && pgn == PGNAddressClaimed {
			n.onClaimRequest(h)
		}
	}
	n.deliver(event{msg: Message{Priority: h.Priority, PGN: h.PGN, Source: h.Source, Dest: h.Dest, Data: append([]byte(nil), data...)}})
}

// ours reports whether dest is this node's address (held or being claimed).
func (n *Node) ours(dest uint8) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return (n.state == stateClaimed || n.state == stateClaiming) && dest == n.addr
}
