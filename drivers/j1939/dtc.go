package j1939

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
)

// DTC is one J1939 diagnostic trouble code (J1939-73, version 4 layout).
type DTC struct {
	// SPN is the suspect parameter number (19 bits).
	SPN uint32
	// FMI is the failure mode identifier (5 bits).
	FMI uint8
	// Occurrences is the occurrence count (7 bits; 127 means 127 or more,
	// 0 not available on some controllers).
	Occurrences uint8
	// ConversionMethod is 0 for the version 4 layout; 1 marks a code from
	// an older layout whose SPN this package still decodes per version 4.
	ConversionMethod uint8
}

// Code formats the DTC as "SPN 3226 FMI 0".
func (d DTC) Code() string { return fmt.Sprintf("SPN %d FMI %d", d.SPN, d.FMI) }

// Description is "<SPN name>: <FMI description>" in English, as records
// carry it.
func (d DTC) Description() string { return DescribeIn(d.SPN, d.FMI, "en") }

// DescriptionIn is Description in the language of tag ("en", "zh-CN").
func (d DTC) DescriptionIn(tag string) string { return DescribeIn(d.SPN, d.FMI, tag) }

// OBD returns the DTC in the form snapshots use.
func (d DTC) OBD() obd.DTC {
	return obd.DTC{Code: d.Code(), Description: d.Description(), J1939: obd.J1939Code{
		SPN: d.SPN, FMI: d.FMI, Occurrences: d.Occurrences, ConversionMethod: d.ConversionMethod,
	}}
}

func (d DTC) bytes() [4]byte {
	return [4]byte{byte(d.SPN), byte(d.SPN >> 8), byte(d.SPN>>16&7)<<5 | d.FMI&0x1F, d.ConversionMethod<<7 | d.Occurrences&0x7F}
}

func decodeDTC(b []byte) DTC {
	return DTC{
		SPN:              uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2]>>5)<<16,
		FMI:              b[2] & 0x1F,
		Occurrences:      b[3] & 0x7F,
		ConversionMethod: b[3] >> 7,
	}
}

// LampStatus is a 2-bit lamp state.
type LampStatus uint8

// Lamp states.
const (
	LampOff          LampStatus = 0
	LampOn           LampStatus = 1
	LampError        LampStatus = 2
	LampNotAvailable LampStatus = 3
)

func (l LampStatus) String() string {
	return [...]string{"off", "on", "error", "not available"}[l&3]
}

// LampFlash is a 2-bit lamp flash state.
type LampFlash uint8

// Flash states.
const (
	FlashSlow     LampFlash = 0 // 1 Hz
	FlashFast     LampFlash = 1 // 2 Hz
	FlashNone     LampFlash = 3 // unavailable / do not flash
	FlashReserved LampFlash = 2
)

// Lamps is the lamp status of a DM1 or DM2: malfunction indicator, red stop,
// amber warning and protect lamps, with their flash states.
type Lamps struct {
	MIL, RedStop, AmberWarning, Protect                     LampStatus
	MILFlash, RedStopFlash, AmberWarningFlash, ProtectFlash LampFlash
}

// DiagnosticCodes is a decoded DM1 (active) or DM2 (previously active).
type DiagnosticCodes struct {
	Lamps Lamps
	DTCs  []DTC
}

// ParseDM1 decodes a DM1 or DM2 (the same layout): two lamp bytes, then
// 4-byte DTCs. A single-frame message with no code carries SPN 0 FMI 0,
// which is dropped; trailing 0xFF padding is dropped. Any other leftover
// bytes give ErrFormat.
func ParseDM1(data []byte) (DiagnosticCodes, error) {
	if len(data) < 2 {
		return DiagnosticCodes{}, fmt.Errorf("%w: DM1/DM2 has %d bytes, want at least 2", ErrShortData, len(data))
	}
	a, b := data[0], data[1]
	out := DiagnosticCodes{Lamps: Lamps{
		MIL: LampStatus(a >> 6 & 3), RedStop: LampStatus(a >> 4 & 3), AmberWarning: LampStatus(a >> 2 & 3), Protect: LampStatus(a & 3),
		MILFlash: LampFlash(b >> 6 & 3), RedStopFlash: LampFlash(b >> 4 & 3), AmberWarningFlash: LampFlash(b >> 2 & 3), ProtectFlash: LampFlash(b & 3),
	}, DTCs: []DTC{}}
	rest := data[2:]
	for ; len(rest) >= 4; rest = rest[4:] {
		g := rest[:4]
		if allBytes(g, 0) || allBytes(g, 0xFF) {
			continue
		}
		out.DTCs = append(out.DTCs, decodeDTC(g))
	}
	if !allBytes(rest, 0xFF) {
		return DiagnosticCodes{}, fmt.Errorf("%w: DM1/DM2 of %d bytes ends with % X, not a whole DTC", ErrFormat, len(data), rest)
	}
	return out, nil
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

// EncodeDM1 builds a DM1 or DM2: 8 bytes for none or one code (padded with
// 0xFF), 2+4n bytes (multi-packet) for more.
func EncodeDM1(c DiagnosticCodes) []byte {
	l := c.Lamps
	out := []byte{
		byte(l.MIL&3)<<6 | byte(l.RedStop&3)<<4 | byte(l.AmberWarning&3)<<2 | byte(l.Protect&3),
		byte(l.MILFlash&3)<<6 | byte(l.RedStopFlash&3)<<4 | byte(l.AmberWarningFlash&3)<<2 | byte(l.ProtectFlash&3),
	}
	if len(c.DTCs) == 0 {
		return append(out, 0, 0, 0, 0, 0xFF, 0xFF)
	}
	for _, d := range c.DTCs {
		b := d.bytes()
		out = append(out, b[:]...)
	}
	if len(c.DTCs) == 1 {
		out = append(out, 0xFF, 0xFF)
	}
	return out
}
