package canbus

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestSocketCANMissingInterface(t *testing.T) {
	c, err := Open(t.Context(), "can:bayagentno0", Options{})
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("err = %v, want ErrNoInterface", err)
	}
	for _, want := range []string{"can:bayagentno0", "no such network interface", "scripts/can-up.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestSocketCANNotACANInterface(t *testing.T) {
	// lo exists and is up but is no CAN interface (and this kernel may
	// have no CAN at all): Open must fail cleanly, naming the address.
	c, err := Open(t.Context(), "can:lo", Options{})
	if c != nil {
		c.Close()
	}
	if err == nil || errors.Is(err, ErrNoInterface) || !strings.Contains(err.Error(), "can:lo") {
		t.Fatalf("err = %v, want an error naming can:lo", err)
	}
}

// TestSocketCANVirtual runs the Conn suite on vcan0 where one is up
// (scripts/can-up.sh); elsewhere it is skipped.
func TestSocketCANVirtual(t *testing.T) {
	ifi, err := net.InterfaceByName("vcan0")
	if err != nil || ifi.Flags&net.FlagUp == 0 {
		t.Skip("no vcan0 interface up")
	}
	runConnSuite(t, func(t *testing.T) (Conn, Conn) {
		a, err := Open(t.Context(), "can:vcan0", Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(t.Context(), "can:vcan0", Options{})
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		return a, b
	})
}
