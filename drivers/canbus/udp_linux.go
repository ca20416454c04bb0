package canbus

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// pinToInterface returns the control message that makes every datagram
// written with it leave through ifi from source address src (IP_PKTINFO
// overrides the multicast route, and its source replaces the bound one). It
// replaces IP_MULTICAST_IF, which qemu-user does not emulate.
func pinToInterface(_ *ipv4.PacketConn, ifi *net.Interface, src net.IP) (*ipv4.ControlMessage, error) {
	return &ipv4.ControlMessage{IfIndex: ifi.Index, Src: src}, nil
}

// joinGroup joins group on ifi with IP_ADD_MEMBERSHIP. x/net/ipv4 uses
// MCAST_JOIN_GROUP, which qemu-user does not emulate, and the test suite
// runs under qemu for linux/arm and linux/arm64.
func joinGroup(rx *ipv4.PacketConn, c net.PacketConn, ifi *net.Interface, group *net.UDPAddr) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return rx.JoinGroup(ifi, group)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	// struct ip_mreq names the interface by its address: qemu-user for
	// 64-bit targets mistranslates the ifindex of struct ip_mreqn.
	local, err := ifaceIPv4(ifi)
	if err != nil {
		return err
	}
	mreq := &unix.IPMreq{}
	copy(mreq.Multiaddr[:], group.IP.To4())
	copy(mreq.Interface[:], local)
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPMreq(int(fd), unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("IP_ADD_MEMBERSHIP: %w", serr)
	}
	return nil
}

// ifaceIPv4 returns an IPv4 address of ifi (127.0.0.1 for lo).
func ifaceIPv4(ifi *net.Interface) (net.IP, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.To4(), nil
		}
	}
	return nil, fmt.Errorf("%s has no IPv4 address", ifi.Name)
}
