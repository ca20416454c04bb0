//go:build !linux

package canbus

import (
	"net"

	"golang.org/x/net/ipv4"
)

// pinToInterface makes tx send multicast through ifi.
func pinToInterface(tx *ipv4.PacketConn, ifi *net.Interface, _ net.IP) (*ipv4.ControlMessage, error) {
	return nil, tx.SetMulticastInterface(ifi)
}

// joinGroup joins group on ifi.
func joinGroup(rx *ipv4.PacketConn, _ net.PacketConn, ifi *net.Interface, group *net.UDPAddr) error {
	return rx.JoinGroup(ifi, group)
}
