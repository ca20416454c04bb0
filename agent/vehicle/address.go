package vehicle

import (
	"path/filepath"
	"strings"
)

// Address is one form of vehicle interface address that Open accepts.
type Address struct {
	Scheme  string // "can", "elm327", ...
	Example string // e.g. "can:can0"
	What    string // one line for a person choosing it
}

// Addresses lists every form of vehicle interface address: the one list
// the configuration check (vehicle.interface) and the command line's help
// (--iface) show.
func Addresses() []Address {
	return []Address{
		{"can", "can:can0", "a SocketCAN interface (a CAN HAT, a USB-CAN adapter); OBD-II on 11- or 29-bit identifiers, or J1939, detected"},
		{"elm327", "elm327:/dev/ttyUSB0@38400", "an ELM327 adapter on USB serial or Bluetooth (/dev/rfcomm0, once bound), other baud rates tried; a Wi-Fi one as elm327:tcp://192.168.0.10:35000"},
		{"udp", "udp:239.64.142.206:20000", "go.einride.tech/can's UDP-multicast CAN emulator, loopback only"},
		{"mem", "mem:NAME", "an in-process bus (tests, the demo)"},
		{"replay", "replay:FILE.log", "a candump -L log, read-only (J1939 scans listen passively)"},
	}
}

// Protocols lists the values of Options.Protocol (vehicle.protocol).
func Protocols() []string { return []string{ProtocolAuto, ProtocolISO15765, ProtocolJ1939} }

// Schemes returns the schemes of Addresses, e.g. "can:, elm327:, ...".
func Schemes() string {
	var s []string
	for _, a := range Addresses() {
		s = append(s, a.Scheme+":")
	}
	return strings.Join(s, ", ")
}

// Hint suggests the address a person probably meant by addr, or "" when
// addr has a known scheme or nothing better comes to mind: a serial device
// without its scheme ("/dev/ttyUSB0", "COM3", "/dev/rfcomm0") is an ELM327
// adapter, a network interface name ("can0", "vcan1") a SocketCAN one, a
// .log file a candump replay.
func Hint(addr string) string {
	scheme, _, ok := strings.Cut(addr, ":")
	if ok {
		for _, a := range Addresses() {
			if a.Scheme == scheme {
				return ""
			}
		}
	}
	base := filepath.Base(addr)
	switch {
	case addr == "":
		return ""
	case strings.HasPrefix(addr, "/dev/tty"), strings.HasPrefix(addr, "/dev/rfcomm"), strings.HasPrefix(addr, "/dev/serial/"),
		strings.HasPrefix(strings.ToUpper(addr), "COM") && len(addr) <= 6:
		return "elm327:" + addr
	case strings.HasSuffix(addr, ".log"):
		return "replay:" + addr
	case !strings.ContainsAny(addr, "/:. ") && (strings.HasPrefix(base, "can") || strings.HasPrefix(base, "vcan") || strings.HasPrefix(base, "slcan")):
		return "can:" + addr
	}
	return ""
}
