package obdsim

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bayagent/bayagent/drivers/obd"
	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// ProtocolISO15765 is the default protocol: OBD-II (SAE J1979) over ISO-TP
// on CAN (ISO 15765-4).
const ProtocolISO15765 = "iso15765"

// ProtocolJ1939 marks a heavy-duty SAE J1939 profile. Its controllers are
// described in the j1939 section, which drivers/j1939/j1939sim reads and
// validates; this package only checks the common fields and does not serve
// it.
const ProtocolJ1939 = "j1939"

// The non-CAN OBD-II protocols of older cars (K-line and J1850). A profile
// with one of them has no bus section; its ECUs are addressed by the source
// byte of their frames' header (10 for the engine) and are served only
// behind the ELM327 simulator (drivers/elm327/elmsim), which prints their
// frames in that protocol's format.
const (
	ProtocolISO9141  = "iso9141"   // ISO 9141-2 (K-line, 5-baud init)
	ProtocolKWP5Baud = "kwp_5baud" // ISO 14230-4 KWP, 5-baud init
	ProtocolKWPFast  = "kwp_fast"  // ISO 14230-4 KWP, fast init
	ProtocolJ1850VPW = "j1850_vpw" // SAE J1850 VPW (10.4 kbit/s)
	ProtocolJ1850PWM = "j1850_pwm" // SAE J1850 PWM (41.6 kbit/s)
)

// Legacy reports whether protocol is one of the non-CAN OBD-II protocols.
func Legacy(protocol string) bool {
	switch protocol {
	case ProtocolISO9141, ProtocolKWP5Baud, ProtocolKWPFast, ProtocolJ1850VPW, ProtocolJ1850PWM:
		return true
	}
	return false
}

// Profile describes one simulated vehicle. It is read from YAML (see Parse);
// testdata/vehicles/ holds examples. A Profile is plain data: tests may build
// or change one in code before passing it to New.
//
// A protocol whose controllers this package does not serve has a value of
// Protocol and a section of its own next to ECUs, as J1939 has.
type Profile struct {
	Common `yaml:",inline"`
	// ECUs are the control units that answer OBD requests.
	ECUs []ECUProfile `yaml:"ecus"`
	// J1939 is the section of a ProtocolJ1939 profile, kept unparsed for
	// drivers/j1939/j1939sim.
	J1939 yaml.Node `yaml:"j1939"`
}

// Common is the part of a profile that every protocol's has (a J1939
// profile too, read by drivers/j1939/j1939sim): its keys stand at the top
// level of the file, beside the protocol's own section.
type Common struct {
	// Name identifies the profile, e.g. "petrol-p0420".
	Name string `yaml:"name"`
	// Description says in plain words what the vehicle shows.
	Description string `yaml:"description"`
	// Protocol is "iso15765" (the default when empty), "j1939", or one
	// of the non-CAN protocols "iso9141", "kwp_5baud", "kwp_fast",
	// "j1850_vpw", "j1850_pwm".
	Protocol string `yaml:"protocol"`
	// Bus is the CAN bus the vehicle sits on; not used by the non-CAN
	// protocols.
	Bus Bus `yaml:"bus"`
	// VIN is the 17-character vehicle identification number, answered to
	// Mode 09 infotype 02 (J1939: PGN 65260) by the ECU marked vin: true
	// (OBD-II default: the first).
	VIN string `yaml:"vin"`
}

// Bus is the CAN bus configuration of a profile.
type Bus struct {
	// IDBits is 11 (standard identifiers) or 29 (extended).
	IDBits int `yaml:"id_bits"`
	// Bitrate is 500000 or 250000 bit/s. The in-process and UDP buses do
	// not model bit timing; a SocketCAN interface is configured outside.
	Bitrate int `yaml:"bitrate"`
}

// ECUProfile is one simulated control unit.
type ECUProfile struct {
	// Address is the ECU's response identifier, written in hex with or
	// without 0x, quoted or not: "7E8", 0x7E9, 18DAF110. Its physical
	// request identifier follows (0x7E0 for 0x7E8, 0x18DA10F1 for
	// 0x18DAF110). On a non-CAN protocol it is the source address of the
	// ECU's frames, one byte: "10" for the engine, "18" for a
	// transmission.
	Address Address `yaml:"address"`
	// Name is the ECU name for Mode 09 infotype 0A, at most 20 characters
	// such as "ECM-EngineControl".
	Name string `yaml:"name"`
	// VIN marks the ECU that answers Mode 09 infotype 02. At most one ECU
	// may set it; when none does, the first ECU holds the VIN.
	VIN bool `yaml:"vin"`
	// Latency is how long the ECU takes to answer, e.g. "10ms".
	Latency Duration `yaml:"latency"`
	// BlockSize and STmin are sent in the ECU's flow-control frames.
	BlockSize uint8 `yaml:"block_size"`
	STmin     uint8 `yaml:"stmin"`
	// CALIDs are the calibration identifiers (Mode 09 infotype 04), at
	// most 16 characters each.
	CALIDs []string `yaml:"calids"`
	// CVNs are the calibration verification numbers (Mode 09 infotype
	// 06), 8 hex digits each, one per CALID.
	CVNs []string `yaml:"cvns"`
	// Ignition is "spark" or "compression"; it selects the monitor set
	// reported in Mode 01 PID 01.
	Ignition string `yaml:"ignition"`
	// MIL is the malfunction indicator lamp state.
	MIL bool `yaml:"mil"`
	// Readiness maps a monitor name (misfire, fuel_system, components,
	// catalyst, heated_catalyst, evap, secondary_air, o2_sensor, o2_heater,
	// egr_vvt, or the compression-ignition names) to "complete" or
	// "incomplete". A monitor that is absent is not supported.
	Readiness map[string]string `yaml:"readiness"`
	// DTCs are the ECU's trouble codes.
	DTCs DTCLists `yaml:"dtcs"`
	// FreezeFrame is freeze frame 0 (Mode 02), absent when none is stored.
	FreezeFrame *FreezeFrame `yaml:"freeze_frame"`
	// Live maps PID value names (as in the OBD PID table, e.g.
	// engine_speed, vehicle_speed, coolant_temperature, odometer) to values
	// in physical units. A Mode 01 PID is supported when the values it
	// carries are set; PID 01 and the supported-PID bitmaps are derived.
	Live map[string]float64 `yaml:"live"`
	// IUPR holds in-use monitor performance counters (Mode 09 infotype 08
	// for spark, 0B for compression ignition); absent when not supported.
	IUPR *IUPR `yaml:"iupr"`
	// MonitorTests are the ECU's on-board monitoring test results (Mode 06
	// on CAN); absent: the ECU has no Mode 06.
	MonitorTests []MonitorTest `yaml:"monitor_tests"`
	// Faults injects ISO-TP transport faults into this ECU's answers.
	Faults Faults `yaml:"faults"`
	// Quirks make the ECU behave like the difficult ones found in the
	// field.
	Quirks Quirks `yaml:"quirks"`
}

// MonitorTest is one on-board monitoring test result (Mode 06) as the ECU
// sends it: the monitor (MID), the test (TID) and the unit-and-scaling id
// in hex, the value and its limits raw (0-65535, scaled by the UAS id as in
// obd.ParseTestResults). Mode 04 resets value and limits to zero (not run
// since the codes were cleared).
type MonitorTest struct {
	MID   HexByte `yaml:"mid"`
	TID   HexByte `yaml:"tid"`
	UAS   HexByte `yaml:"uas"`
	Value uint16  `yaml:"value"`
	Min   uint16  `yaml:"min"`
	Max   uint16  `yaml:"max"`
}

// HexByte is a byte written in hex in a profile ("21", 0x21).
type HexByte byte

// UnmarshalYAML reads the scalar's text as a hex byte.
func (b *HexByte) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseHexAddress(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v > 0xFF {
		return fmt.Errorf("line %d: want a hex byte such as 21, got %q", n.Line, n.Value)
	}
	*b = HexByte(v)
	return nil
}

// How an ECU treats a Mode 01 or 02 request carrying several PIDs
// (Quirks.Batches).
const (
	// BatchesAll answers every supported PID, as ISO 15765-4 requires
	// (the default).
	BatchesAll = ""
	// BatchesRefuse answers a request with more than one PID with the
	// negative response 7F sid 13 (incorrect message length).
	BatchesRefuse = "refuse"
	// BatchesFirst answers only the first PID of a request.
	BatchesFirst = "first"
)

// Quirks are field behaviours of real ECUs that the scan must survive.
type Quirks struct {
	// Batches is BatchesAll, BatchesRefuse or BatchesFirst.
	Batches string `yaml:"batches"`
	// NoMode02 leaves Mode 02 (freeze frame) out: a physical request gets
	// 7F 02 11 (service not supported), a functional one silence.
	NoMode02 bool `yaml:"no_mode02"`
	// NoInfoTypeList refuses Mode 09 InfoType 00 (the list of supported
	// InfoTypes) with 7F 09 12, while every supported InfoType still
	// answers, as some ECUs do.
	NoInfoTypeList bool `yaml:"no_infotype_list"`
	// NoMode0A leaves Mode 0A (permanent DTCs, required only since about
	// 2010) out, like NoMode02.
	NoMode0A bool `yaml:"no_mode0a"`
}

// DTCLists are an ECU's trouble codes, each like "P0420".
type DTCLists struct {
	// Stored are confirmed DTCs (Mode 03).
	Stored []string `yaml:"stored"`
	// Pending are pending DTCs (Mode 07).
	Pending []string `yaml:"pending"`
	// Permanent are permanent DTCs (Mode 0A); Mode 04 does not erase them.
	Permanent []string `yaml:"permanent"`
}

// FreezeFrame is the data an ECU stored when a DTC was confirmed.
type FreezeFrame struct {
	// DTC is the code that caused the freeze frame (Mode 02 PID 02).
	DTC string `yaml:"dtc"`
	// Values are PID values by value name, as in ECUProfile.Live.
	Values map[string]float64 `yaml:"values"`
}

// Faults are the ISO-TP faults an ECU injects into multi-frame answers.
type Faults struct {
	// DropFrame drops one consecutive frame of each multi-frame answer.
	DropFrame bool `yaml:"drop_frame"`
	// LateCF delays consecutive frames by this long, e.g. "1500ms".
	LateCF Duration `yaml:"late_cf"`
	// FCWait sends this many flow-control WAIT frames before going on.
	FCWait int `yaml:"fc_wait"`
	// WrongSN sends a consecutive frame with a wrong sequence number.
	WrongSN bool `yaml:"wrong_sn"`
	// Garbage sends a frame that is not valid ISO-TP before the answer.
	Garbage bool `yaml:"garbage"`
}

// Address is a CAN identifier written in hex in YAML.
type Address uint32

// UnmarshalYAML reads the scalar's text as hex, whatever YAML would have
// made of it ("7E8" would otherwise be the float 7e8).
func (a *Address) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: address must be a hex scalar such as 7E8", n.Line)
	}
	v, err := parseHexAddress(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = Address(v)
	return nil
}

// MarshalYAML writes the address as a quoted hex string.
func (a Address) MarshalYAML() (any, error) { return obd.ECU(a).String(), nil }

func parseHexAddress(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil || t == "" {
		return 0, fmt.Errorf("%w: %q is not a hex CAN identifier", ErrBadAddress, s)
	}
	return uint32(v), nil
}

// Duration is a time.Duration written in YAML as a Go duration string
// ("10ms", "1.5s").
type Duration = yamlfile.Duration

// Load reads and validates the profile in the file at path.
func Load(path string) (*Profile, error) { return yamlfile.Load(path, Parse) }

// Parse decodes one YAML profile (one document) and validates it. Unknown fields,
// an empty input and a second document are errors (wrapping ErrSyntax);
// validation errors are described at Validate.
func Parse(r io.Reader) (*Profile, error) { return yamlfile.Parse[Profile](r, ErrSyntax) }

// IUPR are in-use monitor performance counters (Mode 09 infotype 08 or 0B).
type IUPR struct {
	// OBDCond counts the times the general OBD monitoring conditions were
	// met (OBDCOND).
	OBDCond int `yaml:"obdcond"`
	// IgnCntr counts ignition cycles (IGNCNTR).
	IgnCntr int `yaml:"igncntr"`
	// Monitors are numerator/denominator pairs in SAE J1979 order, named as
	// obd.ParseIUPR names them (catalyst_bank1, catalyst_bank2,
	// o2_sensor_bank1, ... for spark ignition); a prefix of the list is
	// allowed.
	Monitors []IUPRRatio `yaml:"monitors"`
}

// IUPRRatio is one monitor's in-use performance counters.
type IUPRRatio struct {
	Name        string `yaml:"name"`
	Numerator   int    `yaml:"numerator"`
	Denominator int    `yaml:"denominator"`
}

// encode returns what follows "49 08" or "49 0B".
func (u *IUPR) encode(ignition string) ([]byte, error) {
	x := obd.IUPR{Ignition: ignition, OBDCond: u.OBDCond, IgnCntr: u.IgnCntr}
	for _, m := range u.Monitors {
		x.Monitors = append(x.Monitors, obd.MonitorRatio{Name: m.Name, Numerator: m.Numerator, Denominator: m.Denominator})
	}
	return obd.EncodeIUPR(x)
}
