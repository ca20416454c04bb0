package obd

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// mode06Tests are Mode 06 answers in the SAE J1979 CAN layout: 46, then per
// test MID, TID, unit-and-scaling id, value, minimum, maximum (2 bytes each).
// The first is the O2 sensor answer an independent ELM327 emulator
// (Ircama/ELM327-emulator, MONITOR_O2_B1S1) prints, reassembled from its
// three ISO-TP frames (length 0x13, one byte of padding).
var mode06Tests = []struct {
	name string
	resp []byte
	want []TestResult
	err  error
}{
	{name: "ELM327-emulator O2 sensor B1S1", resp: h("46018E0B022700A94DBA01918D019D00B4022F00"), want: []TestResult{
		{MID: 0x01, TID: 0x8E, UASID: 0x0B, Value: 0.551, Min: 0.169, Max: 19.898, Unit: "V", Pass: true, Margin: 0.019362},
		{MID: 0x01, TID: 0x91, UASID: 0x8D, Value: 1.613281, Min: 0.703125, Max: 2.183594, Unit: "mA", Pass: true, Margin: 0.385224},
	}},
	{name: "catalyst failed", resp: h("462101200030004000FF"), want: []TestResult{
		{MID: 0x21, TID: 0x01, UASID: 0x20, Value: 0.1875, Min: 0.25, Max: 0.996094, Unit: "ratio", Pass: false, Margin: -0.08377},
	}},
	{name: "signed value below zero within limits", resp: h("46810396FFF6FF380064"), want: []TestResult{
		{MID: 0x81, TID: 0x03, UASID: 0x96, Value: -1, Min: -20, Max: 10, Unit: "°C", Pass: true, Margin: 0.366667},
	}},
	{name: "unknown scaling: a count", resp: h("46A20B7F000500000010"), want: []TestResult{
		{MID: 0xA2, TID: 0x0B, UASID: 0x7F, Value: 5, Min: 0, Max: 16, Pass: true, Margin: 0.6875},
	}},
	{name: "temperature offset", resp: h("463D0116019001900320"), want: []TestResult{
		{MID: 0x3D, TID: 0x01, UASID: 0x16, Value: 0, Min: 0, Max: 40, Unit: "°C", Pass: true, Margin: 0},
	}},
	{name: "zero padding ends the list", resp: h("463D0124000100000005000000000000000000"), want: []TestResult{
		{MID: 0x3D, TID: 0x01, UASID: 0x24, Value: 1, Min: 0, Max: 5, Unit: "counts", Pass: true, Margin: 0.8},
	}},
	{name: "not run since codes cleared", resp: h("4621012000000000000022"[:20]), want: []TestResult{
		{MID: 0x21, TID: 0x01, UASID: 0x20, Unit: "ratio", NotRun: true},
	}},
	{name: "no binding limit", resp: h("46A20C2400000000FFFF"), want: []TestResult{
		{MID: 0xA2, TID: 0x0C, UASID: 0x24, Value: 0, Min: 0, Max: 65535, Unit: "counts", Pass: true, Margin: 1},
	}},
	{name: "bitmap is not a test", resp: h("4600C0000001C0000001"), err: ErrUnexpectedResponse},
	{name: "another MID inside", resp: h("462101200030004000FF222101200030004000"), err: ErrUnexpectedResponse},
	{name: "too short", resp: h("462101200030"), err: ErrShortData},
	{name: "refused", resp: h("7F0612"), err: ErrNegativeResponse},
	{name: "not Mode 06", resp: h("410C1AF8"), err: ErrUnexpectedResponse},
}

// h turns hex into bytes (test tables only: it panics on bad hex).
// h turns "43 02 04 20" (spaces optional) into bytes; it panics on a typo,
// so that package-level test tables can use it.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

func TestParseTestResults(t *testing.T) {
	for _, tc := range mode06Tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTestResults(tc.resp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestTestResultRoundTrip: what EncodeTestResult builds, ParseTestResults
// reads back, and a value on a limit passes while one past it fails.
func TestTestResultRoundTrip(t *testing.T) {
	resp := append([]byte{0x46}, EncodeTestResult(0x21, 0x01, 0x20, 0x40, 0x40, 0x80)...)
	resp = append(resp, EncodeTestResult(0x21, 0x02, 0x20, 0x81, 0x40, 0x80)...)
	got, err := ParseTestResults(resp)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
	if !got[0].Pass || got[0].Margin != 0 || !got[0].Near() || got[1].Pass || got[1].Near() {
		t.Errorf("on the limit %+v (want passed, near), past it %+v (want failed)", got[0], got[1])
	}
}

func TestMIDName(t *testing.T) {
	for _, tc := range []struct {
		mid      MID
		tag, out string
	}{
		{0x21, "en", "Catalyst monitor bank 1"},
		{0x21, "zh-CN", "催化器监测 第1列"},
		{0xA5, "en", "Misfire monitor cylinder 4"},
		{0xA5, "zh", "失火监测 第4缸"},
		{0x5A, "en", "Monitor 5A"},
		{0x5A, "zh", "监测 5A"},
	} {
		if got := MIDName(tc.mid, tc.tag); got != tc.out {
			t.Errorf("MIDName(%s, %s) = %q, want %q", tc.mid, tc.tag, got, tc.out)
		}
	}
}

func FuzzParseTestResults(f *testing.F) {
	for _, tc := range mode06Tests {
		f.Add(tc.resp)
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		got, err := ParseTestResults(resp)
		if err == nil && len(got) == 0 {
			t.Fatal("no error and no test")
		}
		for _, r := range got {
			if math.IsNaN(r.Value) || math.IsNaN(r.Margin) || (r.NotRun && r.Pass) || (!r.NotRun && r.Pass != (r.Min <= r.Value && r.Value <= r.Max)) {
				t.Fatalf("inconsistent %+v", r)
			}
		}
	})
}

func TestParseSupportedMIDs(t *testing.T) {
	// The ELM327 emulator's MIDS_A answer: MIDs 01, 02 and the next range.
	set, bases, err := ParseSupportedMIDs(h("4600C0000001"))
	if err != nil || fmt.Sprint(set.List(), bases) != "[01 02 20] [00]" {
		t.Errorf("= %v %v, %v", set.List(), bases, err)
	}
	set, bases, err = ParseSupportedMIDs(h("4620000000014080"))
	if !errors.Is(err, ErrLength) {
		t.Errorf("odd length: %v %v, %v", set.List(), bases, err)
	}
	set, bases, err = ParseSupportedMIDs(h("4620800000014000000000"))
	if err != nil || fmt.Sprint(set.List(), bases) != "[21 40] [20 40]" {
		t.Errorf("two bitmaps: %v %v, %v", set.List(), bases, err)
	}
	if _, _, err := ParseSupportedMIDs(h("460180000001")); !errors.Is(err, ErrUnknownPID) {
		t.Errorf("not a bitmap MID: %v", err)
	}
}

func FuzzParseSupportedMIDs(f *testing.F) {
	f.Add(h("4600C0000001"))
	f.Add(h("46208000000140000000"))
	f.Add(h("7F0611"))
	f.Fuzz(func(t *testing.T, resp []byte) {
		set, bases, err := ParseSupportedMIDs(resp)
		if err == nil && (len(bases) == 0 || len(bases) != (len(resp)-1)/5) {
			t.Fatalf("%v %v from %X", set.List(), bases, resp)
		}
	})
}
