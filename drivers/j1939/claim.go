package j1939

import (
	"context"
	"fmt"
	"time"

	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
)

// Claim claims an address (J1939-81) and returns it once the claim has
// stood for Timeouts.Claim. An arbitrary-address-capable node first asks
// every node for its claim (a request for Address Claimed sent from the null
// address), then claims the first address of Config.Addresses that nobody
// holds. Afterwards the node defends its address by itself: a contender with
// a lower NAME takes it, and the node moves on to the next free address
// (Send waits meanwhile); a contender with a higher NAME is answered with
// the claim again. When no address is left, the node sends Cannot Claim and
// Claim returns ErrCannotClaim. On a bus that cannot transmit (a replay) the
// node turns listen-only and Claim returns an error matching ErrListenOnly.
func (n *Node) Claim(ctx context.Context) (uint8, error) {
	n.mu.Lock()
	st := n.state
	n.mu.Unlock()
	switch {
	case st == stateListen:
		return AddressNull, ErrListenOnly
	case len(n.cfg.Addresses) == 0:
		return AddressNull, fmt.Errorf("%w: no address configured", ErrCannotClaim)
	}
	if n.arbitrary() {
		if err := n.sendFrame(ctx, Header{Priority: PriorityDefault, PGN: PGNRequest, Source: AddressNull, Dest: AddressGlobal}, RequestData(PGNAddressClaimed)); err != nil {
			return AddressNull, fmt.Errorf("j1939: request address claims: %w", err)
		}
		if err := n.wait(ctx, n.to.Claim); err != nil {
			return AddressNull, err
		}
	}
	n.mu.Lock()
	n.cand = -1
	src := n.claimNextLocked(time.Now())
	n.mu.Unlock()
	n.wake()
	if err := n.sendFrame(ctx, claimHeader(src), n.cfg.Name.Bytes()); err != nil {
		return AddressNull, fmt.Errorf("j1939: claim address %02X: %w", src, err)
	}
	addr, err := n.source(ctx)
	if err != nil {
		return AddressNull, err
	}
	return addr, nil
}

func (n *Node) arbitrary() bool {
	return n.cfg.Name.Fields().ArbitraryAddress && len(n.cfg.Addresses) > 1
}

// wait sleeps d unless ctx ends or the node closes.
func (n *Node) wait(ctx context.Context, d time.Duration) error {
	closed, err := ctxtime.SleepOr(ctx, d, n.done)
	if closed {
		return n.finalErr()
	}
	return err
}

// source waits until the node holds an address and returns it.
func (n *Node) source(ctx context.Context) (uint8, error) {
	for {
		n.mu.Lock()
		st, addr, ch, lerr := n.state, n.addr, n.changed, n.loopErr
		n.mu.Unlock()
		if lerr != nil {
			return AddressNull, lerr
		}
		switch st {
		case stateClaimed:
			return addr, nil
		case stateCannot:
			return AddressNull, ErrCannotClaim
		case stateListen:
			return AddressNull, ErrListenOnly
		case stateIdle:
			return AddressNull, ErrNoAddress
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return AddressNull, ctx.Err()
		}
	}
}

// claimNextLocked moves to the next usable address after n.cand, or gives
// up. It returns the source address of the claim frame to send once mu is
// released: the new address, or AddressNull for Cannot Claim. Called with mu
// held.
func (n *Node) claimNextLocked(now time.Time) uint8 {
	for n.cand++; n.cand < len(n.cfg.Addresses); n.cand++ {
		a := n.cfg.Addresses[n.cand]
		if a >= AddressNull {
			continue
		}
		if holder, used := n.others[a]; used && (n.arbitrary() || holder < n.cfg.Name) {
			continue
		}
		n.addr = a
		n.claimAt = now.Add(n.to.Claim)
		n.setStateLocked(stateClaiming)
		n.log.Debug("j1939: claiming address", "address", a)
		return a
	}
	n.addr = AddressNull
	n.setStateLocked(stateCannot)
	n.log.Warn("j1939: cannot claim an address")
	return AddressNull
}

// claimHeader is the header of an Address Claimed (or, from AddressNull,
// Cannot Claim) message from src.
func claimHeader(src uint8) Header {
	return Header{Priority: PriorityDefault, PGN: PGNAddressClaimed, Source: src, Dest: AddressGlobal}
}

// onClaim handles another node's Address Claimed or Cannot Claim.
func (n *Node) onClaim(h Header, data []byte) {
	name, err := ParseName(data)
	if err != nil || h.Source == AddressNull {
		return
	}
	now := time.Now()
	n.mu.Lock()
	if name == n.cfg.Name && h.Source == n.addr {
		n.mu.Unlock()
		return // our own claim echoed by a bridge
	}
	n.others[h.Source] = name
	contended := (n.state == stateClaiming || n.state == stateClaimed) && h.Source == n.addr
	if !contended {
		n.mu.Unlock()
		return
	}
	if n.cfg.Name < name {
		// We win: repeat our claim so the contender yields.
		addr := n.addr
		n.mu.Unlock()
		n.log.Info("j1939: address contention won", "address", addr, "other", name)
		n.sendLoop(claimHeader(addr), n.cfg.Name.Bytes())
		return
	}
	lost := n.addr
	if n.arbitrary() {
		next := n.claimNextLocked(now)
		n.mu.Unlock()
		n.log.Info("j1939: address contention lost", "address", lost, "other", name, "next", next)
		n.sendLoop(claimHeader(next), n.cfg.Name.Bytes())
		return
	}
	n.cand = len(n.cfg.Addresses)
	n.addr = AddressNull
	n.setStateLocked(stateCannot)
	n.mu.Unlock()
	n.log.Warn("j1939: address contention lost, cannot claim", "address", lost, "other", name)
	n.sendLoop(claimHeader(AddressNull), n.cfg.Name.Bytes())
}

// onClaimRequest answers a request for Address Claimed sent to everyone or
// to this node.
func (n *Node) onClaimRequest(h Header) {
	n.mu.Lock()
	st, addr := n.state, n.addr
	n.mu.Unlock()
	switch {
	case (st == stateClaiming || st == stateClaimed) && (h.Dest == AddressGlobal || h.Dest == addr):
		n.sendLoop(claimHeader(addr), n.cfg.Name.Bytes())
	case st == stateCannot && h.Dest == AddressGlobal:
		n.sendLoop(claimHeader(AddressNull), n.cfg.Name.Bytes())
	}
}

// expireClaim makes a claim that stood long enough hold.
func (n *Node) expireClaim(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == stateClaiming && !now.Before(n.claimAt) {
		n.setStateLocked(stateClaimed)
		n.log.Debug("j1939: address claimed", "address", n.addr)
	}
}
