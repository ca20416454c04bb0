package j1939

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.einride.tech/can"

	"github.com/bayagent/bayagent/drivers/canbus"
)

// dropConn drops the frames drop selects, and can delay them.
type dropConn struct {
	canbus.Conn
	mu   sync.Mutex
	drop func(h Header, data []byte) bool
}

func (c *dropConn) Send(ctx context.Context, f can.Frame) error {
	c.mu.Lock()
	drop := c.drop
	c.mu.Unlock()
	if h, err := ParseFrame(f); err == nil && drop != nil && drop(h, f.Data[:f.Length]) {
		return nil
	}
	return c.Conn.Send(ctx, f)
}

func node(t *testing.T, conn canbus.Conn, name Name, addrs ...uint8) *Node {
	t.Helper()
	n := NewNode(conn, Config{Name: name, Addresses: addrs, PacketsPerCTS: 3})
	t.Cleanup(func() { n.Close(); conn.Close() })
	return n
}

func claim(t *testing.T, n *Node) uint8 {
	t.Helper()
	a, err := n.Claim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// next returns the next message of pgn, or the first error.
func next(ctx context.Context, n *Node, pgn PGN) (Message, error) {
	for {
		m, err := n.Receive(ctx)
		if err != nil || m.PGN == pgn {
			return m, err
		}
	}
}

func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// TestTransport sends messages of every shape both ways and by broadcast.
func TestTransport(t *testing.T) {
	for _, size := range []int{0, 8, 9, 14, 15, 22, 100, MaxMessageLen} {
		for _, global := range []bool{false, true} {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				a := node(t, bus.Connect(), MakeName(NameFields{Identity: 1}), 0x00)
				b := node(t, bus.Connect(), ToolName, 0xF9)
				claim(t, a)
				claim(t, b)
				dest := uint8(0xF9)
				if global {
					dest = AddressGlobal
				}
				want := payload(size)
				start := time.Now()
				errc := make(chan error, 1)
				go func() { errc <- a.Send(context.Background(), Message{PGN: PGNDM19, Dest: dest, Data: want}) }()
				m, err := next(context.Background(), b, PGNDM19)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-errc; err != nil {
					t.Fatalf("send %d bytes: %v", size, err)
				}
				if !bytes.Equal(m.Data, want) || m.Source != 0x00 || m.Dest != dest {
					t.Errorf("size %d global %t: got %v", size, global, m)
				}
				if global && size > 8 {
					if took, min := time.Since(start), time.Duration(packetCount(size))*50*time.Millisecond; took < min {
						t.Errorf("BAM of %d packets took %v, want at least %v (50 ms gap)", packetCount(size), took, min)
					}
				}
			})
		}
	}
}

// TestTransportFaults: a lost packet is asked again, silence ends in an
// abort with a reason on both sides, and nothing hangs.
func TestTransportFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		drop   func(seen map[string]int, h Header, data []byte) bool
		ok     bool
		reason AbortReason
		byPeer bool
	}{
		{"lost middle packet", func(seen map[string]int, h Header, d []byte) bool {
			if h.PGN == PGNTPDT && d[0] == 2 {
				seen["dt2"]++
				return seen["dt2"] == 1
			}
			return false
		}, true, 0, false},
		{"lost last packet", func(_ map[string]int, h Header, d []byte) bool {
			return h.PGN == PGNTPDT && d[0] == 15
		}, false, ReasonTimeout, false},
		{"every packet lost", func(_ map[string]int, h Header, _ []byte) bool { return h.PGN == PGNTPDT }, false, ReasonTimeout, false},
		{"receiver silent", func(_ map[string]int, h Header, d []byte) bool { return h.PGN == PGNTPCM && d[0] == cmCTS }, false, ReasonTimeout, false},
		{"lost EoMA", func(_ map[string]int, h Header, d []byte) bool { return h.PGN == PGNTPCM && d[0] == cmEoMA }, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := canbus.NewMemBus()
				seen := map[string]int{}
				var mu sync.Mutex
				drop := func(h Header, d []byte) bool { mu.Lock(); defer mu.Unlock(); return tc.drop(seen, h, d) }
				a := node(t, &dropConn{Conn: bus.Connect(), drop: drop}, MakeName(NameFields{Identity: 1}), 0x00)
				b := node(t, &dropConn{Conn: bus.Connect(), drop: drop}, ToolName, 0xF9)
				claim(t, a)
				claim(t, b)
				want := payload(100) // 15 packets
				errc := make(chan error, 1)
				go func() { errc <- a.Send(context.Background(), Message{PGN: PGNDM19, Dest: 0xF9, Data: want}) }()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				m, err := next(ctx, b, PGNDM19)
				sendErr := <-errc
				if tc.ok {
					if err != nil || !bytes.Equal(m.Data, want) {
						t.Fatalf("receive: %v %v", m, err)
					}
					if tc.name == "lost EoMA" {
						var te *TransferError
						if !errors.As(sendErr, &te) || te.Reason != ReasonTimeout {
							t.Errorf("sender without EoMA: %v, want a T3 timeout", sendErr)
						}
					} else if sendErr != nil {
						t.Errorf("send: %v", sendErr)
					}
					return
				}
				var te *TransferError
				if tc.name == "receiver silent" || tc.name == "every packet lost" {
					// Sender (T3) and receiver (T2) time out together, or
					// the receiver never answered: the sender's view.
					if !errors.As(sendErr, &te) || te.Reason != tc.reason {
						t.Errorf("send = %v, want reason %s", sendErr, tc.reason)
					}
					return
				}
				if !errors.As(err, &te) || te.Reason != tc.reason || te.ByPeer != tc.byPeer || te.Source != 0x00 || te.Dest != 0xF9 {
					t.Errorf("receive = %v, want %s", err, tc.reason)
				}
				if !errors.As(sendErr, &te) || !te.ByPeer || te.Reason != tc.reason {
					t.Errorf("send = %v, want aborted by peer: %s", sendErr, tc.reason)
				}
			})
		})
	}
}

func TestAddressClaim(t *testing.T) {
	strong := MakeName(NameFields{ArbitraryAddress: false, Function: FunctionOffboardTool, Identity: 9}) // not arbitrary-address capable: lower than ToolName
	weak := MakeName(NameFields{ArbitraryAddress: true, IndustryGroup: 2, Function: FunctionOffboardTool})
	t.Run("lower NAME takes the address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := canbus.NewMemBus()
			tool := node(t, bus.Connect(), ToolName, ToolAddresses()...)
			if a := claim(t, tool); a != 0xF9 {
				t.Fatalf("claimed %02X, want F9", a)
			}
			rival := node(t, bus.Connect(), strong, 0xF9)
			if a := claim(t, rival); a != 0xF9 {
				t.Fatalf("rival claimed %02X", a)
			}
			// Send waits for the tool's new claim to stand.
			if err := tool.Send(context.Background(), Message{PGN: PGNDM1, Data: []byte{0}}); err != nil {
				t.Fatal(err)
			}
			if a, ok := tool.Address(); a != 0xFA || !ok {
				t.Errorf("tool at %02X (claimed %t), want FA", a, ok)
			}
		})
	})
	t.Run("higher NAME yields", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := canbus.NewMemBus()
			tool := node(t, bus.Connect(), ToolName, ToolAddresses()...)
			claim(t, tool)
			other := node(t, bus.Connect(), weak, 0xF9) // one address: contends for it
			if _, err := other.Claim(context.Background()); !errors.Is(err, ErrCannotClaim) {
				t.Errorf("weaker node: %v, want ErrCannotClaim", err)
			}
			if a, ok := tool.Address(); a != 0xF9 || !ok {
				t.Errorf("tool at %02X, want F9", a)
			}
			if err := other.Send(context.Background(), Message{PGN: PGNDM1, Data: []byte{1}}); !errors.Is(err, ErrCannotClaim) {
				t.Errorf("send without address: %v", err)
			}
		})
	})
	t.Run("every address taken", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := canbus.NewMemBus()
			holder := node(t, bus.Connect(), strong, 0xF9)
			claim(t, holder)
			watch := bus.Connect()
			defer watch.Close()
			tool := node(t, bus.Connect(), ToolName, 0xF9)
			if _, err := tool.Claim(context.Background()); !errors.Is(err, ErrCannotClaim) {
				t.Fatalf("err = %v, want ErrCannotClaim", err)
			}
			for {
				f, err := watch.Receive(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if h := ParseID(f.ID); h.PGN == PGNAddressClaimed && h.Source == AddressNull {
					if n, _ := ParseName(f.Data[:]); n != ToolName {
						t.Errorf("cannot claim with NAME %v", n)
					}
					break
				}
			}
		})
	})
	t.Run("read-only bus", func(t *testing.T) {
		conn, err := canbus.Open(context.Background(), "replay:/dev/null", canbus.Options{})
		if err != nil {
			t.Skip(err)
		}
		n := NewNode(conn, Config{Name: ToolName, Addresses: ToolAddresses()})
		defer conn.Close()
		defer n.Close()
		if _, err := n.Claim(context.Background()); !errors.Is(err, ErrListenOnly) || !errors.Is(err, canbus.ErrReadOnly) {
			t.Errorf("claim on a replay: %v", err)
		}
		if !n.ListenOnly() {
			t.Error("node not listen-only")
		}
	})
}

// TestClientRequest: answers, NACKs, silence and DM11.
func TestClientRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := canbus.NewMemBus()
		ecu := node(t, bus.Connect(), MakeName(NameFields{IndustryGroup: 1}), 0x00)
		tool := node(t, bus.Connect(), ToolName, ToolAddresses()...)
		claim(t, ecu)
		claim(t, tool)
		codes := []DTC{{SPN: 110, FMI: 0, Occurrences: 1}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := ecu.Receive(ctx)
				if err != nil {
					return
				}
				pgn, err := ParseRequest(m.Data)
				if m.PGN != PGNRequest || err != nil || m.Dest != 0x00 {
					continue
				}
				switch pgn {
				case PGNDM1:
					_ = ecu.Send(ctx, Message{PGN: PGNDM1, Dest: m.Source, Data: EncodeDM1(DiagnosticCodes{DTCs: codes})})
				case PGNDM11:
					codes = nil
					_ = ecu.Send(ctx, Message{PGN: PGNAck, Dest: m.Source, Data: EncodeAck(Acknowledgement{PGN: pgn, Address: m.Source})})
				case PGNDM20:
					// silent
				default:
					_ = ecu.Send(ctx, Message{PGN: PGNAck, Dest: m.Source, Data: EncodeAck(Acknowledgement{Control: Nack, PGN: pgn, Address: m.Source})})
				}
			}
		}()
		c := &Client{Node: tool}
		ans, err := c.Request(context.Background(), PGNDM5, []uint8{0x00, 0x42})
		if err != nil {
			t.Fatal(err)
		}
		if a := ans[0x00]; a.Ack == nil || a.Ack.Control != Nack {
			t.Errorf("DM5 from 00: %+v, want NACK", a)
		}
		if a := ans[0x42]; !errors.Is(a.Err, ErrNoAnswer) {
			t.Errorf("DM5 from nobody: %+v", a)
		}
		ans, _ = c.Request(context.Background(), PGNDM20, []uint8{0x00})
		if !errors.Is(ans[0x00].Err, ErrNoAnswer) {
			t.Errorf("silent DM20: %+v", ans[0x00])
		}
		if _, err := c.ClearActive(context.Background(), ClearRequest{JobID: "J1", ECUs: []uint8{0}}); !errors.Is(err, ErrMissingField) {
			t.Errorf("clear without technician: %v", err)
		}
		res, err := c.ClearActive(context.Background(), ClearRequest{JobID: "J1", Technician: "T7", ECUs: []uint8{0x00}})
		if err != nil {
			t.Fatal(err)
		}
		if e := res.ECUs[0]; !e.Acknowledged || len(e.Before) != 1 || len(e.Cleared) != 1 || len(e.Remaining) != 0 || res.JobID != "J1" || res.Technician != "T7" {
			t.Errorf("clear result %+v", res)
		}
		cancel()
		<-done
	})
}
