package isotp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want PDU
		err  error
	}{
		{"SF padded", "02 01 0C AA AA AA AA AA", PDU{Kind: SingleFrame, Length: 2, Data: hx(t, "010C")}, nil},
		{"SF unpadded", "02 01 0C", PDU{Kind: SingleFrame, Length: 2, Data: hx(t, "010C")}, nil},
		{"SF full", "07 01 02 03 04 05 06 07", PDU{Kind: SingleFrame, Length: 7, Data: hx(t, "01020304050607")}, nil},
		{"SF length 0 (FD escape)", "00 07 01 02 03 04 05 06", PDU{}, ErrBadLength},
		{"SF length 8", "08 01 02 03 04 05 06 07", PDU{}, ErrBadLength},
		{"SF shorter than declared", "05 01 02", PDU{}, ErrBadLength},
		{"FF VIN", "10 14 49 02 01 31 47 31", PDU{Kind: FirstFrame, Length: 20, Data: hx(t, "490201314731")}, nil},
		{"FF max 12-bit", "1F FF 01 02 03 04 05 06", PDU{Kind: FirstFrame, Length: 4095, Data: hx(t, "010203040506")}, nil},
		{"FF escape", "10 00 00 00 10 00 AB CD", PDU{Kind: FirstFrame, Length: 4096, Data: hx(t, "ABCD")}, nil},
		{"FF escape too small", "10 00 00 00 0F FF AB CD", PDU{}, ErrBadLength},
		{"FF length fits SF", "10 07 01 02 03 04 05 06", PDU{}, ErrBadLength},
		{"FF short frame", "10 14 49 02 01", PDU{}, ErrBadLength},
		{"CF", "21 56 57 58 59 5A 5B 5C", PDU{Kind: ConsecutiveFrame, SN: 1, Data: hx(t, "565758595A5B5C")}, nil},
		{"CF SN 0 unpadded", "20 01", PDU{Kind: ConsecutiveFrame, SN: 0, Data: hx(t, "01")}, nil},
		{"FC CTS", "30 00 00 AA AA AA AA AA", PDU{Kind: FlowControlFrame, Status: FlowContinue}, nil},
		{"FC WAIT", "31 00 00", PDU{Kind: FlowControlFrame, Status: FlowWait}, nil},
		{"FC OVFLW", "32 00 00", PDU{Kind: FlowControlFrame, Status: FlowOverflow}, nil},
		{"FC BS STmin µs", "30 08 F5", PDU{Kind: FlowControlFrame, BlockSize: 8, STmin: 0xF5}, nil},
		{"FC reserved status", "33 00 00", PDU{}, ErrBadFlowStatus},
		{"FC short", "30 00", PDU{}, ErrBadLength},
		{"bad PCI", "40 01 02", PDU{}, ErrBadPCI},
		{"bad PCI F", "F5 DE AD", PDU{}, ErrBadPCI},
		{"empty", "", PDU{}, ErrEmptyFrame},
		{"longer than classic CAN", "02 01 0C AA AA AA AA AA AA", PDU{}, ErrBadLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(hx(t, tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got.Kind != tt.want.Kind || got.Length != tt.want.Length || got.SN != tt.want.SN ||
				got.Status != tt.want.Status || got.BlockSize != tt.want.BlockSize || got.STmin != tt.want.STmin ||
				!bytes.Equal(got.Data, tt.want.Data) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		in   PDU
		pad  byte
		want string
		err  error
	}{
		{"SF", PDU{Kind: SingleFrame, Data: hx(t, "010C")}, 0xAA, "02010CAAAAAAAAAA", nil},
		{"SF pad 55", PDU{Kind: SingleFrame, Data: hx(t, "0902")}, 0x55, "0209025555555555", nil},
		{"SF too long", PDU{Kind: SingleFrame, Data: make([]byte, 8)}, 0, "", ErrBadLength},
		{"SF empty", PDU{Kind: SingleFrame}, 0, "", ErrBadLength},
		{"FF", PDU{Kind: FirstFrame, Length: 20, Data: hx(t, "490201314731")}, 0xAA, "1014490201314731", nil},
		{"FF 4095", PDU{Kind: FirstFrame, Length: 4095, Data: hx(t, "010203040506")}, 0xAA, "1FFF010203040506", nil},
		{"FF escape", PDU{Kind: FirstFrame, Length: 70000, Data: hx(t, "ABCD")}, 0xAA, "1000000111 70ABCD", nil},
		{"FF wrong data", PDU{Kind: FirstFrame, Length: 20, Data: hx(t, "49")}, 0, "", ErrBadLength},
		{"FF length 7", PDU{Kind: FirstFrame, Length: 7, Data: make([]byte, 6)}, 0, "", ErrBadLength},
		{"CF last", PDU{Kind: ConsecutiveFrame, SN: 2, Data: hx(t, "4142")}, 0xAA, "224142AAAAAAAAAA", nil},
		{"CF SN wraps", PDU{Kind: ConsecutiveFrame, SN: 0x1F, Data: hx(t, "41")}, 0, "2F41000000000000", nil},
		{"CF too long", PDU{Kind: ConsecutiveFrame, Data: make([]byte, 8)}, 0, "", ErrBadLength},
		{"FC CTS", PDU{Kind: FlowControlFrame, BlockSize: 4, STmin: 0xF1}, 0xAA, "3004F1AAAAAAAAAA", nil},
		{"FC WAIT", PDU{Kind: FlowControlFrame, Status: FlowWait}, 0xAA, "310000AAAAAAAAAA", nil},
		{"FC OVFLW", PDU{Kind: FlowControlFrame, Status: FlowOverflow}, 0xAA, "320000AAAAAAAAAA", nil},
		{"FC bad status", PDU{Kind: FlowControlFrame, Status: 3}, 0, "", ErrBadFlowStatus},
		{"bad kind", PDU{Kind: 4}, 0, "", ErrBadPCI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.in, tt.pad)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Encode err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if want := hx(t, tt.want); !bytes.Equal(got[:], want) {
				t.Errorf("Encode = % X, want % X", got[:], want)
			}
			// Every encodable frame parses back to the same PDU.
			back, err := Parse(got[:])
			if err != nil {
				t.Fatalf("Parse(Encode) = %v", err)
			}
			if back.Kind != tt.in.Kind || back.Status != tt.in.Status || back.SN != tt.in.SN&0x0F {
				t.Errorf("round trip = %+v, want %+v", back, tt.in)
			}
			if tt.in.Kind != ConsecutiveFrame && !bytes.Equal(back.Data, tt.in.Data) {
				t.Errorf("round trip data = % X, want % X", back.Data, tt.in.Data)
			}
		})
	}
}

func TestSTminDuration(t *testing.T) {
	tests := []struct {
		in   uint8
		want time.Duration
	}{
		{0x00, 0},
		{0x01, time.Millisecond},
		{0x7F, 127 * time.Millisecond},
		{0x80, 127 * time.Millisecond},
		{0xF0, 127 * time.Millisecond},
		{0xF1, 100 * time.Microsecond},
		{0xF5, 500 * time.Microsecond},
		{0xF9, 900 * time.Microsecond},
		{0xFA, 127 * time.Millisecond},
		{0xFF, 127 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := STminDuration(tt.in); got != tt.want {
			t.Errorf("STminDuration(0x%02X) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestKindAndStatusStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{SingleFrame.String(), "SF"}, {FirstFrame.String(), "FF"}, {ConsecutiveFrame.String(), "CF"},
		{FlowControlFrame.String(), "FC"}, {Kind(9).String(), "Kind(9)"},
		{FlowContinue.String(), "CTS"}, {FlowWait.String(), "WAIT"}, {FlowOverflow.String(), "OVFLW"},
		{FlowStatus(7).String(), "FlowStatus(7)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// encodes back to a frame that parses to the same PDU.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"02010C", "1014490201314731", "1000000010000102", "214A4335", "3008F5", "32", "F5DEAD", ""} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.Kind == ConsecutiveFrame && len(p.Data) == 0 {
			return // a consecutive frame without data cannot be encoded
		}
		d, err := Encode(p, 0xAA)
		if err != nil {
			t.Fatalf("Encode(%+v) = %v", p, err)
		}
		q, err := Parse(d[:])
		if err != nil {
			t.Fatalf("Parse(Encode(%+v)) = %v", p, err)
		}
		if q.Kind != p.Kind || q.Length != p.Length || q.SN != p.SN || q.Status != p.Status ||
			q.BlockSize != p.BlockSize || q.STmin != p.STmin || !bytes.Equal(q.Data[:len(p.Data)], p.Data) {
			t.Fatalf("round trip %+v -> %+v", p, q)
		}
	})
}
