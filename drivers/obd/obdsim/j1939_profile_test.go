package obdsim

import (
	"errors"
	"strings"
	"testing"
)

// TestJ1939ProfileAccepted checks that a J1939 profile loads here (its
// section is left to drivers/j1939/j1939sim) and that the section and the
// protocol go together.
func TestJ1939ProfileAccepted(t *testing.T) {
	const base = `
name: truck
description: a J1939 truck
bus: {id_bits: 29, bitrate: 250000}
vin: LZZ1CLSB1KA000789
`
	for _, tc := range []struct {
		name, extra string
		want        error
	}{
		{"j1939", "protocol: j1939\nj1939: {ecus: [{address: 0}]}\n", nil},
		{"j1939 without section", "protocol: j1939\n", ErrMissing},
		{"j1939 with ecus", "protocol: j1939\nj1939: {}\necus: [{address: 7E8, name: ECM, ignition: spark}]\n", ErrBadValue},
		{"section without protocol", "j1939: {ecus: []}\necus: [{address: 7E8, name: ECM, ignition: spark}]\n", ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(base + tc.extra))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.J1939.Kind == 0 {
					t.Error("j1939 section not kept")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
