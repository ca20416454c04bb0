package j1939

import (
	"encoding/binary"
	"fmt"
)

// Name is the 64-bit J1939 NAME a node claims its address with (J1939-81).
// The numerically lower NAME wins an address contention. It is sent least
// significant byte first.
type Name uint64

// NameFields are the fields of a NAME.
type NameFields struct {
	ArbitraryAddress      bool   // bit 63: may claim an address from a range
	IndustryGroup         uint8  // 3 bits: 0 global, 1 on-highway, 2 agricultural, ...
	VehicleSystemInstance uint8  // 4 bits
	VehicleSystem         uint8  // 7 bits
	Function              uint8  // 8 bits: 0 engine, 129 off-board diagnostic-service tool, ...
	FunctionInstance      uint8  // 5 bits
	ECUInstance           uint8  // 3 bits
	Manufacturer          uint16 // 11 bits
	Identity              uint32 // 21 bits: serial number
}

// MakeName packs the fields, masking each to its width.
func MakeName(f NameFields) Name {
	n := uint64(f.Identity&0x1FFFFF) |
		uint64(f.Manufacturer&0x7FF)<<21 |
		uint64(f.ECUInstance&7)<<32 |
		uint64(f.FunctionInstance&0x1F)<<35 |
		uint64(f.Function)<<40 |
		uint64(f.VehicleSystem&0x7F)<<49 |
		uint64(f.VehicleSystemInstance&0xF)<<56 |
		uint64(f.IndustryGroup&7)<<60
	if f.ArbitraryAddress {
		n |= 1 << 63
	}
	return Name(n)
}

// Fields unpacks the NAME.
func (n Name) Fields() NameFields {
	return NameFields{
		ArbitraryAddress:      n>>63 != 0,
		IndustryGroup:         uint8(n>>60) & 7,
		VehicleSystemInstance: uint8(n>>56) & 0xF,
		VehicleSystem:         uint8(n>>49) & 0x7F,
		Function:              uint8(n >> 40),
		FunctionInstance:      uint8(n>>35) & 0x1F,
		ECUInstance:           uint8(n>>32) & 7,
		Manufacturer:          uint16(n>>21) & 0x7FF,
		Identity:              uint32(n) & 0x1FFFFF,
	}
}

// Bytes returns the NAME as sent in an Address Claimed message.
func (n Name) Bytes() []byte { return binary.LittleEndian.AppendUint64(nil, uint64(n)) }

func (n Name) String() string { return fmt.Sprintf("%016X", uint64(n)) }

// ParseName decodes the 8 data bytes of an Address Claimed message.
func ParseName(data []byte) (Name, error) {
	if len(data) < 8 {
		return 0, fmt.Errorf("%w: address claim has %d bytes, want 8", ErrShortData, len(data))
	}
	return Name(binary.LittleEndian.Uint64(data)), nil
}

// FunctionOffboardTool is the J1939 function code of an off-board
// diagnostic-service tool in industry group 0 (global).
const FunctionOffboardTool = 129

// ToolName is the NAME the agent claims with: arbitrary address capable,
// industry group 0 (global), vehicle system 0 (non-specific), function 129,
// manufacturer code 0 (reserved: none assigned to this project), identity 1.
// Function codes from 128 up depend on the industry group: 129 is the
// "off-board diagnostic-service tool" only in industry group 0 (in the NAME
// tables of J1939-81 as the public ETI J1939-84 tool lists them), while in
// industry group 1 (on-highway) it is a door controller.
var ToolName = MakeName(NameFields{
	ArbitraryAddress: true,
	IndustryGroup:    0,
	Function:         FunctionOffboardTool,
	Identity:         1,
})

// ToolAddresses are the addresses an off-board tool claims, in order: 0xF9
// and 0xFA (off-board diagnostic-service tools #1 and #2 in the J1939
// preferred address table), then the self-configurable range 0x80-0xF7.
func ToolAddresses() []uint8 {
	out := []uint8{0xF9, 0xFA}
	for a := 0x80; a <= 0xF7; a++ {
		out = append(out, uint8(a))
	}
	return out
}

// AddressName gives the J1939 preferred-address name of common on-highway
// controllers ("Engine #1" for 0x00), or "" for other addresses.
func AddressName(a uint8) string {
	switch a {
	case 0x00:
		return "Engine #1"
	case 0x01:
		return "Engine #2"
	case 0x03:
		return "Transmission #1"
	case 0x0B:
		return "Brakes - System Controller"
	case 0x0F:
		return "Retarder - Engine"
	case 0x10:
		return "Retarder - Driveline"
	case 0x11:
		return "Cruise Control"
	case 0x17:
		return "Instrument Cluster #1"
	case 0x21:
		return "Body Controller"
	case 0x3D:
		return "Exhaust Emission Controller"
	case 0xF9:
		return "Off-board Diagnostic-Service Tool #1"
	case 0xFA:
		return "Off-board Diagnostic-Service Tool #2"
	}
	return ""
}
