package findings

import (
	"strconv"
	"strings"
	"sync"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

// codedValues are the live values whose Text is the meaning of a code
// (drivers/obd's enumerations), with the catalogue family of their
// meanings: "findings.enum.<family>.<code>".
var codedValues = map[string]string{
	"obd_standard": "obd_standard",
	"fuel_type":    "fuel_type",
}

// bitValues are the live values whose Text lists the set bits of a bit
// field: "findings.enum.<family>.bit<i>" for each, the family's zero key
// when none is set.
var bitValues = map[string]struct{ family, zero string }{
	"fuel_system_1_status": {"fuel_system", "off"},
	"fuel_system_2_status": {"fuel_system", "off"},
	"secondary_air_status": {"secondary_air", "none"},
}

// ValueText is a live value as a technician reads it in language l: the
// meaning of an enumeration or bit field, else the number (two decimals
// at most) and its unit. A code the catalogue does not know is shown as
// reserved, with its number.
func ValueText(v obd.Value, l i18n.Lang) string {
	if v.Text == "" {
		return strings.TrimSpace(FormatNumber(v.Value) + " " + v.Unit)
	}
	raw := uint32(v.Value)
	if family, ok := codedValues[v.Name]; ok {
		return enumText(family, raw, l)
	}
	if b, ok := bitValues[v.Name]; ok {
		if raw == 0 {
			return i18n.Text(l, "findings.enum."+b.family+"."+b.zero)
		}
		var parts []string
		for i := range 32 {
			if raw&(1<<i) == 0 {
				continue
			}
			e, ok := i18n.Lookup("findings.enum." + b.family + ".bit" + strconv.Itoa(i))
			if !ok {
				return i18n.Text(l, "findings.enum.reserved", "n", raw)
			}
			parts = append(parts, e.In(l))
		}
		if l == i18n.Chinese {
			return strings.Join(parts, "；")
		}
		return strings.Join(parts, ", ")
	}
	return v.Text
}

// enumText is the meaning of code in family, or "reserved (code)".
func enumText(family string, code uint32, l i18n.Lang) string {
	if e, ok := i18n.Lookup("findings.enum." + family + "." + strconv.FormatUint(uint64(code), 10)); ok {
		return e.In(l)
	}
	return i18n.Text(l, "findings.enum.reserved", "n", code)
}

// OBDStandardText is a snapshot's OBD standard (PID 1C as drivers/obd
// words it) in language l; a text drivers/obd does not give is returned
// as it is.
func OBDStandardText(s string, l i18n.Lang) string {
	if code, ok := obdStandardCodes()[s]; ok {
		return enumText("obd_standard", code, l)
	}
	return s
}

// obdStandardCodes maps drivers/obd's words for each PID 1C value back
// onto the value.
var obdStandardCodes = sync.OnceValue(func() map[string]uint32 {
	m := map[string]uint32{}
	for v := range 256 {
		m[obd.OBDStandardText(byte(v))] = uint32(v)
	}
	return m
})

// ECUName is a control unit's name in language l: a J1939 controller's
// preferred-address name (drivers/j1939's AddressName) from the
// catalogue, else the name as the scan has it (an OBD-II ECU's own name,
// Mode 09).
func ECUName(name string, l i18n.Lang) string {
	if a, ok := j1939AddressCodes()[name]; ok {
		if e, ok := i18n.Lookup("findings.ecu.j1939." + strconv.Itoa(int(a))); ok {
			return e.In(l)
		}
	}
	return name
}

// j1939AddressCodes maps drivers/j1939's controller names back onto their
// addresses.
var j1939AddressCodes = sync.OnceValue(func() map[string]uint8 {
	m := map[string]uint8{}
	for a := range 256 {
		if n := j1939.AddressName(uint8(a)); n != "" {
			m[n] = uint8(a)
		}
	}
	return m
})
