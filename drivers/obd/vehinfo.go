package obd

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// Mode 09 InfoTypes.
const (
	InfoSupported      PID = 0x00 // supported InfoTypes 01-20
	InfoVIN            PID = 0x02
	InfoCALID          PID = 0x04
	InfoCVN            PID = 0x06
	InfoIUPRSpark      PID = 0x08
	InfoECUName        PID = 0x0A
	InfoIUPRCompressed PID = 0x0B
)

// The Parse functions below take a whole Mode 09 positive response in
// either of its two forms (negative responses give a
// NegativeResponseError):
//
//   - CAN (ISO 15765-4): "49 InfoType NODI data...", the number of data
//     items, then the items;
//   - legacy (SAE J1850, ISO 9141-2, ISO 14230-4): the ECU sends one
//     message per 4 data bytes, each "49 InfoType SEQ d1 d2 d3 d4" with a
//     message sequence number from 1 (and the InfoType before it, 01, 03,
//     05, ..., gives the message count). Joined in sequence order without
//     the repeated header and sequence bytes (as drivers/elm327 joins
//     them), the response is "49 InfoType data...", no item count: a VIN
//     is 20 bytes (three 00 bytes of padding, then the 17 characters), a
//     CALID 16 bytes each, a CVN 4 each, the ECU name 20, IUPR 2 per
//     counter. A legacy answer of one message is left with its sequence
//     byte, "49 InfoType 01 d1 d2 d3 d4", which is the CAN form of one
//     4-byte item (a single CVN, the supported-InfoTypes bitmap).
//
// The two forms are told apart by their length. The Encode functions return
// what follows "49 InfoType" in the CAN form: the number of data items
// (NODI) and the data, which is how a simulated ECU appends them to its
// response header; LegacyInfoFrames splits that into legacy messages.

// infoData checks the response header and returns the bytes after
// "49 InfoType".
func infoData(resp []byte, infoType PID) ([]byte, error) {
	if err := CheckResponse(svcVehicleInfo, resp); err != nil {
		return nil, err
	}
	if len(resp) < 2 {
		return nil, fmt.Errorf("%w: Mode 09 response without InfoType", ErrShortData)
	}
	if PID(resp[1]) != infoType {
		return nil, fmt.Errorf("%w: InfoType %s, want %s", ErrUnexpectedResponse, PID(resp[1]), infoType)
	}
	return resp[2:], nil
}

// infoItems checks the response header like infoData and splits what
// follows "49 InfoType", "NODI data" (CAN) or the joined legacy data (a
// whole number of items, no count), into items of size bytes. The CAN form
// has one byte more than a multiple of size (for size > 1); legacy text
// items (CALIDs) also start with a printable character, where the CAN form
// has its small count.
func infoItems(resp []byte, infoType PID, size int, what string) ([][]byte, error) {
	rest, err := infoData(resp, infoType)
	if err != nil {
		return nil, err
	}
	if len(rest) < 1 {
		return nil, fmt.Errorf("%w: %s without item count", ErrShortData, what)
	}
	if size > 1 && len(rest)%size == 0 && (size != 16 || rest[0] >= 0x20) {
		if len(rest)/size > 255 {
			return nil, fmt.Errorf("%w: %s: %d items, at most 255", ErrLength, what, len(rest)/size)
		}
		out := make([][]byte, len(rest)/size)
		for i := range out {
			out[i] = rest[i*size : (i+1)*size]
		}
		return out, nil
	}
	n, data := int(rest[0]), rest[1:]
	if len(data) < n*size {
		return nil, fmt.Errorf("%w: %s: %d items need %d bytes, got %d", ErrShortData, what, n, n*size, len(data))
	}
	if len(data) > n*size {
		return nil, fmt.Errorf("%w: %s: %d items need %d bytes, got %d", ErrLength, what, n, n*size, len(data))
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = data[i*size : (i+1)*size]
	}
	return out, nil
}

// ParseSupportedInfoTypes parses the answer to Mode 09 InfoType 00
// ("49 00 AA BB CC DD", also accepted with an item count "49 00 01 AA BB CC
// DD") into the set of supported InfoTypes 01-20.
func ParseSupportedInfoTypes(resp []byte) (PIDSet, error) {
	rest, err := infoData(resp, InfoSupported)
	if err != nil {
		return PIDSet{}, err
	}
	if len(rest) == 5 && rest[0] == 1 {
		rest = rest[1:]
	}
	return DecodeSupported(0x00, rest)
}

// EncodeSupportedInfoTypes returns the 4-byte bitmap of supported
// InfoTypes 01-20 (CAN format: no item count).
func EncodeSupportedInfoTypes(types []PID) []byte { return EncodeSupported(0x00, types) }

// ParseVIN parses "49 02 01" followed by the 17 VIN characters (CAN), or
// the 20 bytes of the legacy form (three 00 bytes of padding, then the
// VIN). Leading and trailing 0x00 padding is removed. It checks length and
// alphabet (ErrVINLength, ErrVINCharacter) but not the check digit: see
// ValidateVIN.
func ParseVIN(resp []byte) (string, error) {
	rest, err := infoData(resp, InfoVIN)
	if err != nil {
		return "", err
	}
	if len(rest) < 1 {
		return "", fmt.Errorf("%w: VIN without item count", ErrShortData)
	}
	switch {
	case len(rest) == 20 && rest[0] == 0: // legacy: five messages of 4 bytes
	case rest[0] != 1:
		return "", fmt.Errorf("%w: VIN item count %d, want 1", ErrUnexpectedResponse, rest[0])
	default:
		rest = rest[1:]
	}
	vin := string(bytes.Trim(rest, "\x00"))
	if err := checkVINSyntax(vin); err != nil {
		return "", err
	}
	return vin, nil
}

// EncodeVIN returns "01" followed by the VIN (checked for length and
// alphabet, not for its check digit, so that European VINs can be
// simulated).
func EncodeVIN(vin string) ([]byte, error) {
	if err := checkVINSyntax(vin); err != nil {
		return nil, err
	}
	return append([]byte{1}, vin...), nil
}

// text converts a 0x00-padded ASCII field, rejecting non-printable bytes.
func text(b []byte, what string) (string, error) {
	b = bytes.TrimRight(b, "\x00")
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			return "", fmt.Errorf("%w: %s byte %d is 0x%02X", ErrBadText, what, i, c)
		}
	}
	return string(b), nil
}

// putText copies s into a 0x00-padded field of n bytes.
func putText(dst []byte, s, what string) error {
	if len(s) > len(dst) {
		return fmt.Errorf("%w: %s %q longer than %d characters", ErrBadText, what, s, len(dst))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return fmt.Errorf("%w: %s %q has byte 0x%02X", ErrBadText, what, s, s[i])
		}
	}
	copy(dst, s)
	return nil
}

// ParseCALIDs parses "49 04 NN" followed by NN calibration IDs of 16 bytes
// each (or the legacy form, 16 bytes per CALID without a count); trailing
// 0x00 padding is trimmed.
func ParseCALIDs(resp []byte) ([]string, error) {
	its, err := infoItems(resp, InfoCALID, 16, "CALID")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(its))
	for i, it := range its {
		if out[i], err = text(it, fmt.Sprintf("CALID %d", i+1)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EncodeCALIDs returns NN followed by each CALID padded with 0x00 to 16
// bytes. CALIDs are printable ASCII of at most 16 characters.
func EncodeCALIDs(ids []string) ([]byte, error) {
	if len(ids) > 255 {
		return nil, fmt.Errorf("%w: %d CALIDs, at most 255", ErrLength, len(ids))
	}
	out := make([]byte, 1+16*len(ids))
	out[0] = byte(len(ids))
	for i, id := range ids {
		if err := putText(out[1+16*i:1+16*(i+1)], id, "CALID"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseCVNs parses "49 06 NN" followed by NN calibration verification
// numbers of 4 bytes each (or the legacy form, 4 bytes per CVN without a
// count), formatted as 8 upper-case hex digits.
func ParseCVNs(resp []byte) ([]string, error) {
	its, err := infoItems(resp, InfoCVN, 4, "CVN")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(its))
	for i, it := range its {
		out[i] = strings.ToUpper(hex.EncodeToString(it))
	}
	return out, nil
}

// EncodeCVNs returns NN followed by each CVN (8 hex digits, any case) as 4
// bytes.
func EncodeCVNs(cvns []string) ([]byte, error) {
	if len(cvns) > 255 {
		return nil, fmt.Errorf("%w: %d CVNs, at most 255", ErrLength, len(cvns))
	}
	out := make([]byte, 1, 1+4*len(cvns))
	out[0] = byte(len(cvns))
	for _, c := range cvns {
		b, err := hex.DecodeString(c)
		if err != nil || len(b) != 4 {
			return nil, fmt.Errorf("%w: %q, want 8 hex digits", ErrBadCVN, c)
		}
		out = append(out, b...)
	}
	return out, nil
}

// ECUName is the Mode 09 InfoType 0A answer: an acronym of up to 4
// characters (e.g. "ECM") and a name of up to 15 (e.g. "EngineControl").
type ECUName struct {
	Acronym string `json:"acronym"`
	Name    string `json:"name"`
}

// String formats the name the way J1979 shows it: "ECM-EngineControl".
func (n ECUName) String() string {
	if n.Name == "" {
		return n.Acronym
	}
	return n.Acronym + "-" + n.Name
}

// ParseECUName parses "49 0A 01" followed by 20 bytes (or the 20 bytes
// alone, the legacy form): the acronym padded with 0x00 to 4 bytes, a
// delimiter ('-' or 0x00), and the name padded with 0x00 to 15 bytes. ECUs that do not pad the acronym ("ECM-EngineControl")
// are accepted too: the acronym then ends at the first '-' or 0x00.
func ParseECUName(resp []byte) (ECUName, error) {
	its, err := infoItems(resp, InfoECUName, 20, "ECU name")
	if err != nil {
		return ECUName{}, err
	}
	if len(its) != 1 {
		return ECUName{}, fmt.Errorf("%w: ECU name item count %d, want 1", ErrUnexpectedResponse, len(its))
	}
	b := its[0]
	split := 4
	if b[4] != '-' && b[4] != 0 {
		split = bytes.IndexAny(b, "-\x00")
		if split < 0 {
			split = len(b)
		}
	}
	acr, err := text(b[:split], "ECU acronym")
	if err != nil {
		return ECUName{}, err
	}
	var name string
	if split < len(b) {
		if name, err = text(bytes.TrimLeft(b[split+1:], "\x00"), "ECU name"); err != nil {
			return ECUName{}, err
		}
	}
	return ECUName{Acronym: acr, Name: name}, nil
}

// EncodeECUName returns "01" followed by the 20-byte ECU name field for a
// name written "ACR-Name" (acronym 1-4 characters, name at most 15).
func EncodeECUName(name string) ([]byte, error) {
	acr, rest, ok := strings.Cut(name, "-")
	if !ok || acr == "" {
		return nil, fmt.Errorf("%w: ECU name %q, want ACRONYM-Name", ErrBadText, name)
	}
	out := make([]byte, 21)
	out[0] = 1
	if err := putText(out[1:5], acr, "ECU acronym"); err != nil {
		return nil, err
	}
	out[5] = '-'
	if err := putText(out[6:21], rest, "ECU name"); err != nil {
		return nil, err
	}
	return out, nil
}

// IUPR holds the in-use monitor performance counters of Mode 09 InfoType
// 08 (spark ignition) or 0B (compression ignition).
type IUPR struct {
	Ignition string         `json:"ignition"` // IgnitionSpark (08) or IgnitionCompression (0B)
	OBDCond  int            `json:"obdcond"`  // times the general OBD monitoring conditions were met
	IgnCntr  int            `json:"igncntr"`  // ignition cycle counter
	Monitors []MonitorRatio `json:"monitors"` // in the order of the response
}

// MonitorRatio is one monitor's numerator (times it completed) and
// denominator (times its conditions were met). Ratio is
// Numerator/Denominator, or 0 when the denominator is 0.
type MonitorRatio struct {
	Name        string  `json:"name"`
	Label       string  `json:"label"`
	Numerator   int     `json:"numerator"`
	Denominator int     `json:"denominator"`
	Ratio       float64 `json:"ratio"`
}

type ratioName struct{ name, label string }

// The counter pairs after OBDCOND and IGNCNTR, in J1979 order.
var (
	sparkRatios = []ratioName{
		{"catalyst_bank1", "Catalyst bank 1"},
		{"catalyst_bank2", "Catalyst bank 2"},
		{"o2_sensor_bank1", "O2 sensor bank 1"},
		{"o2_sensor_bank2", "O2 sensor bank 2"},
		{"egr_vvt", "EGR and/or VVT"},
		{"secondary_air", "Secondary air"},
		{"evap", "EVAP"},
		{"secondary_o2_sensor_bank1", "Secondary O2 sensor bank 1"},
		{"secondary_o2_sensor_bank2", "Secondary O2 sensor bank 2"},
		{"afri_bank1", "Air-fuel ratio imbalance bank 1"},
		{"afri_bank2", "Air-fuel ratio imbalance bank 2"},
		{"pm_filter_bank1", "Particulate filter bank 1"},
		{"pm_filter_bank2", "Particulate filter bank 2"},
	}
	compressionRatios = []ratioName{
		{"nmhc_catalyst", "NMHC catalyst"},
		{"nox_catalyst", "NOx/SCR catalyst"},
		{"nox_adsorber", "NOx adsorber"},
		{"pm_filter", "PM filter"},
		{"exhaust_gas_sensor", "Exhaust gas sensor"},
		{"egr_vvt", "EGR and/or VVT"},
		{"boost_pressure", "Boost pressure"},
		{"fuel_system", "Fuel system"},
	}
)

func ratioNames(ignition string) ([]ratioName, PID, bool) {
	switch ignition {
	case IgnitionSpark:
		return sparkRatios, InfoIUPRSpark, true
	case IgnitionCompression:
		return compressionRatios, InfoIUPRCompressed, true
	}
	return nil, 0, false
}

// ratioAt names the i-th counter pair; pairs beyond the known list (newer
// J1979 revisions) are called "monitor_<n>".
func ratioAt(names []ratioName, i int) ratioName {
	if i < len(names) {
		return names[i]
	}
	return ratioName{fmt.Sprintf("monitor_%d", i+1), fmt.Sprintf("Monitor %d", i+1)}
}

// ParseIUPR parses "49 08 NN" (spark) or "49 0B NN" (compression) followed
// by NN 16-bit counters: OBDCOND, IGNCNTR, then numerator/denominator pairs
// (or the legacy form: the counters without a count, an even number of
// bytes).
func ParseIUPR(resp []byte) (IUPR, error) {
	if len(resp) >= 2 && resp[0] == 0x40+svcVehicleInfo && PID(resp[1]) == InfoIUPRCompressed {
		return parseIUPR(resp, IgnitionCompression)
	}
	return parseIUPR(resp, IgnitionSpark)
}

func parseIUPR(resp []byte, ignition string) (IUPR, error) {
	names, it, _ := ratioNames(ignition)
	its, err := infoItems(resp, it, 2, "IUPR")
	if err != nil {
		return IUPR{}, err
	}
	if len(its) > 255 {
		return IUPR{}, fmt.Errorf("%w: %d IUPR counters, at most 255", ErrLength, len(its))
	}
	if len(its) < 2 || len(its)%2 != 0 {
		return IUPR{}, fmt.Errorf("%w: %d IUPR counters, want an even number of at least 2", ErrLength, len(its))
	}
	c := func(i int) int { return int(its[i][0])<<8 | int(its[i][1]) }
	out := IUPR{Ignition: ignition, OBDCond: c(0), IgnCntr: c(1)}
	for i := 2; i < len(its); i += 2 {
		n := ratioAt(names, i/2-1)
		r := MonitorRatio{Name: n.name, Label: n.label, Numerator: c(i), Denominator: c(i + 1)}
		if r.Denominator > 0 {
			r.Ratio = float64(r.Numerator) / float64(r.Denominator)
		}
		out.Monitors = append(out.Monitors, r)
	}
	return out, nil
}

// EncodeIUPR returns NN followed by the counters of u (whose InfoType is
// 08 for spark and 0B for compression ignition). The monitors must come in
// J1979 order with their names as ParseIUPR gives them (a prefix of the list
// is allowed); counters must fit 16 bits. Ratio is ignored.
func EncodeIUPR(u IUPR) ([]byte, error) {
	names, _, ok := ratioNames(u.Ignition)
	if !ok {
		return nil, fmt.Errorf("%w: IUPR ignition type %q", ErrMonitorStatus, u.Ignition)
	}
	n := 2 + 2*len(u.Monitors)
	if n > 255 {
		return nil, fmt.Errorf("%w: %d IUPR counters, at most 255", ErrLength, n)
	}
	out := make([]byte, 1, 1+2*n)
	out[0] = byte(n)
	put := func(what string, v int) error {
		if v < 0 || v > 0xFFFF {
			return fmt.Errorf("%w: IUPR %s = %d, want 0..65535", ErrValueRange, what, v)
		}
		out = append(out, byte(v>>8), byte(v))
		return nil
	}
	if err := put("obdcond", u.OBDCond); err != nil {
		return nil, err
	}
	if err := put("igncntr", u.IgnCntr); err != nil {
		return nil, err
	}
	for i, m := range u.Monitors {
		if want := ratioAt(names, i).name; m.Name != want {
			return nil, fmt.Errorf("%w: IUPR monitor %d is %q, want %q", ErrMonitorStatus, i+1, m.Name, want)
		}
		if err := put(m.Name+" numerator", m.Numerator); err != nil {
			return nil, err
		}
		if err := put(m.Name+" denominator", m.Denominator); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LegacyInfoFrames splits the CAN-form data of a Mode 09 InfoType (what the
// Encode functions return: NODI and the items) into the messages a non-CAN
// ECU sends, "49 InfoType SEQ d1 d2 d3 d4", SEQ from 1. The VIN is padded
// in front with 00 to 20 bytes, everything else at the end to a multiple of
// 4. InfoType 00 (the supported bitmap) is one message with SEQ 1.
func LegacyInfoFrames(infoType PID, canData []byte) [][]byte {
	if len(canData) == 0 {
		return nil
	}
	data := canData[1:] // without NODI
	if infoType == InfoVIN {
		data = append(make([]byte, max(0, 20-len(data))), data...)
	}
	if infoType == InfoSupported {
		data = canData
		if len(data) == 5 {
			data = data[1:]
		}
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	var out [][]byte
	for i := 0; i < len(data); i += 4 {
		out = append(out, append([]byte{0x40 + svcVehicleInfo, byte(infoType), byte(i/4 + 1)}, data[i:i+4]...))
	}
	return out
}
