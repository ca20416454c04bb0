package isotp

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
	"go.einride.tech/can"
)

// OBD CAN identifiers (ISO 15765-4).
const (
	// Functional11 is the 11-bit functional (broadcast) request identifier.
	Functional11 uint32 = 0x7DF
	// Functional29 is the 29-bit functional request identifier.
	Functional29 uint32 = 0x18DB33F1

	phys29Base uint32 = 0x18DA00F1 // | ecu<<8: physical request to ECU xx
	resp29Base uint32 = 0x18DAF100 // | ecu: response from ECU xx
	resp29Mask uint32 = 0x1FFFFF00
)

// RequestID returns the identifier on which ecu (named by its response
// identifier) receives physical requests and flow control: ecu-8 on 11-bit
// buses, 0x18DAxxF1 on 29-bit buses, and whether it is a 29-bit identifier.
// It returns ErrBadAddress for anything but 0x7E8-0x7EF and 0x18DAF1xx.
func RequestID(ecu obd.ECU) (id uint32, extended bool, err error) {
	e := uint32(ecu)
	switch {
	case e >= 0x7E8 && e <= 0x7EF:
		return e - 8, false, nil
	case e&resp29Mask == resp29Base:
		return phys29Base | (e&0xFF)<<8, true, nil
	}
	return 0, false, fmt.Errorf("%w: %s", ErrBadAddress, ecu)
}

// functionalID returns the functional request identifier.
func functionalID(extended bool) uint32 {
	if extended {
		return Functional29
	}
	return Functional11
}

// responseECU reports whether f comes from an ECU response identifier.
func responseECU(f can.Frame) (obd.ECU, bool) {
	if f.IsExtended {
		return obd.ECU(f.ID), f.ID&resp29Mask == resp29Base
	}
	return obd.ECU(f.ID), f.ID >= 0x7E8 && f.ID <= 0x7EF
}
