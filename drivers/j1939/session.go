package j1939

import (
	"context"
	"fmt"
	"time"
)

// rxKey identifies a transfer being received: BAMs by source (Dest
// AddressGlobal), connection-mode transfers by source and destination.
type rxKey struct{ src, dst uint8 }

// rxSession is a transfer being reassembled. Sessions addressed to this node
// (ours) are driven with CTS and EoMA; BAMs and transfers between other
// nodes are only observed.
type rxSession struct {
	key      rxKey
	pgn      PGN
	prio     uint8
	r        *reassembly
	bam      bool
	ours     bool
	maxCTS   int // packets the sender accepts per CTS
	winEnd   int // last sequence number of the window asked for
	retries  int
	deadline time.Time
}

// sessions are the transfers being received, owned by the protocol loop and
// mirrored in Node.rxOpen.
type sessions struct {
	n *Node
	m map[rxKey]*rxSession
}

func (x sessions) get(k rxKey) *rxSession { return x.m[k] }

func (x sessions) put(s *rxSession) {
	x.m[s.key] = s
	x.n.mu.Lock()
	x.n.rxOpen[s.key] = true
	x.n.mu.Unlock()
}

func (x sessions) remove(k rxKey) {
	delete(x.m, k)
	x.n.mu.Lock()
	delete(x.n.rxOpen, k)
	x.n.mu.Unlock()
}

func tpHeader(pgn PGN, src, dst uint8) Header {
	return Header{Priority: 7, PGN: pgn, Source: src, Dest: dst}
}

func (n *Node) onCM(h Header, data []byte, rx sessions) {
	now := time.Now()
	cm, err := decodeCM(data)
	if err != nil {
		n.log.Debug("j1939: bad TP.CM", "source", h.Source, "err", err)
		if len(data) == 8 && data[0] == cmRTS && n.ours(h.Dest) {
			reason := ReasonOther
			if size := int(data[1]) | int(data[2])<<8; size > MaxMessageLen {
				reason = ReasonTooLong
			}
			n.sendLoop(tpHeader(PGNTPCM, h.Dest, h.Source), encodeCM(tpCM{control: cmAbort, reason: reason, pgn: pgnField(data[5:])}))
		}
		return
	}
	switch cm.control {
	case cmBAM:
		if h.Dest != AddressGlobal {
			return
		}
		key := rxKey{h.Source, AddressGlobal}
		if old := rx.get(key); old != nil {
			n.fail(rx, old, ReasonOther, false)
		}
		rx.put(&rxSession{key: key, pgn: cm.pgn, prio: h.Priority, r: newReassembly(cm.size, cm.packets), bam: true, deadline: now.Add(n.to.T1)})
	case cmRTS:
		key := rxKey{h.Source, h.Dest}
		if old := rx.get(key); old != nil {
			// A new RTS from the same sender replaces its transfer.
			n.fail(rx, old, ReasonInSession, false)
		}
		s := &rxSession{key: key, pgn: cm.pgn, prio: h.Priority, r: newReassembly(cm.size, cm.packets), ours: n.ours(h.Dest), maxCTS: cm.maxCTS}
		rx.put(s)
		if s.ours {
			n.askWindow(s, now)
		} else {
			s.deadline = now.Add(n.to.T2)
		}
	case cmCTS, cmEoMA:
		n.toSender(h, cm)
	case cmAbort:
		n.toSender(h, cm)
		// The sender gave up its transfer, or the receiver refused it.
		for _, key := range []rxKey{{h.Source, h.Dest}, {h.Dest, h.Source}} {
			if s := rx.get(key); s != nil && s.pgn == cm.pgn {
				rx.remove(key)
				n.deliver(event{err: &TransferError{PGN: s.pgn, Source: key.src, Dest: key.dst, Reason: cm.reason, ByPeer: true}})
			}
		}
	}
}

// toSender passes a CTS, EoMA or Abort addressed to this node to the
// transfer it concerns.
func (n *Node) toSender(h Header, cm tpCM) {
	n.mu.Lock()
	s := n.tx[h.Source]
	n.mu.Unlock()
	if s == nil || s.src != h.Dest || s.pgn != cm.pgn {
		return
	}
	select {
	case s.events <- cm:
	default:
		n.log.Warn("j1939: transport events overrun", "peer", h.Source)
	}
}

// askWindow sends the CTS for the run of missing packets starting at the
// first one missing, as many as the sender and this node allow.
func (n *Node) askWindow(s *rxSession, now time.Time) {
	first := s.r.firstMissing()
	count := 0
	for seq := first; seq < len(s.r.have) && !s.r.have[seq] && count < min(s.maxCTS, n.cfg.PacketsPerCTS); seq++ {
		count++
	}
	s.winEnd = first + count - 1
	s.deadline = now.Add(n.to.T2)
	n.sendLoop(tpHeader(PGNTPCM, s.key.dst, s.key.src), encodeCM(tpCM{control: cmCTS, packets: count, next: first, pgn: s.pgn}))
}

func (n *Node) onDT(h Header, data []byte, rx sessions) {
	now := time.Now()
	key := rxKey{h.Source, h.Dest}
	s := rx.get(key)
	if s == nil {
		return // no transfer open: ignored, as J1939-21 asks
	}
	fresh, ok := s.r.add(data)
	if !ok {
		n.fail(rx, s, ReasonBadSequence, s.ours)
		return
	}
	s.deadline = now.Add(n.to.T1)
	if s.r.complete() {
		rx.remove(key)
		if s.ours {
			n.sendLoop(tpHeader(PGNTPCM, key.dst, key.src), encodeCM(tpCM{control: cmEoMA, size: s.r.size, packets: len(s.r.have) - 1, pgn: s.pgn}))
		}
		n.deliver(event{msg: Message{Priority: s.prio, PGN: s.pgn, Source: key.src, Dest: key.dst, Data: s.r.message()}})
		return
	}
	if !s.ours || !fresh || int(data[0]) < s.winEnd {
		return
	}
	// The window's last packet arrived: ask for the next run, which is a
	// retransmission when a packet of this window went missing.
	if s.r.firstMissing() <= s.winEnd {
		if s.retries >= n.cfg.Retransmits {
			n.fail(rx, s, ReasonRetransmit, true)
			return
		}
		s.retries++
	}
	n.askWindow(s, now)
}

// expire handles every deadline that has passed.
func (n *Node) expire(rx sessions, now time.Time) {
	n.expireClaim(now)
	for _, s := range rx.m {
		if now.Before(s.deadline) {
			continue
		}
		n.fail(rx, s, ReasonTimeout, s.ours)
	}
}

// fail ends a transfer being received, sending an abort when it is ours.
func (n *Node) fail(rx sessions, s *rxSession, reason AbortReason, abort bool) {
	rx.remove(s.key)
	if abort {
		n.sendLoop(tpHeader(PGNTPCM, s.key.dst, s.key.src), encodeCM(tpCM{control: cmAbort, reason: reason, pgn: s.pgn}))
	}
	n.log.Debug("j1939: transfer failed", "pgn", s.pgn, "source", s.key.src, "dest", s.key.dst, "reason", reason)
	n.deliver(event{err: &TransferError{PGN: s.pgn, Source: s.key.src, Dest: s.key.dst, Reason: reason}})
}

// txSession is a connection-mode transfer this node sends.
type txSession struct {
	src, dst uint8
	pgn      PGN
	events   chan tpCM
	done     chan struct{} // closed when the transfer ends
}

// Send transmits a message from the node's claimed address, waiting for a
// claim in progress. Up to 8 bytes go in one frame; longer messages (up to
// MaxMessageLen) use the transport protocol: BAM when Dest is
// AddressGlobal, RTS/CTS otherwise. For a PDU2 PGN the destination only
// selects the transport. Priority 0 means PriorityDefault.
//
// A connection-mode transfer waits for one in progress to the same
// destination, and returns when the receiver acknowledged it
// (EoMA), or with a *TransferError when it aborted or stopped answering
// (after T3 or T4, this node then sends an abort).
func (n *Node) Send(ctx context.Context, m Message) error {
	if len(m.Data) > MaxMessageLen {
		return fmt.Errorf("%w: PGN %d has %d bytes", ErrTooLong, m.PGN, len(m.Data))
	}
	src, err := n.source(ctx)
	if err != nil {
		return err
	}
	prio := m.Priority
	if prio == 0 {
		prio = PriorityDefault
	}
	if len(m.Data) <= 8 {
		return n.sendFrame(ctx, Header{Priority: prio, PGN: m.PGN, Source: src, Dest: m.Dest}, m.Data)
	}
	if m.Dest == AddressGlobal {
		return n.sendBAM(ctx, src, m)
	}
	return n.sendRTS(ctx, src, m)
}

func (n *Node) sendBAM(ctx context.Context, src uint8, m Message) error {
	n.bamMu.Lock()
	defer n.bamMu.Unlock()
	packets := packetCount(len(m.Data))
	cm := tpCM{control: cmBAM, size: len(m.Data), packets: packets, pgn: m.PGN}
	if err := n.sendFrame(ctx, tpHeader(PGNTPCM, src, AddressGlobal), encodeCM(cm)); err != nil {
		return err
	}
	for seq := 1; seq <= packets; seq++ {
		if err := n.wait(ctx, n.to.BAMGap); err != nil {
			return err
		}
		if err := n.sendFrame(ctx, tpHeader(PGNTPDT, src, AddressGlobal), dtPayload(m.Data, seq)); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) sendRTS(ctx context.Context, src uint8, m Message) error {
	s := &txSession{src: src, dst: m.Dest, pgn: m.PGN, events: make(chan tpCM, 16), done: make(chan struct{})}
	// One connection per destination: wait for a transfer in progress.
	for {
		n.mu.Lock()
		cur := n.tx[m.Dest]
		if cur == nil {
			n.tx[m.Dest] = s
			n.mu.Unlock()
			break
		}
		n.mu.Unlock()
		select {
		case <-cur.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return n.finalErr()
		}
	}
	defer func() {
		n.mu.Lock()
		delete(n.tx, m.Dest)
		n.mu.Unlock()
		close(s.done)
	}()
	packets := packetCount(len(m.Data))
	fail := func(reason AbortReason, byPeer bool) error {
		if !byPeer {
			_ = n.sendFrame(n.ctx, tpHeader(PGNTPCM, src, m.Dest), encodeCM(tpCM{control: cmAbort, reason: reason, pgn: m.PGN}))
		}
		return &TransferError{PGN: m.PGN, Source: src, Dest: m.Dest, Reason: reason, ByPeer: byPeer}
	}
	rts := tpCM{control: cmRTS, size: len(m.Data), packets: packets, maxCTS: 255, pgn: m.PGN}
	if err := n.sendFrame(ctx, tpHeader(PGNTPCM, src, m.Dest), encodeCM(rts)); err != nil {
		return err
	}
	timer := time.NewTimer(n.to.T3)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = fail(ReasonOther, false)
			return ctx.Err()
		case <-n.done:
			return n.finalErr()
		case <-timer.C:
			return fail(ReasonTimeout, false)
		case cm := <-s.events:
			switch cm.control {
			case cmEoMA:
				return nil
			case cmAbort:
				return fail(cm.reason, true)
			case cmCTS:
				if cm.packets == 0 {
					timer.Reset(n.to.T4) // hold the connection open
					continue
				}
				last := cm.next + cm.packets - 1
				if cm.next < 1 || last > packets {
					return fail(ReasonOther, false)
				}
				for seq := cm.next; seq <= last; seq++ {
					select {
					case ev := <-s.events:
						if ev.control == cmAbort {
							return fail(ev.reason, true)
						}
						// A CTS or EoMA during the transfer: J1939-21
						// asks to ignore it.
					default:
					}
					if err := n.sendFrame(ctx, tpHeader(PGNTPDT, src, m.Dest), dtPayload(m.Data, seq)); err != nil {
						return err
					}
				}
				timer.Reset(n.to.T3)
			}
		}
	}
}
