package elm327

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/drivers/obd"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// vinLines are the frames of a VIN answer from 7E8 (ECU name padded 20 bytes).
const vinLines = "7E8 10 14 49 02 01 4C 46 56\r7E8 21 32 41 32 31 4B 38 41\r7E8 22 34 30 35 32 36 39 31\r"

var parseTests = []struct {
	name   string
	text   string
	f      Format
	want   []obd.Response
	err    error
	errToo error
}{
	{name: "11-bit with spaces and padding", text: "7E8 06 41 00 BE 3F A8 13 00\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("4100BE3FA813")}}},
	{name: "11-bit without spaces", text: "7E8064100BE3FA813", f: Format{Headers: true, IDBits: 11},
		want: []obd.Response{{ECU: 0x7E8, Data: h("4100BE3FA813")}}},
	{name: "29-bit with spaces", text: "18 DA F1 10 06 41 00 BE 3F A8 13\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x18DAF110, Data: h("4100BE3FA813")}}},
	{name: "29-bit without spaces", text: "18DAF110064100BE3FA813AA", f: Format{Headers: true, IDBits: 29},
		want: []obd.Response{{ECU: 0x18DAF110, Data: h("4100BE3FA813")}}},
	{name: "two ECUs, searching, linefeeds", text: "SEARCHING...\r\n7E8 06 41 00 BE 3F A8 13\r\n7E9 06 41 00 98 18 80 13\r\n", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("4100BE3FA813")}, {ECU: 0x7E9, Data: h("410098188013")}}},
	{name: "multi-frame with headers", text: vinLines, f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: append(h("490201"), "LFV2A21K8A4052691"...)}}},
	{name: "multi-frame interleaved with a single frame", text: "7E8 10 14 49 02 01 4C 46 56\r7E9 03 7F 09 12\r7E8 21 32 41 32 31 4B 38 41\r7E8 22 34 30 35 32 36 39 31\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E9, Data: h("7F0912")}, {ECU: 0x7E8, Data: append(h("490201"), "LFV2A21K8A4052691"...)}}},
	{name: "headers off, single frame", text: "41 0C 0C 30\r", f: Format{},
		want: []obd.Response{{ECU: 0x7E8, Data: h("410C0C30")}}},
	{name: "headers off, multi-frame lines", text: "014\r0: 49 02 01 4C 46 56\r1: 32 41 32 31 4B 38 41\r2: 34 30 35 32 36 39 31\r", f: Format{ECU: 0x18DAF110},
		want: []obd.Response{{ECU: 0x18DAF110, Data: append(h("490201"), "LFV2A21K8A4052691"...)}}},
	{name: "headers off, multi-frame without spaces, padded", text: "00A\r0:490201313233\r1:34353637AAAAAA\r", f: Format{},
		want: []obd.Response{{ECU: 0x7E8, Data: h("49020131323334353637")}}},
	{name: "adapter ignored ATH1", text: "014\r0: 49 02 01 4C 46 56\r1: 32 41 32 31 4B 38 41\r2: 34 30 35 32 36 39 31\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: append(h("490201"), "LFV2A21K8A4052691"...)}}},
	{name: "bus init ok", text: "BUS INIT: ...OK\r7E8 03 41 0D 00\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("410D00")}}},
	{name: "response pending dropped", text: "7E8 03 7F 01 78\r7E8 03 41 0D 00\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("410D00")}}},
	{name: "garbage line skipped", text: "\x7f#%&!*\r7E8 03 41 0D 00\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("410D00")}}},
	{name: "garbage only", text: "\x7f#%&!*\r", f: Format{Headers: true}, err: ErrBadResponse},
	{name: "bad PCI", text: "7E8 F3 41 0D 00\r", f: Format{Headers: true}, err: ErrBadResponse},
	{name: "11-bit header too big", text: "FE8 03 41 0D 00\r", f: Format{Headers: true}, err: ErrBadResponse},
	{name: "first frame only", text: "7E8 10 14 49 02 01 4C 46 56\r", f: Format{Headers: true}, err: ErrIncomplete},
	{name: "headers off, missing line", text: "014\r0: 49 02 01 4C 46 56\r1: 32 41 32 31 4B 38 41\r", f: Format{}, err: ErrIncomplete},
	{name: "headers off, wrong line number", text: "014\r0: 49 02 01 4C 46 56\r2: 32 41 32 31 4B 38 41\r", f: Format{}, err: ErrIncomplete},
	{name: "empty", text: "\r\r", f: Format{Headers: true}, err: obd.ErrNoResponse},
	{name: "NO DATA", text: "SEARCHING...\rNO DATA\r", f: Format{Headers: true}, err: ErrNoData, errToo: obd.ErrNoResponse},
	{name: "CAN ERROR", text: "CAN ERROR\r", f: Format{Headers: true}, err: ErrCANError},
	{name: "ERR94", text: "ERR94\r", f: Format{Headers: true}, err: ErrCANError},
	{name: "BUS INIT error", text: "BUS INIT: ...ERROR\r", f: Format{Headers: true}, err: ErrBusInit},
	{name: "UNABLE TO CONNECT", text: "SEARCHING...\rUNABLE TO CONNECT\r", f: Format{Headers: true}, err: ErrUnableToConnect},
	{name: "STOPPED", text: "7E8 03 41 0D 00\rSTOPPED\r", f: Format{Headers: true}, err: ErrStopped},
	{name: "BUFFER FULL", text: "7E8 10 14 49 02 01 4C 46 56\rBUFFER FULL\r", f: Format{Headers: true}, err: ErrBufferFull},
	{name: "unknown command", text: "?\r", f: Format{Headers: true}, err: ErrUnknownCommand},
	{name: "BUS BUSY", text: "BUS BUSY\r", f: Format{Headers: true}, err: ErrBusError},
	{name: "data error suffix", text: "7E8 03 41 0D 00 <DATA ERROR\r", f: Format{Headers: true}, err: ErrDataError},
	{name: "RX ERROR", text: "<RX ERROR\r", f: Format{Headers: true}, err: ErrDataError},
	{name: "reset banner", text: "\r\rELM327 v1.5\r\r", f: Format{Headers: true}, err: ErrAdapterReset},
	{name: "low voltage reset", text: "LV RESET\r", f: Format{Headers: true}, err: ErrAdapterReset},
	// One ECU answers, the adapter adds a status line for the rest: the
	// valid frames are kept.
	{name: "NO DATA beside a valid frame", text: "7E8 06 41 00 BE 3E B8 11 \rNO DATA\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("4100BE3EB811")}}},
	{name: "NO DATA before valid frames", text: "NO DATA\r7E8 06 41 00 BE 3E B8 11\r7E9 06 41 00 98 18 80 13\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("4100BE3EB811")}, {ECU: 0x7E9, Data: h("410098188013")}}},
	{name: "CAN ERROR beside a valid frame", text: "7E8 03 41 0D 00\rCAN ERROR\r", f: Format{Headers: true},
		want: []obd.Response{{ECU: 0x7E8, Data: h("410D00")}}},
	{name: "banner beside a valid frame", text: "7E8 03 41 0D 00\rELM327 v1.5\r", f: Format{Headers: true}, err: ErrAdapterReset},
}

func TestParseResponse(t *testing.T) {
	for _, tc := range parseTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResponse(tc.text, tc.f)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || (tc.errToo != nil && !errors.Is(err, tc.errToo)) || got != nil {
					t.Fatalf("ParseResponse = %v, %v; want error %v", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d responses %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i].ECU != tc.want[i].ECU || string(got[i].Data) != string(tc.want[i].Data) {
					t.Errorf("response %d = %s % X, want %s % X", i, got[i].ECU, got[i].Data, tc.want[i].ECU, tc.want[i].Data)
				}
			}
		})
	}
}

// FuzzParseResponse: nothing an adapter prints makes the parser panic, and
// it returns either answers with data or an error.
func FuzzParseResponse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add(tc.text, tc.f.Headers, uint8(tc.f.IDBits), uint8(0))
	}
	for _, tc := range legacyTests {
		f.Add(tc.text, tc.f.Headers, uint8(0), tc.f.Protocol)
	}
	f.Add("18 DA F1 10 10 14 49 02 01 4C 46 56\r18 DA F1 18 03 43 00 00\r18 DA F1 10 21 32 41 32 31 4B 38 41\r", true, uint8(0), uint8(0))
	f.Add("7E8 10 00 00 00 10 00 49 02\r7E8 21 01\r", true, uint8(11), uint8(0))
	f.Add("FFF\r0:\r1:00\r", false, uint8(0), uint8(0))
	f.Add("48 6B 10 49 02 02 00 01 02 03 FF\r48 6B 10 49 02 02 00 01 02 03 FF\r", true, uint8(0), uint8('3'))
	f.Fuzz(func(t *testing.T, text string, headers bool, bits, proto uint8) {
		resps, err := ParseResponse(text, Format{Headers: headers, IDBits: int(bits), Protocol: proto})
		if (err == nil) == (len(resps) == 0) {
			t.Fatalf("ParseResponse = %v, %v: want answers or an error", resps, err)
		}
		for _, r := range resps {
			if len(r.Data) == 0 {
				t.Fatalf("empty answer from %s", r.ECU)
			}
		}
	})
}

// TestCheckByte: the check bytes of the documented frames (DOMAIN.md
// section 5 for J1850, the 8-bit sums of the ISO frames above), which the
// simulator's frames carry too.
func TestCheckByte(t *testing.T) {
	for _, tc := range []struct {
		frame string
		proto byte
		want  byte
	}{
		{"486B104100BE3EB811", '2', 0xFA},
		{"416B104100BE3EB811", '1', 0x90},
		{"486B10410C1AF8", '3', 0x22},
		{"83F111410D00", '5', 0xD3},
		{"80F1100449020131", '4', 0x02},
	} {
		if got := CheckByte(h(tc.frame), tc.proto); got != tc.want {
			t.Errorf("CheckByte(%s, %c) = %02X, want %02X", tc.frame, tc.proto, got, tc.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		name string
		baud int
		err  error
	}{
		{"/dev/ttyUSB0", "/dev/ttyUSB0", 0, nil},
		{"/dev/ttyUSB0@38400", "/dev/ttyUSB0", 38400, nil},
		{"/dev/serial/by-id/usb-FTDI@x@9600", "/dev/serial/by-id/usb-FTDI@x", 9600, nil},
		{"/dev/ttyUSB0@", "", 0, ErrBadSpec},
		{"/dev/ttyUSB0@-1", "", 0, ErrBadSpec},
		{"@38400", "", 0, ErrBadSpec},
		{"", "", 0, ErrBadSpec},
	} {
		name, baud, err := ParseSpec(tc.spec)
		if name != tc.name || baud != tc.baud || !errors.Is(err, tc.err) {
			t.Errorf("ParseSpec(%q) = %q, %d, %v; want %q, %d, %v", tc.spec, name, baud, err, tc.name, tc.baud, tc.err)
		}
	}
}

// legacyTests are non-CAN answers as the ELM327 prints them with headers on
// (three header bytes, data, check byte), taken from the documented frame
// format: the J1850 VPW frame of DOMAIN.md section 5 (whose last byte is its
// J1850 CRC), the multi-ECU, multi-line and Mode 03 cases of python-OBD's
// legacy protocol tests (whose check bytes are placeholders, FF), and ISO
// 9141-2 / ISO 14230-4 frames built by the same rules with their 8-bit sums.
var legacyTests = []struct {
	name  string
	text  string
	f     Format
	want  []obd.Response
	err   error
	check int // frames whose check byte does not match
}{
	{name: "J1850 VPW, DOMAIN.md", text: "48 6B 10 41 00 BE 3E B8 11 FA\r", f: Format{Headers: true, Protocol: '2'},
		want: []obd.Response{{ECU: 0x10, Data: h("4100BE3EB811")}}},
	{name: "J1850 VPW without spaces", text: "486B104100BE3EB811FA", f: Format{Headers: true, Protocol: '2'},
		want: []obd.Response{{ECU: 0x10, Data: h("4100BE3EB811")}}},
	{name: "J1850 PWM", text: "41 6B 10 41 00 BE 3E B8 11 90\r", f: Format{Headers: true, Protocol: '1'},
		want: []obd.Response{{ECU: 0x10, Data: h("4100BE3EB811")}}},
	{name: "ISO 9141-2", text: "48 6B 10 41 0C 1A F8 22\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("410C1AF8")}}},
	{name: "ISO 14230-4 KWP, format byte with length", text: "83 F1 11 41 0D 00 D3\r", f: Format{Headers: true, Protocol: '5'},
		want: []obd.Response{{ECU: 0x11, Data: h("410D00")}}},
	{name: "ISO 14230-4 KWP, length byte", text: "80 F1 10 04 49 02 01 31 02\r", f: Format{Headers: true, Protocol: '4'},
		want: []obd.Response{{ECU: 0x10, Data: h("49020131")}}},
	{name: "placeholder check bytes kept", text: "48 6B 10 41 00 00 01 02 03 04 FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("41000001020304")}}, check: 1},
	{name: "three ECUs in arrival order", text: "48 6B 13 41 00 00 01 02 03 FF\r48 6B 10 41 00 00 01 02 03 FF\r48 6B 11 41 00 00 01 02 03 FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x13, Data: h("410000010203")}, {ECU: 0x10, Data: h("410000010203")}, {ECU: 0x11, Data: h("410000010203")}}, check: 3},
	{name: "Mode 09 frames out of order", text: "48 6B 10 49 02 03 08 09 0A 0B FF\r48 6B 10 49 02 01 00 01 02 03 FF\r48 6B 10 49 02 02 04 05 06 07 FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("4902000102030405060708090A0B")}}, check: 3},
	{name: "Mode 09 VIN, ISO 9141-2", f: Format{Headers: true, Protocol: '3'},
		text: "48 6B 10 49 02 01 00 00 00 4C 5B\r48 6B 10 49 02 02 46 56 32 41 1F\r48 6B 10 49 02 03 32 31 4B 38 F7\r48 6B 10 49 02 04 41 34 30 35 EC\r48 6B 10 49 02 05 32 36 39 31 E5\r",
		want: []obd.Response{{ECU: 0x10, Data: append(h("4902000000"), "LFV2A21K8A4052691"...)}}},
	{name: "Mode 09 frame missing", text: "48 6B 10 49 02 01 00 01 02 03 FF\r48 6B 10 49 02 03 08 09 0A 0B FF\r", f: Format{Headers: true, Protocol: '3'}, err: ErrIncomplete},
	{name: "Mode 09 single frame left as it is", text: "48 6B 10 49 00 01 55 40 00 00 FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("49000155400000")}}, check: 1},
	{name: "Mode 03, two frames joined in CAN form", text: "48 6B 10 43 00 01 02 03 04 05 FF\r48 6B 10 43 06 07 08 09 0A 0B FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("4306000102030405060708090A0B")}}, check: 2},
	{name: "Mode 03, padding dropped", text: "48 6B 10 43 01 03 01 71 00 00 7C\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("430201030171")}}},
	{name: "Mode 03, no codes", text: "48 6B 10 43 00 00 00 00 00 00 FF\r", f: Format{Headers: true, Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("4300")}}, check: 1},
	{name: "headers off", text: "41 00 BE 3E B8 11\r", f: Format{Protocol: '3'},
		want: []obd.Response{{ECU: 0x10, Data: h("4100BE3EB811")}}},
	{name: "NO DATA beside a frame", text: "48 6B 10 41 00 BE 3E B8 11 FA\rNO DATA\r", f: Format{Headers: true, Protocol: '2'},
		want: []obd.Response{{ECU: 0x10, Data: h("4100BE3EB811")}}},
	{name: "too long", text: "48 6B 10 41 00 00 01 02 03 04 05 FF\r", f: Format{Headers: true, Protocol: '3'}, err: ErrBadResponse},
	{name: "too short", text: "48 6B 10 FF\r", f: Format{Headers: true, Protocol: '3'}, err: ErrBadResponse},
	{name: "odd digits", text: "48 6B 10 41 00 00 F\r", f: Format{Headers: true, Protocol: '3'}, err: ErrBadResponse},
	{name: "KWP length mismatch", text: "85 F1 11 41 0D 00 D3\r", f: Format{Headers: true, Protocol: '5'}, err: ErrBadResponse},
	{name: "bus init error", text: "BUS INIT: ...ERROR\r", f: Format{Headers: true, Protocol: '3'}, err: ErrBusInit},
}

func TestParseLegacy(t *testing.T) {
	for _, tc := range legacyTests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseResponse(tc.text, tc.f)
			if err == nil {
				err = p.err()
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(p.resps) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", p.resps, tc.want)
			}
			if p.badChecks != tc.check {
				t.Errorf("%d bad check bytes, want %d", p.badChecks, tc.check)
			}
		})
	}
}
