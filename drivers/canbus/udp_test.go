package canbus

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"
	"golang.org/x/net/ipv4"
)

const testGroup = "239.64.142.206"

// needLoopbackMulticast makes sure the loopback interface carries multicast,
// turning the flag on with ip(8) if needed. It returns the interface. When
// that is impossible the test is skipped, or fails under CI=true.
func needLoopbackMulticast(t *testing.T) *net.Interface {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if lo, err := loopbackMulticast("udp:test", ifaces); err == nil {
		return lo
	}
	name := "lo"
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagLoopback != 0 {
			name = ifi.Name
		}
	}
	out, err := exec.Command("ip", "link", "set", name, "multicast", "on").CombinedOutput()
	if err == nil {
		ifaces, err = net.Interfaces()
		if err == nil {
			var lo *net.Interface
			if lo, err = loopbackMulticast("udp:test", ifaces); err == nil {
				return lo
			}
		}
	} else {
		err = fmt.Errorf("ip link set %s multicast on: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("loopback multicast unavailable: %v", err)
	}
	t.Skipf("loopback multicast unavailable (run as root: ip link set %s multicast on): %v", name, err)
	return nil
}

// freeUDPAddr returns udp:GROUP:PORT with a port no other test is using.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("udp:%s:%d", testGroup, port)
}

func openUDPPair(t *testing.T) (Conn, Conn) {
	t.Helper()
	needLoopbackMulticast(t)
	addr := freeUDPAddr(t)
	a, err := Open(t.Context(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), addr, Options{})
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	return a, b
}

func TestUDPConn(t *testing.T) {
	runConnSuite(t, openUDPPair)
}

func TestUDPSocketsPinnedToLoopback(t *testing.T) {
	lo := needLoopbackMulticast(t)
	addr := freeUDPAddr(t)
	c, err := Open(t.Context(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u := c.(*sockConn).io.(*udpIO)
	if ttl, err := u.tx.MulticastTTL(); err != nil || ttl != 0 {
		t.Errorf("tx multicast TTL = %d, %v; want 0", ttl, err)
	}
	if on, err := u.tx.MulticastLoopback(); err != nil || !on {
		t.Errorf("tx multicast loopback = %v, %v; want true", on, err)
	}
	if !u.self.IP.IsLoopback() {
		t.Errorf("tx bound to %v, want a loopback address", u.self)
	}
	if u.lo.Index != lo.Index {
		t.Errorf("node uses interface %d, want %s (%d)", u.lo.Index, lo.Name, lo.Index)
	}

	// Linux does not report IP_MULTICAST_IF set by index, so watch a frame
	// arrive instead: it must come in through the loopback interface.
	group, err := net.ResolveUDPAddr("udp4", strings.TrimPrefix(addr, "udp:"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", group.String())
	if err != nil {
		t.Fatal(err)
	}
	watch := ipv4.NewPacketConn(pc)
	defer watch.Close()
	if err := joinGroup(watch, pc, lo, group); err != nil {
		t.Fatal(err)
	}
	if err := watch.SetControlMessage(ipv4.FlagInterface|ipv4.FlagTTL, true); err != nil {
		t.Fatal(err)
	}
	if err := watch.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	sendAll(t, c, testFrames[0])
	buf := make([]byte, 64)
	n, cm, src, err := watch.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != udpFrameLen || cm == nil || cm.IfIndex != lo.Index || cm.TTL != 0 {
		t.Fatalf("datagram of %d bytes from %v, control %v; want %d bytes via %s (index %d) with TTL 0",
			n, src, cm, udpFrameLen, lo.Name, lo.Index)
	}
}

// TestUDPWireCompatibleWithEinride exchanges frames with a node dialled by
// go.einride.tech/can itself, as a separate simulator process would.
func TestUDPWireCompatibleWithEinride(t *testing.T) {
	needLoopbackMulticast(t)
	addr := freeUDPAddr(t)
	ours, err := Open(t.Context(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := socketcan.DialContext(t.Context(), "udp", strings.TrimPrefix(addr, "udp:"))
	if errors.Is(err, syscall.ENOPROTOOPT) {
		// einride joins with MCAST_JOIN_GROUP, which qemu-user lacks.
		t.Skipf("einride's emulator cannot run here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if err := theirs.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	rx := socketcan.NewReceiver(theirs)
	tx := socketcan.NewTransmitter(theirs)

	toThem := can.Frame{ID: 0x18DB33F1, IsExtended: true, Length: 3, Data: can.Data{0x02, 0x01, 0x00}}
	sendAll(t, ours, toThem)
	if !rx.Receive() {
		t.Fatalf("einride receiver: %v", rx.Err())
	}
	if got := rx.Frame(); got != toThem {
		t.Fatalf("einride received %v, want %v", got, toThem)
	}
	toUs := can.Frame{ID: 0x7E8, Length: 8, Data: can.Data{0x06, 0x41, 0x00, 0xBE, 0x3F, 0xA8, 0x13, 0x00}}
	if err := tx.TransmitFrame(t.Context(), toUs); err != nil {
		t.Fatal(err)
	}
	if got := receiveOne(t, ours); got != toUs {
		t.Fatalf("we received %v, want %v", got, toUs)
	}
}

// TestUDPDropsForeignDatagrams sends datagrams that are not CAN frames to the
// group; the node must skip them and deliver the next real frame.
func TestUDPDropsForeignDatagrams(t *testing.T) {
	lo := needLoopbackMulticast(t)
	addr := freeUDPAddr(t)
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := Open(t.Context(), addr, Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	group, err := net.ResolveUDPAddr("udp4", strings.TrimPrefix(addr, "udp:"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw := ipv4.NewPacketConn(pc)
	defer raw.Close()
	cm, err := pinToInterface(raw, lo, pc.LocalAddr().(*net.UDPAddr).IP)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SetMulticastTTL(0); err != nil {
		t.Fatal(err)
	}
	errorFrame := make([]byte, udpFrameLen)
	errorFrame[3] = 0x20 // CAN_ERR_FLAG in the little-endian can_id
	badLength := make([]byte, udpFrameLen)
	badLength[0], badLength[4] = 0x23, 9 // id 0x023, dlc 9
	want := can.Frame{ID: 0x7E9, Length: 1, Data: can.Data{0x42}}
	var good socketcan.Frame
	good.EncodeFrame(want)
	goodBytes := make([]byte, udpFrameLen)
	good.MarshalBinary(goodBytes)
	for _, b := range [][]byte{[]byte("hello"), make([]byte, 32), errorFrame, badLength, goodBytes} {
		if _, err := raw.WriteTo(b, cm, group); err != nil {
			t.Fatal(err)
		}
	}
	if got := receiveOne(t, c); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The reader logged each drop before it queued the good frame.
	log := logBuf.String()
	for msg, n := range map[string]int{"wrong size": 2, "dropped error frame": 1, "dropped invalid frame": 1} {
		if got := strings.Count(log, msg); got != n {
			t.Errorf("log has %d %q lines, want %d:\n%s", got, msg, n, log)
		}
	}
}

func TestLoopbackMulticastCheck(t *testing.T) {
	up := net.FlagUp | net.FlagRunning
	eth := net.Interface{Index: 2, Name: "eth0", Flags: up | net.FlagBroadcast | net.FlagMulticast}
	tests := []struct {
		name    string
		ifaces  []net.Interface
		want    string // name of the chosen interface, "" for an error
		errHint string
	}{
		{"ok", []net.Interface{{Index: 1, Name: "lo", Flags: up | net.FlagLoopback | net.FlagMulticast}, eth}, "lo", ""},
		{"no multicast flag", []net.Interface{{Index: 1, Name: "lo", Flags: up | net.FlagLoopback}, eth}, "", "ip link set lo multicast on"},
		{"down", []net.Interface{{Index: 1, Name: "lo", Flags: net.FlagLoopback | net.FlagMulticast}, eth}, "", "ip link set lo up"},
		{"no loopback", []net.Interface{eth}, "", "no loopback interface"},
		{"second loopback usable", []net.Interface{
			{Index: 1, Name: "lo", Flags: up | net.FlagLoopback},
			{Index: 3, Name: "lo1", Flags: up | net.FlagLoopback | net.FlagMulticast},
		}, "lo1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loopbackMulticast("udp:239.1.2.3:20000", tt.ifaces)
			if tt.want != "" {
				if err != nil || got.Name != tt.want {
					t.Fatalf("got %v, %v; want %s", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("err = %v, want ErrNotLoopback", err)
			}
			if !strings.Contains(err.Error(), tt.errHint) {
				t.Fatalf("error %q does not say %q", err, tt.errHint)
			}
		})
	}
}
