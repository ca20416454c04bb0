package j1939sim

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// Errors of the profile loader; compare with errors.Is.
var (
	// ErrSyntax: the file is not one YAML profile of the expected shape.
	ErrSyntax = errors.New("j1939sim: profile syntax")
	// ErrInvalid: a field has a value the simulator cannot serve.
	ErrInvalid = errors.New("j1939sim: invalid profile")
)

// ProtocolJ1939 is the protocol value of a J1939 profile.
const ProtocolJ1939 = "j1939"

// Profile is a simulated truck, read from the same YAML files as
// drivers/obd/obdsim profiles (testdata/vehicles/) with protocol: j1939.
type Profile struct {
	// Common is the section every vehicle profile has; a truck's bus is
	// 29-bit, 250 or 500 kbit/s (see Validate).
	obdsim.Common `yaml:",inline"`
	J1939         Truck `yaml:"j1939"`
}

// Truck is the j1939 section.
type Truck struct {
	// DM1Period is how often each controller broadcasts DM1 (and the
	// engine its hours and distance); default 1s.
	DM1Period Duration `yaml:"dm1_period"`
	ECUs      []ECU    `yaml:"ecus"`
}

// ECU is one simulated controller application.
type ECU struct {
	// Address is the source address, e.g. 0x00 (engine #1) or 0x3D
	// (exhaust emission controller).
	Address Address `yaml:"address"`
	// Function and Identity go into the controller's NAME (industry group
	// 1, not arbitrary address capable).
	Function uint8  `yaml:"function"`
	Identity uint32 `yaml:"identity"`
	// VIN marks the controller that answers PGN 65260.
	VIN bool `yaml:"vin"`
	// OBDCompliance is DM5 byte 3 (J1979 PID 1C values).
	OBDCompliance uint8 `yaml:"obd_compliance"`
	// MIL lights the malfunction indicator lamp in DM1; RedStop,
	// AmberWarning and Protect the other lamps (all go out on DM11 with
	// the active codes).
	MIL          bool `yaml:"mil"`
	RedStop      bool `yaml:"red_stop"`
	AmberWarning bool `yaml:"amber_warning"`
	Protect      bool `yaml:"protect"`
	// Calibrations are the DM19 entries.
	Calibrations []Calibration `yaml:"calibrations"`
	// Readiness maps DM5 monitor names to "complete" or "incomplete".
	Readiness map[string]string `yaml:"readiness"`
	// DTCs are the active (DM1) and previously active (DM2) codes.
	DTCs DTCLists `yaml:"dtcs"`
	// EngineHours (PGN 65253) and OdometerKm (PGN 65248), broadcast with
	// DM1 and answered on request when set.
	EngineHours *float64 `yaml:"engine_hours"`
	OdometerKm  *float64 `yaml:"odometer_km"`
	// Ratios is DM20, absent when not supported.
	Ratios *Ratios `yaml:"ratios"`
	// DM21 is diagnostic readiness 2, absent when not supported.
	DM21 *DM21 `yaml:"dm21"`
	// Latency delays every answer.
	Latency Duration `yaml:"latency"`
	// Faults injects transport protocol faults into the controller's
	// multi-packet messages.
	Faults Faults `yaml:"faults"`
}

// Calibration is one CALID and its CVN (8 hex digits).
type Calibration struct {
	CALID string `yaml:"calid"`
	CVN   string `yaml:"cvn"`
}

// DTCLists are a controller's trouble codes.
type DTCLists struct {
	Active   []DTC `yaml:"active"`
	Previous []DTC `yaml:"previous"`
}

// DTC is one SPN/FMI code with its occurrence count.
type DTC struct {
	SPN         uint32 `yaml:"spn"`
	FMI         uint8  `yaml:"fmi"`
	Occurrences uint8  `yaml:"occurrences"`
}

// Ratios is a DM20.
type Ratios struct {
	IgnitionCycles uint16  `yaml:"ignition_cycles"`
	OBDConditions  uint16  `yaml:"obd_conditions"`
	Monitors       []Ratio `yaml:"monitors"`
}

// Ratio is one monitor's DM20 counters.
type Ratio struct {
	SPN         uint32 `yaml:"spn"`
	Numerator   uint16 `yaml:"numerator"`
	Denominator uint16 `yaml:"denominator"`
}

// DM21 is diagnostic readiness 2: distance and engine run time with the MIL
// on and since the trouble codes were cleared, each 0-64255; one left out
// is sent as not available.
type DM21 struct {
	DistanceWithMILKm    *uint16 `yaml:"distance_with_mil_km"`
	DistanceSinceClearKm *uint16 `yaml:"distance_since_clear_km"`
	MinutesWithMIL       *uint16 `yaml:"minutes_with_mil"`
	MinutesSinceClear    *uint16 `yaml:"minutes_since_clear"`
}

// readiness2 copies the values, so that the simulation can change its own.
func (d DM21) readiness2() j1939.Readiness2 {
	cp := func(p *uint16) *uint16 {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	return j1939.Readiness2{
		DistanceWithMIL: cp(d.DistanceWithMILKm), DistanceSinceClear: cp(d.DistanceSinceClearKm),
		MinutesWithMIL: cp(d.MinutesWithMIL), MinutesSinceClear: cp(d.MinutesSinceClear),
	}
}

// Faults are transport-protocol faults a controller injects into its
// multi-packet messages (BAM and RTS/CTS).
type Faults struct {
	// LostDT drops the second TP.DT of each transfer (a retransmission
	// of that packet goes through).
	LostDT bool `yaml:"lost_dt"`
	// LostLastDT drops the last TP.DT of the controller's first
	// multi-packet transfer (the receiver times out; a repeated request
	// gets through).
	LostLastDT bool `yaml:"lost_last_dt"`
	// LateDT delays every TP.DT by this long (T1 is 750 ms).
	LateDT Duration `yaml:"late_dt"`
	// Abort replaces the second TP.DT of each connection-mode transfer by
	// a connection abort and sends nothing more of it.
	Abort bool `yaml:"abort"`
}

// Address is a J1939 source address written in hex ("0x3D", 3D).
type Address uint8

// UnmarshalYAML parses a hex scalar.
func (a *Address) UnmarshalYAML(n *yaml.Node) error {
	t := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0x"), "0X")
	v, err := strconv.ParseUint(t, 16, 8)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: address %q is not a hex byte such as 0x3D", n.Line, n.Value)
	}
	*a = Address(v)
	return nil
}

// Duration is a Go duration string in YAML ("1s", "500ms").
type Duration = yamlfile.Duration

// Load reads and validates the profile at path.
func Load(path string) (*Profile, error) { return yamlfile.Load(path, Parse) }

// Parse decodes one YAML profile and validates it. Unknown fields give
// ErrSyntax.
func Parse(r io.Reader) (*Profile, error) { return yamlfile.Parse[Profile](r, ErrSyntax) }

// Validate checks what the simulator needs; all problems are joined, each
// wrapping ErrInvalid and naming its field.
func (p *Profile) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" {
		bad("name", "missing")
	}
	if p.Protocol != ProtocolJ1939 {
		bad("protocol", "%q, want %s", p.Protocol, ProtocolJ1939)
	}
	if p.Bus.IDBits != 29 {
		bad("bus.id_bits", "%d, want 29", p.Bus.IDBits)
	}
	if p.Bus.Bitrate != 250000 && p.Bus.Bitrate != 500000 {
		bad("bus.bitrate", "%d, want 250000 or 500000", p.Bus.Bitrate)
	}
	if _, err := obd.VINCheckDigit(p.VIN); err != nil {
		bad("vin", "%v", err)
	}
	if p.J1939.DM1Period < 0 {
		bad("j1939.dm1_period", "negative")
	}
	if len(p.J1939.ECUs) == 0 {
		bad("j1939.ecus", "missing")
	}
	seen := map[Address]bool{}
	holders := 0
	for i, e := range p.J1939.ECUs {
		f := fmt.Sprintf("j1939.ecus[%d]", i)
		if seen[e.Address] {
			bad(f+".address", "%02X used twice", uint8(e.Address))
		}
		seen[e.Address] = true
		if uint8(e.Address) >= j1939.AddressNull {
			bad(f+".address", "%02X is not a controller address", uint8(e.Address))
		}
		if e.VIN {
			holders++
		}
		cals := make([]j1939.Calibration, len(e.Calibrations))
		for k, c := range e.Calibrations {
			cals[k] = j1939.Calibration{CALID: c.CALID, CVN: c.CVN}
		}
		if _, err := j1939.EncodeDM19(cals); err != nil {
			bad(f+".calibrations", "%v", err)
		}
		for _, m := range slices.Sorted(maps.Keys(e.Readiness)) {
			if !slices.Contains(j1939.DM5MonitorNames(), m) {
				bad(f+".readiness."+m, "no such DM5 monitor")
			}
			if s := e.Readiness[m]; s != "complete" && s != "incomplete" {
				bad(f+".readiness."+m, "%q, want complete or incomplete", s)
			}
		}
		for list, codes := range map[string][]DTC{"active": e.DTCs.Active, "previous": e.DTCs.Previous} {
			for k, d := range codes {
				if d.SPN == 0 || d.SPN > 0x7FFFF || d.FMI > 31 || d.Occurrences > 126 {
					bad(fmt.Sprintf("%s.dtcs.%s[%d]", f, list, k), "SPN 1-524287, FMI 0-31, occurrences 0-126")
				}
			}
		}
		if e.DM21 != nil {
			if _, err := j1939.EncodeDM21(e.DM21.readiness2()); err != nil {
				bad(f+".dm21", "%v", err)
			}
		}
		if e.EngineHours != nil && (*e.EngineHours < 0 || *e.EngineHours > 200e6) {
			bad(f+".engine_hours", "out of range")
		}
		if e.OdometerKm != nil && (*e.OdometerKm < 0 || *e.OdometerKm > 500e6) {
			bad(f+".odometer_km", "out of range")
		}
		if e.Latency < 0 || e.Faults.LateDT < 0 {
			bad(f, "negative latency")
		}
	}
	if holders != 1 {
		bad("j1939.ecus", "%d controllers hold the VIN, want 1", holders)
	}
	return errors.Join(errs...)
}
