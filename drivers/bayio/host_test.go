package bayio

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/gpio"

	"github.com/bayagent/bayagent/drivers/bayio/bayiotest"
)

// alias is a header name for a real pin, as gpioreg registers "P1_11".
type alias struct {
	*bayiotest.Pin
	real gpio.PinIO
}

func (a alias) Real() gpio.PinIO { return a.real }

func TestResolve(t *testing.T) {
	gpio17 := &bayiotest.Pin{N: "GPIO17"}
	board := map[string]gpio.PinIO{
		"GPIO17": gpio17,
		"GPIO5":  &bayiotest.Pin{N: "GPIO5"},
		"GPIO6":  &bayiotest.Pin{N: "GPIO6"},
		"P1_11":  alias{&bayiotest.Pin{N: "P1_11"}, gpio17},
	}
	byName := func(n string) gpio.PinIO { return board[n] }

	for _, tc := range []struct {
		name    string
		names   PinNames
		wantErr error
		msg     string
	}{
		{name: "all absent", names: PinNames{}},
		{name: "some", names: PinNames{Button: "GPIO17", Ready: "GPIO5", Buzzer: "GPIO6"}},
		{
			name: "unknown button", names: PinNames{Button: "GPIO99"}, wantErr: ErrPinNotFound,
			msg: "bayio: pin GPIO99 (button) not found on this board",
		},
		{
			name: "unknown LED", names: PinNames{Ready: "GPIO5", Fault: "LED7"}, wantErr: ErrPinNotFound,
			msg: "bayio: pin LED7 (fault) not found on this board",
		},
		{
			name: "same name twice", names: PinNames{Ready: "GPIO5", Stored: "GPIO5"}, wantErr: ErrPinReused,
			msg: "bayio: pin GPIO5 (stored) already assigned as ready",
		},
		{
			name: "alias of a used pin", names: PinNames{Button: "GPIO17", Buzzer: "P1_11"}, wantErr: ErrPinReused,
			msg: "bayio: pin P1_11 (buzzer) already assigned as button",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := resolve(tc.names, byName)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || err.Error() != tc.msg {
					t.Fatalf("err = %v, want %q (%v)", err, tc.msg, tc.wantErr)
				}
				if p != (Pins{}) {
					t.Errorf("pins returned with an error: %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				role string
				name string
				got  interface{ Name() string }
			}{
				{"button", tc.names.Button, p.Button}, {"ready", tc.names.Ready, p.Ready},
				{"vehicle", tc.names.Vehicle, p.Vehicle}, {"stored", tc.names.Stored, p.Stored},
				{"offline", tc.names.Offline, p.Offline}, {"fault", tc.names.Fault, p.Fault},
				{"buzzer", tc.names.Buzzer, p.Buzzer},
			} {
				switch {
				case c.name == "" && c.got != nil:
					t.Errorf("%s: got %v for an empty name, want nil", c.role, c.got)
				case c.name != "" && (c.got == nil || c.got.Name() != c.name):
					t.Errorf("%s: got %v, want %s", c.role, c.got, c.name)
				}
			}
		})
	}
}

// TestOpenHostUnknownPin runs periph's real host drivers; on a machine
// without GPIO (a CI container) they find no pins, on a board they find
// real ones, and in both cases the name below does not exist.
func TestOpenHostUnknownPin(t *testing.T) {
	_, err := OpenHost(PinNames{Button: "BAYIO_NO_SUCH_PIN"})
	if err != nil && !errors.Is(err, ErrPinNotFound) {
		t.Skipf("periph host drivers unavailable here: %v", err)
	}
	if want := "bayio: pin BAYIO_NO_SUCH_PIN (button) not found on this board"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	p, err := OpenHost(PinNames{})
	if err != nil || p != (Pins{}) {
		t.Errorf("OpenHost with no names = %+v, %v; want no pins, no error", p, err)
	}
}
