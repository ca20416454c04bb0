package obd

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bayagent/bayagent/drivers/internal/lang"
)

// Errors returned by the DTC functions. Callers compare with errors.Is; the
// returned errors wrap these with the offending detail.
var (
	// ErrDTCFormat means a code string is not of the form [PCBU][0-3][0-9A-F]{3}.
	ErrDTCFormat = errors.New("obd: malformed DTC")
	// ErrDTCResponse means a Mode 03/07/0A response could not be parsed: wrong
	// service id, odd length, or a DTC count that does not match the data.
	ErrDTCResponse = errors.New("obd: malformed DTC response")
)

// Descriptions DescribeDTCIn gives for codes missing from the generic table,
// in English and Chinese.
const (
	descManufacturer   = "manufacturer-specific code, no generic description"
	descUnknown        = "unknown code, no generic description"
	descManufacturerZH = "制造商自定义故障码，无通用描述"
	descUnknownZH      = "未知故障码，无通用描述"
)

// Response service ids of the DTC services (request SID + 0x40).
const (
	sidStoredDTCs    = 0x43 // Mode 03, confirmed (stored) DTCs
	sidPendingDTCs   = 0x47 // Mode 07, pending DTCs
	sidPermanentDTCs = 0x4A // Mode 0A, permanent DTCs
)

// DTC is one diagnostic trouble code as reported by an ECU. Description is
// in English, as records carry it; a screen that shows the code to a person
// asks for it in that person's language: DescribeDTCIn(d.Code, lang) for an
// OBD-II code, j1939.DescribeIn(d.J1939.SPN, d.J1939.FMI, lang) when J1939
// is set.
type DTC struct {
	Code        string `json:"code"`        // "P0420", or "SPN 3226 FMI 0" for SAE J1939
	Description string `json:"description"` // generic description, or a note that there is none
	// J1939 holds the parts of an SAE J1939 code (drivers/j1939); it is
	// zero, and left out of JSON, for OBD-II codes.
	J1939 J1939Code `json:"j1939,omitzero"`
}

// J1939Code is an SAE J1939 trouble code: suspect parameter number (19
// bits), failure mode identifier (5 bits), occurrence count (7 bits) and
// conversion method (1 bit; 0 is the J1939-73 version 4 layout).
type J1939Code struct {
	SPN              uint32 `json:"spn"`
	FMI              uint8  `json:"fmi"`
	Occurrences      uint8  `json:"occurrences"`
	ConversionMethod uint8  `json:"conversion_method,omitempty"`
}

// NewDTC returns the DTC for code with its Description filled in by DescribeDTC.
func NewDTC(code string) DTC {
	desc, _ := DescribeDTC(code)
	return DTC{Code: code, Description: desc}
}

const dtcLetters = "PCBU"

// DecodeDTC formats the two bytes of a DTC as its five-character code: the
// top two bits of hi select P, C, B or U, the next two bits are the first
// digit (0-3), and the remaining 12 bits are three upper-case hex digits.
// For example 0x04 0x20 is "P0420" and 0xC1 0x00 is "U0100".
func DecodeDTC(hi, lo byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{
		dtcLetters[hi>>6],
		'0' + (hi>>4)&0x3,
		hex[hi&0xF],
		hex[lo>>4],
		hex[lo&0xF],
	})
}

// EncodeDTC is the inverse of DecodeDTC. It returns an error wrapping
// ErrDTCFormat unless code is exactly [PCBU][0-3][0-9A-F]{3} (upper case).
func EncodeDTC(code string) ([2]byte, error) {
	var b [2]byte
	if len(code) != 5 {
		return b, fmt.Errorf("%w: %q: want 5 characters like P0420", ErrDTCFormat, code)
	}
	letter := strings.IndexByte(dtcLetters, code[0])
	if letter < 0 {
		return b, fmt.Errorf("%w: %q: first character must be P, C, B or U", ErrDTCFormat, code)
	}
	if code[1] < '0' || code[1] > '3' {
		return b, fmt.Errorf("%w: %q: second character must be 0-3", ErrDTCFormat, code)
	}
	var v uint16
	for i := 2; i < 5; i++ {
		d, ok := upperHexDigit(code[i])
		if !ok {
			return b, fmt.Errorf("%w: %q: characters 3-5 must be hex digits 0-9, A-F", ErrDTCFormat, code)
		}
		v = v<<4 | uint16(d)
	}
	b[0] = byte(letter)<<6 | (code[1]-'0')<<4 | byte(v>>8)
	b[1] = byte(v)
	return b, nil
}

func upperHexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DescribeDTC returns the English generic (SAE J2012 / ISO 15031-6)
// description of code and known=true when the embedded table has it; it is
// DescribeDTCIn(code, "en").
func DescribeDTC(code string) (desc string, known bool) {
	return DescribeDTCIn(code, lang.English)
}

// DescribeDTCIn returns the generic description of code in the language of
// tag: Chinese (zh-CN) for "zh", "zh-CN", "zh_CN", "zh-Hans" and other "zh"
// tags, English for every other tag, the empty one included. known is true
// when the embedded table has the code. Otherwise desc says why: codes in the
// ranges the standard leaves to manufacturers (P1xxx, P30xx-P33xx, C1xxx,
// C2xxx, B1xxx, B2xxx, U1xxx, U2xxx) are "manufacturer-specific code, no
// generic description" (制造商自定义故障码，无通用描述); every other code,
// including malformed ones, is "unknown code, no generic description"
// (未知故障码，无通用描述).
//
// The table holds every generic code the public J2012 lists name (see the
// header of dtc_generic.tsv for the sources), each in both languages.
func DescribeDTCIn(code, tag string) (desc string, known bool) {
	zh := lang.IsChinese(tag)
	if e, ok := dtcTable()[code]; ok {
		if zh {
			return e.zh, true
		}
		return e.en, true
	}
	switch {
	case isManufacturerDTC(code) && zh:
		return descManufacturerZH, false
	case isManufacturerDTC(code):
		return descManufacturer, false
	case zh:
		return descUnknownZH, false
	}
	return descUnknown, false
}

// isManufacturerDTC reports whether a well-formed code lies in a range that
// SAE J2012 assigns to vehicle manufacturers.
func isManufacturerDTC(code string) bool {
	if _, err := EncodeDTC(code); err != nil {
		return false
	}
	switch code[0] {
	case 'P':
		return code[1] == '1' || (code[1] == '3' && code[2] <= '3')
	default: // C, B, U
		return code[1] == '1' || code[1] == '2'
	}
}

//go:embed dtc_generic.tsv
var dtcGenericTSV string

// dtcEntry is one code's description in each table language. Both strings
// point into dtcGenericTSV: building the table copies no text.
type dtcEntry struct{ en, zh string }

// dtcTable is the parsed generic description table, built on first use.
var dtcTable = sync.OnceValue(func() map[string]dtcEntry {
	m, err := parseDTCTable(dtcGenericTSV)
	if err != nil {
		// The file is embedded and checked by TestDTCTableFile; a bad one is
		// a build defect, not an input error.
		panic(err)
	}
	return m
})

// parseDTCTable parses "code<TAB>English<TAB>Chinese" lines. Empty lines and
// lines starting with # are skipped. Codes must be well formed, unique and
// sorted; both descriptions must be present and without outer spaces (a
// line ending in \r, a CRLF file, is refused by that rule).
func parseDTCTable(s string) (map[string]dtcEntry, error) {
	m := make(map[string]dtcEntry, 4096)
	prev, line := "", 0
	for rest := s; rest != ""; {
		var text string
		text, rest, _ = strings.Cut(rest, "\n")
		line++
		if text == "" || text[0] == '#' {
			continue
		}
		code, descs, ok1 := strings.Cut(text, "\t")
		en, zh, ok2 := strings.Cut(descs, "\t")
		if !ok1 || !ok2 || strings.Contains(zh, "\t") || !cleanDesc(en) || !cleanDesc(zh) {
			return nil, fmt.Errorf("dtc table line %d: want code<TAB>English<TAB>Chinese: %q", line, text)
		}
		if _, err := EncodeDTC(code); err != nil {
			return nil, fmt.Errorf("dtc table line %d: %w", line, err)
		}
		if _, dup := m[code]; dup {
			return nil, fmt.Errorf("dtc table line %d: duplicate code %s", line, code)
		}
		if dtcLess(code, prev) {
			return nil, fmt.Errorf("dtc table line %d: %s sorts before %s", line, code, prev)
		}
		m[code] = dtcEntry{en: en, zh: zh}
		prev = code
	}
	return m, nil
}

func cleanDesc(d string) bool { return d != "" && strings.TrimSpace(d) == d }

// dtcLess orders codes by letter in the order P, C, B, U (the order of their
// two-bit encoding), then by the remaining characters.
func dtcLess(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	la, lb := strings.IndexByte(dtcLetters, a[0]), strings.IndexByte(dtcLetters, b[0])
	if la != lb {
		return la < lb
	}
	return a[1:] < b[1:]
}

// ParseDTCs parses a positive response to Mode 03 (stored), 07 (pending) or
// 0A (permanent DTCs) and returns the codes in the order the ECU sent them.
//
// On CAN (ISO 15765-4) the response is the service id 0x43, 0x47 or 0x4A, a
// count byte, then count pairs of bytes: "43 02 04 20 01 71" is P0420 and
// P0171. ParseDTCs also takes the non-CAN form (ISO 9141-2, ISO 14230-4), in
// which every message carries exactly three pairs right after the service id,
// padded with 0x0000: it is recognised by its length (a non-zero multiple of
// six bytes after the service id, which no CAN response can have), and its
// 0x0000 padding pairs are dropped. Several non-CAN messages may be passed
// as one response by keeping only the first service id.
//
// An error wrapping ErrDTCResponse is returned for an empty response, a wrong
// service id, an odd number of DTC bytes, and a count byte that does not
// match the data. A negative response (7F service code) gives an error that
// wraps both ErrDTCResponse and a NegativeResponseError. A response with no
// codes gives an empty, non-nil slice.
func ParseDTCs(resp []byte) ([]DTC, error) {
	if len(resp) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrDTCResponse)
	}
	switch sid := resp[0]; sid {
	case sidStoredDTCs, sidPendingDTCs, sidPermanentDTCs:
	case 0x7F:
		if len(resp) >= 3 {
			// Older vehicles answer Mode 0A with 7F 0A 11 (service not
			// supported): let callers tell that apart with errors.As.
			return nil, fmt.Errorf("%w: %w", ErrDTCResponse, NegativeResponseError{Service: resp[1], Code: resp[2]})
		}
		return nil, fmt.Errorf("%w: negative response % X", ErrDTCResponse, resp)
	default:
		return nil, fmt.Errorf("%w: service id 0x%02X, want 0x43, 0x47 or 0x4A", ErrDTCResponse, sid)
	}
	body := resp[1:]
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: no DTC count after service id 0x%02X", ErrDTCResponse, resp[0])
	}
	if len(body)%6 == 0 {
		// Non-CAN form: three pairs per message, 0x0000 is padding.
		out := make([]DTC, 0, len(body)/2)
		for i := 0; i < len(body); i += 2 {
			if body[i] == 0 && body[i+1] == 0 {
				continue
			}
			out = append(out, NewDTC(DecodeDTC(body[i], body[i+1])))
		}
		return out, nil
	}
	count, data := int(body[0]), body[1:]
	if len(data)%2 != 0 {
		return nil, fmt.Errorf("%w: odd number of DTC bytes (%d)", ErrDTCResponse, len(data))
	}
	if len(data) != 2*count {
		return nil, fmt.Errorf("%w: count byte says %d DTCs, data holds %d", ErrDTCResponse, count, len(data)/2)
	}
	out := make([]DTC, 0, count)
	for i := 0; i < len(data); i += 2 {
		out = append(out, NewDTC(DecodeDTC(data[i], data[i+1])))
	}
	return out, nil
}

// EncodeDTCResponse builds the CAN form of a positive response to service
// 0x03, 0x07 or 0x0A (0x40+service, count, then the pairs), as a simulated
// vehicle sends it. It returns an error wrapping ErrDTCResponse for another
// service or more than 255 codes, and one wrapping ErrDTCFormat for a
// malformed code.
func EncodeDTCResponse(service byte, codes []string) ([]byte, error) {
	switch service {
	case sidStoredDTCs - 0x40, sidPendingDTCs - 0x40, sidPermanentDTCs - 0x40:
	default:
		return nil, fmt.Errorf("%w: service 0x%02X is not 0x03, 0x07 or 0x0A", ErrDTCResponse, service)
	}
	if len(codes) > 0xFF {
		return nil, fmt.Errorf("%w: %d codes do not fit the count byte", ErrDTCResponse, len(codes))
	}
	out := make([]byte, 2, 2+2*len(codes))
	out[0], out[1] = 0x40+service, byte(len(codes))
	for _, c := range codes {
		b, err := EncodeDTC(c)
		if err != nil {
			return nil, err
		}
		out = append(out, b[0], b[1])
	}
	return out, nil
}
