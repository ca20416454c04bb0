package j1939_test

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/j1939"
)

// A DM1 broadcast (PGN 65226) from the engine controller, as it appears on
// a truck's bus: the 29-bit identifier gives priority, PGN and source; the
// payload gives the lamps and each active code as SPN, FMI and occurrence
// count.
func Example() {
	h := j1939.ParseID(0x18FECA00)
	fmt.Printf("priority %d, PGN %d, from %s\n", h.Priority, h.PGN, j1939.AddressName(h.Source))

	// MIL on; SPN 3226 (outlet NOx) FMI 0, seen 3 times.
	codes, err := j1939.ParseDM1([]byte{0x40, 0xFF, 0x9A, 0x0C, 0x00, 0x03, 0xFF, 0xFF})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("MIL", codes.Lamps.MIL)
	for _, d := range codes.DTCs {
		fmt.Printf("%s, %d occurrences: %s\n", d.Code(), d.Occurrences, d.Description())
	}
	// Output:
	// priority 6, PGN 65226, from Engine #1
	// MIL on
	// SPN 3226 FMI 0, 3 occurrences: Aftertreatment 1 outlet NOx 1: data valid but above normal operational range - most severe level
}
