package bayio

import (
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// PinNames names the pins of a bay box as the board's GPIO registry knows
// them ("GPIO17", or a header name such as "P1_11"). An empty name means the
// part is not fitted.
type PinNames struct {
	Button                                         string
	Ready, Vehicle, Stored, Offline, Fault, Buzzer string
}

// OpenHost initialises periph's host drivers and looks every named pin up.
// It needs a real board (or at least /sys or /dev/gpiochip access) to find
// any pin; on other machines every non-empty name fails with ErrPinNotFound.
// Two names that resolve to the same pin fail with ErrPinReused.
func OpenHost(names PinNames) (Pins, error) {
	if _, err := host.Init(); err != nil {
		return Pins{}, fmt.Errorf("bayio: initialise periph host drivers: %w", err)
	}
	return resolve(names, gpioreg.ByName)
}

// resolve looks names up with byName (gpioreg.ByName on a real host).
func resolve(names PinNames, byName func(string) gpio.PinIO) (Pins, error) {
	var p Pins
	roles := []struct {
		role, name string
		in         *gpio.PinIn
		out        *gpio.PinOut
	}{
		{"button", names.Button, &p.Button, nil},
		{"ready", names.Ready, nil, &p.Ready},
		{"vehicle", names.Vehicle, nil, &p.Vehicle},
		{"stored", names.Stored, nil, &p.Stored},
		{"offline", names.Offline, nil, &p.Offline},
		{"fault", names.Fault, nil, &p.Fault},
		{"buzzer", names.Buzzer, nil, &p.Buzzer},
	}
	owner := map[string]string{} // real pin name -> role
	for _, r := range roles {
		if r.name == "" {
			continue
		}
		pin := byName(r.name)
		if pin == nil {
			return Pins{}, fmt.Errorf("bayio: pin %s (%s) %w", r.name, r.role, ErrPinNotFound)
		}
		key := pin.Name()
		if rp, ok := pin.(gpio.RealPin); ok {
			key = rp.Real().Name()
		}
		if other, ok := owner[key]; ok {
			return Pins{}, fmt.Errorf("bayio: pin %s (%s) %w as %s", r.name, r.role, ErrPinReused, other)
		}
		owner[key] = r.role
		if r.in != nil {
			*r.in = pin
		} else {
			*r.out = pin
		}
	}
	return p, nil
}
