package j1939sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
	"github.com/bayagent/bayagent/drivers/j1939"
)

// TP.CM control bytes the fault injector recognises.
const (
	cmRTS   = 16
	cmBAM   = 32
	cmAbort = 255
)

// errInjectedAbort is what a controller's Send returns for the TP.DT the
// Abort fault replaced.
var errInjectedAbort = errors.New("j1939sim: transfer aborted (injected fault)")

// faultConn injects Faults into the transport frames a controller sends.
// A controller runs one transfer of each kind at a time; the injector
// follows the last TP.CM RTS or BAM sent.
type faultConn struct {
	canbus.Conn
	f Faults

	mu       sync.Mutex
	pgnBytes [3]byte
	dest     uint8
	packets  int
	sent     int  // TP.DT frames of this transfer so far
	lastLost bool // LostLastDT done
	aborted  bool
}

func (c *faultConn) Send(ctx context.Context, f can.Frame) error {
	h, err := j1939.ParseFrame(f)
	if err != nil {
		return c.Conn.Send(ctx, f)
	}
	switch {
	case h.PGN == j1939.PGNTPCM && f.Length == 8 && (f.Data[0] == cmRTS || f.Data[0] == cmBAM):
		c.mu.Lock()
		c.pgnBytes = [3]byte{f.Data[5], f.Data[6], f.Data[7]}
		c.dest, c.packets, c.sent, c.aborted = h.Dest, int(f.Data[3]), 0, false
		c.mu.Unlock()
	case h.PGN == j1939.PGNTPDT:
		drop, abort := c.dataFault(f)
		if abort {
			c.mu.Lock()
			p := c.pgnBytes
			c.mu.Unlock()
			a := j1939.Header{Priority: 7, PGN: j1939.PGNTPCM, Source: h.Source, Dest: h.Dest}
			frame := can.Frame{ID: a.ID(), IsExtended: true, Length: 8, Data: can.Data{cmAbort, byte(j1939.ReasonResources), 0xFF, 0xFF, 0xFF, p[0], p[1], p[2]}}
			if err := c.Conn.Send(ctx, frame); err != nil {
				return err
			}
			return errInjectedAbort // ends the sender's transfer, as a real abort does
		}
		if drop {
			return nil
		}
		if err := ctxtime.Sleep(ctx, time.Duration(c.f.LateDT)); err != nil {
			return err
		}
	}
	return c.Conn.Send(ctx, f)
}

// dataFault decides the fate of one TP.DT frame.
func (c *faultConn) dataFault(f can.Frame) (drop, abort bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	switch {
	case c.aborted:
		return true, false
	case c.f.Abort && c.sent == 2 && c.dest != j1939.AddressGlobal:
		c.aborted = true
		return true, true
	case c.f.LostDT && c.sent == 2:
		return true, false
	case c.f.LostLastDT && !c.lastLost && int(f.Data[0]) == c.packets:
		c.lastLost = true
		return true, false
	}
	return false, false
}

// rival is a second off-board tool: it takes, once, the address the first
// other tool claims in the range 0x80-0xFD, with RivalName (lower, so it
// wins), and answers requests for address claim while it holds it.
func rival(ctx context.Context, conn canbus.Conn) {
	held := j1939.AddressNull
	claim := func(a uint8) {
		h := j1939.Header{Priority: j1939.PriorityDefault, PGN: j1939.PGNAddressClaimed, Source: a, Dest: j1939.AddressGlobal}
		f := can.Frame{ID: h.ID(), IsExtended: true, Length: 8}
		copy(f.Data[:], RivalName.Bytes())
		_ = conn.Send(ctx, f)
	}
	for {
		f, err := conn.Receive(ctx)
		if err != nil {
			return
		}
		h, err := j1939.ParseFrame(f)
		if err != nil {
			continue
		}
		switch h.PGN {
		case j1939.PGNAddressClaimed:
			name, err := j1939.ParseName(f.Data[:f.Length])
			if err != nil || name == RivalName {
				continue
			}
			if held == j1939.AddressNull && h.Source >= 0x80 && h.Source < j1939.AddressNull {
				held = h.Source
				claim(held)
			} else if h.Source == held && name < RivalName {
				held = j1939.AddressNull // lost to a stronger NAME: stay quiet
			} else if h.Source == held {
				claim(held)
			}
		case j1939.PGNRequest:
			pgn, err := j1939.ParseRequest(f.Data[:f.Length])
			if err == nil && pgn == j1939.PGNAddressClaimed && held != j1939.AddressNull {
				claim(held)
			}
		}
	}
}
