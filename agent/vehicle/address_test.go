package vehicle

import (
	"strings"
	"testing"
)

func TestHint(t *testing.T) {
	for addr, want := range map[string]string{
		"/dev/ttyUSB0":        "elm327:/dev/ttyUSB0",
		"/dev/ttyACM1@9600":   "elm327:/dev/ttyACM1@9600",
		"/dev/rfcomm0":        "elm327:/dev/rfcomm0",
		"COM3":                "elm327:COM3",
		"can0":                "can:can0",
		"vcan1":               "can:vcan1",
		"trace.log":           "replay:trace.log",
		"can:can0":            "",
		"elm327:/dev/ttyUSB0": "",
		"":                    "",
		"bluetooth":           "",
		"http://x":            "",
	} {
		if got := Hint(addr); got != want {
			t.Errorf("Hint(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, a := range Addresses() {
		if !strings.HasPrefix(a.Example, a.Scheme+":") || a.What == "" {
			t.Errorf("%+v: the example must use the scheme, and say what it is", a)
		}
	}
	if Schemes() != "can:, elm327:, udp:, mem:, replay:" {
		t.Errorf("Schemes() = %q", Schemes())
	}
}
