package analyzer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// The frames in this file are written by hand from the layouts the station
// code reads (DOMAIN.md section 3, sinq123/OBD OBDEquThr/*.cpp), with their
// checksums worked out from the documented rule. They are not produced by
// this package or by the simulator.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	// NHA-506I main data at idle: HC 180, CO 1.20, CO2 13.10, O2 1.10, NO
	// 420, 780 rpm, 85 degC, flow 52, O2 sensor aged, lambda 0.97; [20] is
	// the 8-bit sum of [0-19].
	frameNHA506Idle = "06 00b4 0078 051e 006e 01a4 030c 0055 0034 01 0061 62"
	// NHA-506I right after a zero, probe in air: HC -3, CO -0.01, CO2 0.02,
	// O2 20.85, NO -1, 0 rpm, 25 degC, lambda 0; byte [0] is 00 (not
	// examined).
	frameNHA506Zeroed = "00 fffd ffff 0002 0825 ffff 0000 0019 0000 00 0000 40"
	// NHA-506I with CO 0x7FFF (327.67 %vol) and a valid checksum.
	frameNHA506CO7FFF = "06 00b4 7fff 051e 006e 01a4 030c 0055 0034 00 0061 67"
	// NHA-506I with oil temperature 0x8000 (-32768 degC).
	frameNHA506Oil8000 = "06 00b4 0078 051e 006e 01a4 030c 8000 0034 00 0061 8c"
	// FLA-502 at high idle: HC 150, CO 1.205 (/1000), CO2 13.30, O2 0.95, NO
	// 380, 2510 rpm, oil 85.5 (/10), flow 40, NO sensor aged, lambda 1.01.
	frameFLA502 = "06 0096 04b5 0532 005f 017c 09ce 0357 0028 02 0065 28"
	// NHA-503 reply to 0x2C, 23 bytes: HC 95, CO 0.45, CO2 14.20, O2 0.60,
	// NO 150, 2480 rpm, oil 86.3, flow 48, lambda 1.00, [21] bit 6 water
	// trap full, [22] the sum.
	frameNHA503 = "06 005f 002d 058c 003c 0096 09b0 035f 0030 00 0064 00 40 e4"
	// NHA-506I ambient: 23.5 degC, 101.3 kPa, 55.0 %.
	frameNHAAmbient = "06 00eb 03f5 0226 11"
	// MQW-511 main data, 19 bytes, no checksum: HC -5, CO 0.03, CO2 14.50,
	// O2 0.45, NO 12, 2520 rpm, oil 85 (unsigned, unscaled), lambda 1.01.
	frameMQW511 = "06 fffb 0003 05aa 002d 000c 09d8 0055 0065 0000"
	// FLA-501 main data, 23 bytes, no checksum checked: CO2 13.80, CO 0.650
	// (/1000), HC 120, O2 0.85, NO 300, 760 rpm, oil 87.2, lambda 0.99.
	frameFLA501 = "06 15 40 00 0564 028a 0078 0055 012c 02f8 0368 0063 00 00 00"
	// MQW-50A main data, 28 bytes: CO2 13.20, CO 0.95, HC 140, NO 410, O2
	// 0.88, RH 55.2, oil 85.7, ambient 23.5 degC, 790 rpm, lambda 0.985
	// (/1000), 101.3 kPa; [27] the two's complement of the sum of [0-26].
	frameMQW50A = "06 60 1b 0528 005f 008c 019a 0058 0228 0359 00eb 0316 0000 03d9 03f5 16"
	// NHT-6 real time: N 35.5, K 1.02, 720 rpm, 358 K; sums to zero.
	frameNHT6Realtime = "a5 0163 0066 02d0 0166 58"
	// The same without an oil temperature sensor (0xFFFF).
	frameNHT6NoSensor = "a5 0163 0066 02d0 ffff c1"
	// NHT-6 free acceleration result: K1 1.05, K2 0.98, K3 1.01, mean 1.01,
	// idle 720 rpm.
	frameNHT6Result = "b1 0069 0062 0065 0065 02d0 e8"
	// NHT-6 highest values: N 62.3, K 2.27, 3150 rpm.
	frameNHT6Peak = "a6 026f 00e3 0c4e ac"
	// MQY-200 real time (0xA6): N 12.0, K 0.30, 780 rpm, 356 K.
	frameMQY200Realtime = "a6 0078 001e 030c 0164 50"
	// FTY-100 real time, no checksum: N 35.5, 358 K, 720 rpm.
	frameFTY100Realtime = "667479 0163 0166 02d0 00"
)

// frameFGA is the FGA-4100 data reply: two acknowledgement frames, the data
// frame's header (bytes [10-17] are not documented; these make the frame's
// own checksum hold too), eight ASCII fields HC 42, CO 0.15, CO2 14.6, O2
// 0.5, NO 75, lambda 1.01, 770 rpm, oil 86.5, and [50] = NOT(sum [18-49]).
const frameFGA = "7e 01 c6 38 7e 01 81 7d 7e 28 01 01 02 00 00 00 00 d4" +
	"2020 3432 2020 3135 2031 3436 2020 2035 2020 3735 2031 3031 2037 3730 2038 3635 84"

func q(name string, v float64, unit string) Quantity { return Quantity{name, v, unit} }

func TestParseDocumentedFrames(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) ([]Quantity, []string, error)
		frame string
		want  []Quantity
		flags []string
	}{
		{"nha506 idle", nhaParser(modelNHA506, 0), frameNHA506Idle, []Quantity{
			q("hc", 180, "ppm"), q("co", 1.20, "%vol"), q("co2", 13.10, "%vol"), q("o2", 1.10, "%vol"), q("no", 420, "ppm"),
			q("lambda", 0.97, ""), q("rpm", 780, "rpm"), q("oil_temperature", 85, "°C"), q("flow", 52, ""),
		}, []string{StatusO2SensorAged}},
		{"nha506 negative after a zero", nhaParser(modelNHA506, 0), frameNHA506Zeroed, []Quantity{
			q("hc", -3, "ppm"), q("co", -0.01, "%vol"), q("co2", 0.02, "%vol"), q("o2", 20.85, "%vol"), q("no", -1, "ppm"),
			q("lambda", 0, ""), q("rpm", 0, "rpm"), q("oil_temperature", 25, "°C"), q("flow", 0, ""),
		}, nil},
		{"fla502 co /1000 oil /10", nhaParser(modelFLA502, 0), frameFLA502, []Quantity{
			q("hc", 150, "ppm"), q("co", 1.205, "%vol"), q("co2", 13.30, "%vol"), q("o2", 0.95, "%vol"), q("no", 380, "ppm"),
			q("lambda", 1.01, ""), q("rpm", 2510, "rpm"), q("oil_temperature", 85.5, "°C"), q("flow", 40, ""),
		}, []string{StatusNOSensorAged}},
		{"nha503 0x2c water trap", nhaParser(modelNHA503, 0), frameNHA503, []Quantity{
			q("hc", 95, "ppm"), q("co", 0.45, "%vol"), q("co2", 14.20, "%vol"), q("o2", 0.60, "%vol"), q("no", 150, "ppm"),
			q("lambda", 1.00, ""), q("rpm", 2480, "rpm"), q("oil_temperature", 86.3, "°C"), q("flow", 48, ""),
		}, []string{StatusWaterTrapFull}},
		{"nha ambient", noFlags(parseNHAAmbient), frameNHAAmbient, []Quantity{
			q("ambient_temperature", 23.5, "°C"), q("ambient_pressure", 101.3, "kPa"), q("ambient_humidity", 55.0, "%"),
		}, nil},
		{"mqw511", noFlags(parseMQW511Main), frameMQW511, []Quantity{
			q("hc", -5, "ppm"), q("co", 0.03, "%vol"), q("co2", 14.50, "%vol"), q("o2", 0.45, "%vol"), q("no", 12, "ppm"),
			q("lambda", 1.01, ""), q("rpm", 2520, "rpm"), q("oil_temperature", 85, "°C"),
		}, nil},
		{"fla501", noFlags(parseFLA501Main), frameFLA501, []Quantity{
			q("hc", 120, "ppm"), q("co", 0.65, "%vol"), q("co2", 13.80, "%vol"), q("o2", 0.85, "%vol"), q("no", 300, "ppm"),
			q("lambda", 0.99, ""), q("rpm", 760, "rpm"), q("oil_temperature", 87.2, "°C"),
		}, nil},
		{"mqw50a lambda /1000", noFlags(parseMQW50AMain), frameMQW50A, []Quantity{
			q("hc", 140, "ppm"), q("co", 0.95, "%vol"), q("co2", 13.20, "%vol"), q("o2", 0.88, "%vol"), q("no", 410, "ppm"),
			q("lambda", 0.985, ""), q("rpm", 790, "rpm"), q("oil_temperature", 85.7, "°C"),
			q("ambient_temperature", 23.5, "°C"), q("ambient_pressure", 101.3, "kPa"), q("ambient_humidity", 55.2, "%"),
		}, nil},
		{"fga4100 ascii", noFlags(parseFGAMain), frameFGA, []Quantity{
			q("hc", 42, "ppm"), q("co", 0.15, "%vol"), q("co2", 14.6, "%vol"), q("o2", 0.5, "%vol"), q("no", 75, "ppm"),
			q("lambda", 1.01, ""), q("rpm", 770, "rpm"), q("oil_temperature", 86.5, "°C"),
		}, nil},
		{"nht6 real time, kelvin - 273", parseNHTRealtime, frameNHT6Realtime, []Quantity{
			q("opacity_n", 35.5, "%"), q("opacity_k", 1.02, "m^-1"), q("rpm", 720, "rpm"), q("oil_temperature", 85, "°C"),
		}, nil},
		{"nht6 no oil sensor", parseNHTRealtime, frameNHT6NoSensor, []Quantity{
			q("opacity_n", 35.5, "%"), q("opacity_k", 1.02, "m^-1"), q("rpm", 720, "rpm"),
		}, []string{StatusNoOilTemperature}},
		{"nht6 result", noFlags(parseNHTResult), frameNHT6Result, []Quantity{
			q("k1", 1.05, "m^-1"), q("k2", 0.98, "m^-1"), q("k3", 1.01, "m^-1"), q("k_mean", 1.01, "m^-1"), q("idle_rpm", 720, "rpm"),
		}, nil},
		{"nht6 peak", noFlags(parseNHTPeak), frameNHT6Peak, []Quantity{
			q("opacity_n", 62.3, "%"), q("opacity_k", 2.27, "m^-1"), q("rpm", 3150, "rpm"),
		}, nil},
		{"mqy200 real time 0xa6", parseNHTRealtime, frameMQY200Realtime, []Quantity{
			q("opacity_n", 12.0, "%"), q("opacity_k", 0.30, "m^-1"), q("rpm", 780, "rpm"), q("oil_temperature", 83, "°C"),
		}, nil},
		{"fty100 k from n", parseFTYRealtime, frameFTY100Realtime, []Quantity{
			q("opacity_n", 35.5, "%"), q("opacity_k", 1.02, "m^-1"), q("rpm", 720, "rpm"), q("oil_temperature", 85, "°C"),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, flags, err := tt.parse(unhex(t, tt.frame))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values\n got %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(flags, tt.flags) {
				t.Errorf("flags %v, want %v", flags, tt.flags)
			}
		})
	}
}

func nhaParser(m *nhaModel, i int) func([]byte) ([]Quantity, []string, error) {
	return func(b []byte) ([]Quantity, []string, error) { return parseNHAMain(m.main[i], b) }
}

func noFlags(f func([]byte) ([]Quantity, error)) func([]byte) ([]Quantity, []string, error) {
	return func(b []byte) ([]Quantity, []string, error) { q, err := f(b); return q, nil, err }
}

func TestParseRejectsDamagedFrames(t *testing.T) {
	flip := func(s string, i int) func(testing.TB) []byte {
		return func(t testing.TB) []byte { b := unhex(t, s); b[i] ^= 0x01; return b }
	}
	cut := func(s string) func(testing.TB) []byte {
		return func(t testing.TB) []byte { b := unhex(t, s); return b[:len(b)-1] }
	}
	tests := []struct {
		name  string
		parse func([]byte) ([]Quantity, []string, error)
		frame func(testing.TB) []byte
		want  error
	}{
		{"nha506 checksum", nhaParser(modelNHA506, 0), flip(frameNHA506Idle, 20), ErrChecksum},
		{"nha506 value byte", nhaParser(modelNHA506, 0), flip(frameNHA506Idle, 3), ErrChecksum},
		{"nha506 short", nhaParser(modelNHA506, 0), cut(frameNHA506Idle), ErrBadFrame},
		{"nha503 checksum", nhaParser(modelNHA503, 0), flip(frameNHA503, 22), ErrChecksum},
		{"ambient checksum", noFlags(parseNHAAmbient), flip(frameNHAAmbient, 7), ErrChecksum},
		{"mqw511 short", noFlags(parseMQW511Main), cut(frameMQW511), ErrBadFrame},
		{"mqw50a checksum", noFlags(parseMQW50AMain), flip(frameMQW50A, 27), ErrChecksum},
		{"fga checksum", noFlags(parseFGAMain), flip(frameFGA, 50), ErrChecksum},
		{"fga delimiter", noFlags(parseFGAMain), flip(frameFGA, 0), ErrBadFrame},
		{"nht6 checksum", parseNHTRealtime, flip(frameNHT6Realtime, 9), ErrChecksum},
		{"nht6 result checksum", noFlags(parseNHTResult), flip(frameNHT6Result, 4), ErrChecksum},
		{"fty short", parseFTYRealtime, cut(frameFTY100Realtime), ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.parse(tt.frame(t))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	// A field that is not a decimal, with a checksum that holds.
	b := unhex(t, frameFGA)
	copy(b[18:22], " 4X2")
	b[50] = ^sum8(b[18:50])
	if _, err := parseFGAMain(b); !errors.Is(err, ErrBadFrame) || errors.Is(err, ErrChecksum) {
		t.Fatalf("fga bad field: %v", err)
	}
}

func TestFGAFields(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"  42", 42, true}, {"0042", 42, true}, {" -12", -12, true}, {"-999", -999, true}, {"+7  ", 7, true},
		{"42  ", 42, true}, {"42\x00\x00", 42, true}, {"    ", 0, false}, {" 4 2", 0, false}, {"4.2 ", 0, false}, {"--1 ", 0, false},
	} {
		got, ok := parseFGAField([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseFGAField(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRequestsAreTheDocumentedBytes(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  []byte
		want string
	}{
		{"fga read", fgaRead, "7e 01 f4 0a 7e 04 00 01 02 02 f6"},
		{"fga zero", fgaZero, "7e 01 f4 0a 7e 04 00 01 16 45 9f"},
		{"fga pump on", fgaPumpOn, "7e 01 f4 0a 7e 0a 00 01 0e 02 01 00 00 00 00 00 e3"},
		{"fga pump off", fgaStop, "7e 01 f4 0a 7e 0a 00 01 0e 02 00 00 00 00 00 00 e4"},
		{"fga pump on answer", fgaPumpOK, "7e 01 c6 38 7e 01 81 7d 7e 0b 01 01 0e 00 00 01 00 00 00 00 00 e3"},
		{"fga pump off answer", fgaStopOK, "7e 01 c6 38 7e 01 81 7d 7e 0b 01 01 0e 00 00 00 00 00 00 00 00 e4"},
		{"fga zero answer", fgaACK, "7e 01 c6 38 7e 01 81 7d"},
		{"mqw50a read", mqw50aFrame(mqw50aMain), "02 60 03 9b"},
		{"mqw50a status", mqw50aFrame(mqw50aStatus), "02 61 03 9a"},
		{"mqw50a zero", mqw50aFrame(mqw50aZero), "02 67 03 94"},
		{"mqw50a leak", mqw50aFrame(mqw50aLeakCheck), "02 66 03 95"},
		{"mqw50a probe", mqw50aFrame(mqw50aProbe), "02 7b 03 80"},
		{"mqw50a ambient", mqw50aFrame(mqw50aAmbient), "02 7c 03 7f"},
		{"mqw50a back-flush", mqw50aFrame(mqw50aBackFlush), "02 80 03 7b"},
		{"mqw50a stop", mqw50aFrame(mqw50aStop), "02 78 03 83"},
		{"nht6 real time", withNeg8(0xA5), "a5 5b"},
		{"mqy200 real time", withNeg8(0xA6), "a6 5a"},
		{"nht6 set status 2", withNeg8(0xA0, 2), "a0 02 5e"},
		{"fty real time", ftyRequest(ftyRealtime), "66 74 79 01 02 02 a8"},
		{"fty status", ftyRequest(ftyStatus), "66 74 79 01 02 01 a9"},
		{"fty calibrate", ftyRequest(ftyCalibrate), "66 74 79 01 02 05 a5"},
	} {
		if !bytes.Equal(tt.got, unhex(t, tt.want)) {
			t.Errorf("%s: % x, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestModes(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode func(byte) Mode
		raw  byte
		want Mode
	}{
		{"nha506 F0", nha506Mode, 0xF0, ModeReady}, {"nha506 F1", nha506Mode, 0xF1, ModeMeasuring},
		{"nha506 0", nha506Mode, 0, ModeReady}, {"nha506 2", nha506Mode, 2, ModeWarmingUp}, {"nha506 3", nha506Mode, 3, ModeLeakCheck},
		{"nha506 9", nha506Mode, 9, ModeUnknown},
		{"fla502 F0", fla502Mode, 0xF0, ModeReady}, {"fla502 F1", fla502Mode, 0xF1, ModeMeasuring},
		{"fla502 00 not supported", fla502Mode, 0x00, ModeUnknown}, {"fla502 01 not supported", fla502Mode, 0x01, ModeUnknown},
		{"fla502 2", fla502Mode, 2, ModeWarmingUp},
		{"nha503 1", nhaMode, 1, ModeMeasuring}, {"nha503 F0 raw", nhaMode, 0xF0, ModeUnknown},
		{"nht6 0", nhtMode, 0, ModeWarmingUp}, {"nht6 1", nhtMode, 1, ModeMeasuring}, {"nht6 2", nhtMode, 2, ModeCalibrating},
		{"nht6 3", nhtMode, 3, ModeFault},
	} {
		if got := tt.mode(tt.raw); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	st, err := parseMQW50AStatus(unhex(t, "06 61 0a 40 80 00 00 00 00 00 00"))
	if err != nil || st.mode() != ModeZeroing {
		t.Fatalf("mqw50a zeroing: %+v %v", st, err)
	}
	st, _ = parseMQW50AStatus(unhex(t, "06 61 0a 00 00 04 00 00 00 00 00"))
	if st.mode() != ModeReady || !st.zeroFailed || st.leak {
		t.Fatalf("mqw50a zero failed: %+v", st)
	}
	st, _ = parseMQW50AStatus(unhex(t, "06 61 0a 01 80 00 00 00 00 00 00"))
	if st.mode() != ModeWarmingUp {
		t.Fatalf("mqw50a warm-up: %+v", st)
	}
	if _, err := parseMQW50AStatus(unhex(t, "15 61 0a 01 80 00 00 00 00 00 00")); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("mqw50a status without 06: %v", err)
	}
	for raw, want := range map[string]Mode{"667479 02 00 00 00": ModeWarmingUp, "667479 04 00 00 00": ModeMeasuring, "667479 00 00 00 00": ModeUnknown} {
		if m, err := parseFTYStatus(unhex(t, raw)); err != nil || m != want {
			t.Errorf("fty status %s: %s %v, want %s", raw, m, err, want)
		}
	}
}

func TestImplausibleValuesRefused(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame string
		bad   string
	}{
		{"co 327.67", frameNHA506CO7FFF, "co"},
		{"oil -32768", frameNHA506Oil8000, "oil_temperature"},
	} {
		vals, _, err := parseNHAMain(modelNHA506.main[0], unhex(t, tt.frame))
		if err != nil {
			t.Fatalf("%s: the frame itself is valid: %v", tt.name, err)
		}
		err = checkPlausible(vals, DefaultRanges())
		var ie *ImplausibleError
		if !errors.As(err, &ie) || !errors.Is(err, ErrImplausible) || len(ie.Values) != 1 || ie.Values[0].Quantity.Name != tt.bad {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	// FTY-100 at N = 100 %: K is infinite.
	vals, _, err := parseFTYRealtime(unhex(t, "667479 03e8 0166 02d0 00"))
	if err != nil || !math.IsInf(vals[1].Value, 1) {
		t.Fatalf("fty n 100: %v %v", vals, err)
	}
	if err := checkPlausible(vals, DefaultRanges()); !errors.Is(err, ErrImplausible) {
		t.Fatalf("fty n 100 accepted: %v", err)
	}
	// The negative values after a zero are plausible.
	vals, _, _ = parseNHAMain(modelNHA506.main[0], unhex(t, frameNHA506Zeroed))
	if err := checkPlausible(vals, DefaultRanges()); err != nil {
		t.Fatalf("after a zero: %v", err)
	}
}

// TestKFromN: K follows N over the FTY-100's 0.430 m up to the edge, and at
// 100 % and above (which the fuzzer found as N 1233.6 %, K NaN) it is +Inf,
// which the plausibility check refuses, so a reading of a blocked light
// path is refused rather than stored without its K.
func TestKFromN(t *testing.T) {
	for _, c := range []struct{ n, want float64 }{
		{0, 0}, {35.5, 1.02}, {99.9, 16.06}, {100, math.Inf(1)}, {1233.6, math.Inf(1)},
	} {
		if got := kFromN(c.n); got != c.want {
			t.Errorf("kFromN(%v) = %v, want %v", c.n, got, c.want)
		}
	}
	// N 100.0 % (0x03e8 tenths), no oil temperature (0xffff), 720 rpm.
	q, _, err := parseFTYRealtime(unhex(t, "667479 03e8 ffff 02d0 00"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlausible(q, DefaultRanges()); !errors.Is(err, ErrImplausible) {
		t.Errorf("N 100 %%: %v, want the reading refused as implausible", err)
	}
}
