package obd

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/bayagent/bayagent/drivers/internal/lang"
)

// MID is a Mode 06 on-board monitor identifier (OBDMID): which monitor a test
// result belongs to, e.g. 0x21 for the catalyst monitor of bank 1. MIDs 00,
// 20, ... E0 are the supported-MID bitmaps, as for Mode 01 PIDs.
type MID = PID

// TestResult is one on-board monitoring test result (Mode 06 on CAN, SAE
// J1979): the test's value and limits in the unit of its unit-and-scaling
// id, and whether the value lies within the limits.
type TestResult struct {
	MID MID  `json:"mid"`
	TID byte `json:"tid"` // test id: 01-7F standardised, 80-FE manufacturer's
	// UASID is the unit-and-scaling id (SAE J1979 Appendix E) that Value,
	// Min and Max were scaled by.
	UASID byte    `json:"uas_id"`
	Value float64 `json:"value"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	// Unit of Value, Min and Max, e.g. "V", "ms", "ratio"; "" for a count.
	Unit string `json:"unit,omitempty"`
	// Pass is true when Min <= Value <= Max: a test outside its limits has
	// failed (and will set a DTC when it fails again).
	Pass bool `json:"pass"`
	// NotRun marks a test that has not completed since the codes were
	// cleared: SAE J1979 has the ECU report value and limits as zero. Such
	// a test neither passes nor fails.
	NotRun bool `json:"not_run,omitempty"`
	// Margin is how far Value lies from the nearest limit that binds it,
	// as a fraction of the range Min..Max: 0 at a limit, negative outside,
	// 1 when no limit binds. A limit at the end of the raw range (0 or
	// 65535 unsigned, -32768 or 32767 signed) binds nothing: a misfire
	// count of 0 against a minimum of 0 is not close to failing.
	Margin float64 `json:"margin"`
}

// NearLimit is the margin below which a passed test counts as close to
// failing: within a tenth of its range from a limit.
const NearLimit = 0.1

// uas is one unit-and-scaling id: value = raw (signed or not) * scale + offset.
type uas struct {
	signed bool
	scale  float64
	offset float64
	unit   string
}

// uasTable is the SAE J1979 unit-and-scaling table (Appendix E) for the ids
// monitors use; an id missing here decodes as a plain unsigned count.
var uasTable = map[byte]uas{
	0x01: {false, 1, 0, ""}, 0x02: {false, 0.1, 0, ""}, 0x03: {false, 0.01, 0, ""}, 0x04: {false, 0.001, 0, ""},
	0x05: {false, 0.0000305, 0, ""}, 0x06: {false, 0.000305, 0, ""},
	0x07: {false, 0.25, 0, "rpm"}, 0x08: {false, 0.01, 0, "km/h"}, 0x09: {false, 1, 0, "km/h"},
	0x0A: {false, 0.122, 0, "mV"}, 0x0B: {false, 0.001, 0, "V"}, 0x0C: {false, 0.01, 0, "V"},
	0x0D: {false, 0.00390625, 0, "mA"}, 0x0E: {false, 0.001, 0, "A"}, 0x0F: {false, 0.01, 0, "A"},
	0x10: {false, 1, 0, "ms"}, 0x11: {false, 100, 0, "ms"}, 0x12: {false, 1, 0, "s"},
	0x13: {false, 1, 0, "mΩ"}, 0x14: {false, 1, 0, "Ω"}, 0x15: {false, 1, 0, "kΩ"},
	0x16: {false, 0.1, -40, "°C"}, 0x17: {false, 0.01, 0, "kPa"}, 0x18: {false, 0.0117, 0, "kPa"},
	0x19: {false, 0.079, 0, "kPa"}, 0x1A: {false, 1, 0, "kPa"}, 0x1B: {false, 10, 0, "kPa"},
	0x1C: {false, 0.01, 0, "°"}, 0x1D: {false, 0.5, 0, "°"},
	0x1E: {false, 0.0000305, 0, "ratio"}, 0x1F: {false, 0.05, 0, "ratio"}, 0x20: {false, 0.00390625, 0, "ratio"},
	0x21: {false, 1, 0, "mHz"}, 0x22: {false, 1, 0, "Hz"}, 0x23: {false, 1, 0, "kHz"},
	0x24: {false, 1, 0, "counts"}, 0x25: {false, 1, 0, "km"}, 0x26: {false, 0.1, 0, "mV/ms"},
	0x27: {false, 0.01, 0, "g/s"}, 0x28: {false, 1, 0, "g/s"}, 0x29: {false, 0.25, 0, "Pa/s"},
	0x2A: {false, 0.001, 0, "kg/h"}, 0x2B: {false, 1, 0, "switches"}, 0x2C: {false, 0.01, 0, "g/cyl"},
	0x2D: {false, 0.01, 0, "mg/stroke"}, 0x2F: {false, 0.01, 0, "%"}, 0x30: {false, 0.001526, 0, "%"},
	0x31: {false, 0.001, 0, "L"}, 0x32: {false, 0.0000305, 0, "in"}, 0x33: {false, 0.00024414, 0, "ratio"},
	0x34: {false, 1, 0, "min"}, 0x35: {false, 10, 0, "ms"}, 0x36: {false, 0.01, 0, "g"},
	0x37: {false, 0.1, 0, "g"}, 0x38: {false, 1, 0, "g"}, 0x39: {false, 0.01, -327.68, "%"},
	0x3A: {false, 0.001, 0, "g"}, 0x3B: {false, 0.0001, 0, "g"}, 0x3C: {false, 0.1, 0, "µs"},
	0x3D: {false, 0.01, 0, "mA"}, 0x3E: {false, 0.00006103516, 0, "mm²"}, 0x3F: {false, 0.01, 0, "L"},
	0x40: {false, 1, 0, "ppm"}, 0x41: {false, 0.01, 0, "µA"},
	0x81: {true, 1, 0, ""}, 0x82: {true, 0.1, 0, ""}, 0x83: {true, 0.01, 0, ""}, 0x84: {true, 0.001, 0, ""},
	0x85: {true, 0.0000305, 0, ""}, 0x86: {true, 0.000305, 0, ""}, 0x87: {true, 1, 0, "ppm"},
	0x8A: {true, 0.122, 0, "mV"}, 0x8B: {true, 0.001, 0, "V"}, 0x8C: {true, 0.01, 0, "V"},
	0x8D: {true, 0.00390625, 0, "mA"}, 0x8E: {true, 0.001, 0, "A"}, 0x90: {true, 1, 0, "ms"},
	0x96: {true, 0.1, 0, "°C"}, 0x99: {true, 0.1, 0, "kPa"}, 0x9C: {true, 0.01, 0, "°"}, 0x9D: {true, 0.5, 0, "°"},
	0xA8: {true, 1, 0, "g/s"}, 0xA9: {true, 0.25, 0, "Pa/s"}, 0xAD: {true, 0.01, 0, "mg/stroke"},
	0xAE: {true, 0.1, 0, "mg/stroke"}, 0xAF: {true, 0.01, 0, "%"}, 0xB0: {true, 0.003052, 0, "%"},
	0xB1: {true, 2, 0, "mV/s"}, 0xFC: {true, 0.01, 0, "kPa"}, 0xFD: {true, 0.001, 0, "kPa"}, 0xFE: {true, 0.25, 0, "Pa"},
}

// testLen is the length of one test result in a Mode 06 answer: MID, TID,
// unit-and-scaling id, then value, minimum and maximum of 2 bytes each.
const testLen = 9

// ParseTestResults decodes a positive Mode 06 answer for one monitor (46 MID
// TID UASID VV VV MM MM XX XX, the MID repeated before each further test):
// one TestResult per test, in order. Bytes after the last whole test (the
// padding of an ISO-TP frame) are ignored. A supported-MID bitmap answer
// (46 00 ...) is not a test result: use DecodeSupported.
func ParseTestResults(resp []byte) ([]TestResult, error) {
	if err := CheckResponse(0x06, resp); err != nil {
		return nil, err
	}
	if len(resp) < 1+testLen {
		return nil, fmt.Errorf("%w: Mode 06 answer of %d bytes holds no test (want 1 + %d per test)", ErrShortData, len(resp), testLen)
	}
	mid := MID(resp[1])
	if mid%0x20 == 0 {
		return nil, fmt.Errorf("%w: MID %s is a supported-MID bitmap, not a test", ErrUnexpectedResponse, mid)
	}
	var out []TestResult
	for rest := resp[1:]; len(rest) >= testLen; rest = rest[testLen:] {
		if MID(rest[0]) != mid {
			if allZero(rest) {
				break // padding
			}
			return out, fmt.Errorf("%w: Mode 06 answer for MID %s holds a test for MID %s", ErrUnexpectedResponse, mid, MID(rest[0]))
		}
		out = append(out, decodeTest(mid, rest[1], rest[2],
			binary.BigEndian.Uint16(rest[3:]), binary.BigEndian.Uint16(rest[5:]), binary.BigEndian.Uint16(rest[7:])))
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decodeTest scales one test's raw value and limits and judges it.
func decodeTest(mid MID, tid, id byte, v, lo, hi uint16) TestResult {
	u, ok := uasTable[id]
	if !ok {
		u = uas{scale: 1}
	}
	raw := func(x uint16) float64 {
		if u.signed {
			return float64(int16(x))
		}
		return float64(x)
	}
	scale := func(x uint16) float64 { return round6(raw(x)*u.scale + u.offset) }
	t := TestResult{MID: mid, TID: tid, UASID: id, Value: scale(v), Min: scale(lo), Max: scale(hi), Unit: u.unit}
	if v == 0 && lo == 0 && hi == 0 {
		t.NotRun = true
		return t
	}
	rv, rlo, rhi := raw(v), raw(lo), raw(hi)
	t.Pass = rlo <= rv && rv <= rhi
	bottom, top := 0.0, float64(math.MaxUint16)
	if u.signed {
		bottom, top = math.MinInt16, math.MaxInt16
	}
	t.Margin = 1
	if r := rhi - rlo; r <= 0 {
		t.Margin = 0 // one value passes: none is far from failing
		if !t.Pass {
			t.Margin = -1
		}
	} else {
		if rlo > bottom {
			t.Margin = math.Min(t.Margin, (rv-rlo)/r)
		}
		if rhi < top {
			t.Margin = math.Min(t.Margin, (rhi-rv)/r)
		}
		t.Margin = round6(t.Margin)
	}
	return t
}

// round6 rounds to 6 significant decimals, so that scaled values print
// without binary noise (0.1*3 = 0.3, not 0.30000000000000004).
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// EncodeTestResult builds one test's 9 bytes (MID, TID, UASID, value,
// minimum, maximum) from raw values, for simulators; several concatenated
// after 0x46 make a Mode 06 answer.
func EncodeTestResult(mid MID, tid, uasID byte, value, min, max uint16) []byte {
	b := []byte{byte(mid), tid, uasID, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[3:], value)
	binary.BigEndian.PutUint16(b[5:], min)
	binary.BigEndian.PutUint16(b[7:], max)
	return b
}

// Near reports whether a passed test is close to failing (Margin below
// NearLimit).
func (t TestResult) Near() bool { return t.Pass && !t.NotRun && t.Margin < NearLimit }

// midNames names the monitors of SAE J1979's OBDMID table, in English and
// Chinese; a range (first, last) shares the name with its bank/sensor or
// cylinder number filled in.
var midNames = map[MID][2]string{
	0x01: {"O2 sensor monitor bank 1 sensor 1", "氧传感器监测 第1列 传感器1"},
	0x02: {"O2 sensor monitor bank 1 sensor 2", "氧传感器监测 第1列 传感器2"},
	0x03: {"O2 sensor monitor bank 1 sensor 3", "氧传感器监测 第1列 传感器3"},
	0x04: {"O2 sensor monitor bank 1 sensor 4", "氧传感器监测 第1列 传感器4"},
	0x05: {"O2 sensor monitor bank 2 sensor 1", "氧传感器监测 第2列 传感器1"},
	0x06: {"O2 sensor monitor bank 2 sensor 2", "氧传感器监测 第2列 传感器2"},
	0x07: {"O2 sensor monitor bank 2 sensor 3", "氧传感器监测 第2列 传感器3"},
	0x08: {"O2 sensor monitor bank 2 sensor 4", "氧传感器监测 第2列 传感器4"},
	0x21: {"Catalyst monitor bank 1", "催化器监测 第1列"},
	0x22: {"Catalyst monitor bank 2", "催化器监测 第2列"},
	0x23: {"Catalyst monitor bank 3", "催化器监测 第3列"},
	0x24: {"Catalyst monitor bank 4", "催化器监测 第4列"},
	0x31: {"EGR monitor bank 1", "废气再循环监测 第1列"},
	0x32: {"EGR monitor bank 2", "废气再循环监测 第2列"},
	0x35: {"VVT monitor bank 1", "可变气门正时监测 第1列"},
	0x36: {"VVT monitor bank 2", "可变气门正时监测 第2列"},
	0x39: {"EVAP monitor (cap off / 0.150\")", "蒸发排放监测（油箱盖/0.150英寸）"},
	0x3A: {"EVAP monitor (0.090\")", "蒸发排放监测（0.090英寸）"},
	0x3B: {"EVAP monitor (0.040\")", "蒸发排放监测（0.040英寸）"},
	0x3C: {"EVAP monitor (0.020\")", "蒸发排放监测（0.020英寸）"},
	0x3D: {"Purge flow monitor", "炭罐清污流量监测"},
	0x41: {"O2 sensor heater monitor bank 1 sensor 1", "氧传感器加热器监测 第1列 传感器1"},
	0x42: {"O2 sensor heater monitor bank 1 sensor 2", "氧传感器加热器监测 第1列 传感器2"},
	0x43: {"O2 sensor heater monitor bank 1 sensor 3", "氧传感器加热器监测 第1列 传感器3"},
	0x44: {"O2 sensor heater monitor bank 1 sensor 4", "氧传感器加热器监测 第1列 传感器4"},
	0x45: {"O2 sensor heater monitor bank 2 sensor 1", "氧传感器加热器监测 第2列 传感器1"},
	0x46: {"O2 sensor heater monitor bank 2 sensor 2", "氧传感器加热器监测 第2列 传感器2"},
	0x61: {"Heated catalyst monitor bank 1", "加热型催化器监测 第1列"},
	0x62: {"Heated catalyst monitor bank 2", "加热型催化器监测 第2列"},
	0x71: {"Secondary air monitor 1", "二次空气监测 1"},
	0x72: {"Secondary air monitor 2", "二次空气监测 2"},
	0x81: {"Fuel system monitor bank 1", "燃油系统监测 第1列"},
	0x82: {"Fuel system monitor bank 2", "燃油系统监测 第2列"},
	0x85: {"Boost pressure control monitor bank 1", "增压压力控制监测 第1列"},
	0x86: {"Boost pressure control monitor bank 2", "增压压力控制监测 第2列"},
	0x90: {"NOx adsorber monitor bank 1", "NOx吸附器监测 第1列"},
	0x91: {"NOx adsorber monitor bank 2", "NOx吸附器监测 第2列"},
	0x98: {"NOx catalyst monitor bank 1", "NOx催化器（SCR）监测 第1列"},
	0x99: {"NOx catalyst monitor bank 2", "NOx催化器（SCR）监测 第2列"},
	0xA1: {"Misfire monitor, general data", "失火监测 总体数据"},
	0xB0: {"PM filter monitor bank 1", "颗粒捕集器监测 第1列"},
	0xB1: {"PM filter monitor bank 2", "颗粒捕集器监测 第2列"},
}

// MIDName names the monitor of mid in the language tag (Chinese for "zh",
// "zh-CN", ...; English otherwise): "Catalyst monitor bank 1"; misfire
// monitors of single cylinders (A2-AD) by their cylinder; others as
// "Monitor 5A".
func MIDName(mid MID, tag string) string {
	zh := lang.IsChinese(tag)
	if n, ok := midNames[mid]; ok {
		if zh {
			return n[1]
		}
		return n[0]
	}
	if mid >= 0xA2 && mid <= 0xAD {
		if zh {
			return fmt.Sprintf("失火监测 第%d缸", mid-0xA1)
		}
		return fmt.Sprintf("Misfire monitor cylinder %d", mid-0xA1)
	}
	if zh {
		return "监测 " + mid.String()
	}
	return "Monitor " + mid.String()
}

// ParseSupportedMIDs decodes a Mode 06 answer to supported-MID requests
// (46 00 AABBCCDD [20 AABBCCDD ...], up to six bitmaps on CAN): the MIDs the
// bitmaps list, and the bitmap MIDs the answer held, in order.
func ParseSupportedMIDs(resp []byte) (PIDSet, []MID, error) {
	var set PIDSet
	if err := CheckResponse(0x06, resp); err != nil {
		return set, nil, err
	}
	rest := resp[1:]
	if len(rest) == 0 || len(rest)%5 != 0 {
		return set, nil, fmt.Errorf("%w: Mode 06 supported-MID answer of %d bytes (want 1 + 5 per bitmap)", ErrLength, len(resp))
	}
	var bases []MID
	for ; len(rest) > 0; rest = rest[5:] {
		base := MID(rest[0])
		sup, err := DecodeSupported(base, rest[1:5])
		if err != nil {
			return set, bases, err
		}
		set.Merge(sup)
		bases = append(bases, base)
	}
	return set, bases, nil
}
