package canbus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"
	"golang.org/x/net/ipv4"
)

// udpFrameLen is the size of one emulator datagram: a SocketCAN can_frame as
// marshalled by socketcan.Frame.
const udpFrameLen = 16

// parseUDPGroup parses the GROUP:PORT part of a udp: address.
func parseUDPGroup(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want GROUP:PORT such as 239.64.142.206:20000: %w", err)
	}
	if !ap.Addr().Is4() || !ap.Addr().IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("group %s is not an IPv4 multicast address (use 239.0.0.0/8)", ap.Addr())
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, errors.New("port 0 is not allowed: every node of the bus must use the same port")
	}
	return ap, nil
}

// loopbackMulticast returns the loopback interface among ifaces if it is up
// and can carry multicast; otherwise an error wrapping ErrNotLoopback that
// names addr and says how to fix it.
func loopbackMulticast(addr string, ifaces []net.Interface) (*net.Interface, error) {
	var found *net.Interface
	for i := range ifaces {
		ifi := &ifaces[i]
		if ifi.Flags&net.FlagLoopback == 0 {
			continue
		}
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			return ifi, nil
		}
		if found == nil {
			found = ifi
		}
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("%w: open %s: no loopback interface found", ErrNotLoopback, addr)
	case found.Flags&net.FlagUp == 0:
		return nil, fmt.Errorf("%w: open %s: %s is down; run \"ip link set %s up\" as root", ErrNotLoopback, addr, found.Name, found.Name)
	default:
		return nil, fmt.Errorf("%w: open %s: %s has no MULTICAST flag, so the bus would go out on another interface; run \"ip link set %s multicast on\" as root",
			ErrNotLoopback, addr, found.Name, found.Name)
	}
}

// udpIO is one node on the UDP-multicast emulator, pinned to the loopback
// interface lo: rx joins the group on lo only and drops datagrams that
// arrived on another interface; tx is bound to lo's address, sends through
// lo (IP_PKTINFO on Linux, IP_MULTICAST_IF elsewhere) with TTL 0, and its
// local address identifies this node's own datagrams (looped back by the
// kernel) so that rx can drop them.
type udpIO struct {
	addr  string
	lo    *net.Interface
	group *net.UDPAddr
	rx    *ipv4.PacketConn
	tx    *ipv4.PacketConn
	txCM  *ipv4.ControlMessage // per-datagram options that pin tx to lo
	self  *net.UDPAddr
	log   *slog.Logger
	buf   []byte
	wbuf  [udpFrameLen]byte
}

// dialUDP opens a node on the emulator bus at group, on the loopback
// interface lo.
func dialUDP(addr string, group netip.AddrPort, lo *net.Interface, log *slog.Logger) (_ *udpIO, err error) {
	loAddr, err := ipv4Of(addr, lo)
	if err != nil {
		return nil, err
	}
	u := &udpIO{
		addr:  addr,
		lo:    lo,
		group: net.UDPAddrFromAddrPort(group),
		log:   log,
		buf:   make([]byte, 2048),
	}
	defer func() {
		if err != nil {
			if u.rx != nil {
				_ = u.rx.Close()
			}
			if u.tx != nil {
				_ = u.tx.Close()
			}
		}
	}()
	// Binding to the group address (as einride does) makes the standard
	// library set SO_REUSEADDR, so several nodes and processes share the port.
	rc, err := net.ListenPacket("udp4", group.String())
	if err != nil {
		return nil, fmt.Errorf("canbus: open %s: listen: %w", addr, err)
	}
	u.rx = ipv4.NewPacketConn(rc)
	if err := joinGroup(u.rx, rc, lo, u.group); err != nil {
		return nil, fmt.Errorf("canbus: open %s: join group on %s: %w", addr, lo.Name, err)
	}
	if err := u.rx.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		return nil, fmt.Errorf("canbus: open %s: receive interface info: %w", addr, err)
	}
	tc, err := net.ListenPacket("udp4", net.JoinHostPort(loAddr.String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("canbus: open %s: transmitter: %w", addr, err)
	}
	u.tx = ipv4.NewPacketConn(tc)
	u.self = tc.LocalAddr().(*net.UDPAddr)
	if u.txCM, err = pinToInterface(u.tx, lo, u.self.IP); err != nil {
		return nil, fmt.Errorf("canbus: open %s: send through %s: %w", addr, lo.Name, err)
	}
	if err := u.tx.SetMulticastTTL(0); err != nil {
		return nil, fmt.Errorf("canbus: open %s: TTL 0: %w", addr, err)
	}
	if err := u.tx.SetMulticastLoopback(true); err != nil {
		return nil, fmt.Errorf("canbus: open %s: multicast loopback: %w", addr, err)
	}
	return u, nil
}

// ipv4Of returns an IPv4 address of ifi, for opening addr.
func ipv4Of(addr string, ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: open %s: addresses of %s: %w", ErrNotLoopback, addr, ifi.Name, err)
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() {
			return pfx.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: open %s: %s has no IPv4 address", ErrNotLoopback, addr, ifi.Name)
}

func (u *udpIO) readFrame() (can.Frame, error) {
	for {
		n, cm, src, err := u.rx.ReadFrom(u.buf)
		if err != nil {
			return can.Frame{}, err
		}
		if cm == nil || cm.IfIndex != u.lo.Index {
			u.log.Debug("canbus: dropped datagram from another interface", "bus", u.addr, "from", src)
			continue
		}
		if s, ok := src.(*net.UDPAddr); ok && s.Port == u.self.Port && s.IP.Equal(u.self.IP) {
			continue // our own frame, looped back
		}
		if n != udpFrameLen {
			u.log.Warn("canbus: dropped datagram of wrong size", "bus", u.addr, "from", src, "bytes", n)
			continue
		}
		var sf socketcan.Frame
		sf.UnmarshalBinary(u.buf[:n])
		if sf.IsError() {
			u.log.Debug("canbus: dropped error frame", "bus", u.addr, "from", src)
			continue
		}
		f := sf.DecodeFrame()
		if err := f.Validate(); err != nil {
			u.log.Warn("canbus: dropped invalid frame", "bus", u.addr, "from", src, "err", err)
			continue
		}
		return f, nil
	}
}

func (u *udpIO) writeFrame(f can.Frame) error {
	var sf socketcan.Frame
	sf.EncodeFrame(f)
	sf.MarshalBinary(u.wbuf[:])
	_, err := u.tx.WriteTo(u.wbuf[:], u.txCM, u.group)
	return err
}

func (u *udpIO) SetWriteDeadline(t time.Time) error { return u.tx.SetWriteDeadline(t) }

func (u *udpIO) Close() error {
	return errors.Join(u.rx.Close(), u.tx.Close())
}
