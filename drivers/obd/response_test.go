package obd

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestParsePIDResponse(t *testing.T) {
	tests := []struct {
		name  string
		resp  []byte
		order []PID
		data  map[PID][]byte
	}{
		{"two PIDs", []byte{0x41, 0x0C, 0x1A, 0xF8, 0x0D, 0x32}, []PID{0x0C, 0x0D},
			map[PID][]byte{0x0C: {0x1A, 0xF8}, 0x0D: {0x32}}},
		{"six PIDs", []byte{0x41, 0x01, 0x81, 0x07, 0x65, 0x04, 0x05, 0x7B, 0x1C, 0x29, 0x21, 0, 0x0A, 0x31, 0x01, 0x2C, 0xA6, 0, 1, 0xE2, 0x40},
			[]PID{0x01, 0x05, 0x1C, 0x21, 0x31, 0xA6},
			map[PID][]byte{0x01: {0x81, 0x07, 0x65, 0x04}, 0x05: {0x7B}, 0x1C: {0x29}, 0x21: {0, 0x0A}, 0x31: {0x01, 0x2C}, 0xA6: {0, 1, 0xE2, 0x40}}},
		{"bitmap", []byte{0x41, 0x00, 0xBE, 0x1F, 0xA8, 0x13}, []PID{0x00}, map[PID][]byte{0x00: {0xBE, 0x1F, 0xA8, 0x13}}},
		{"unknown PID last", []byte{0x41, 0x0D, 0x32, 0xC3, 1, 2, 3}, []PID{0x0D, 0xC3}, map[PID][]byte{0x0D: {0x32}, 0xC3: {1, 2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, order, err := ParsePIDResponse(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(order, tc.order) || !reflect.DeepEqual(data, tc.data) {
				t.Errorf("got %v %v, want %v %v", order, data, tc.order, tc.data)
			}
		})
	}
	errs := []struct {
		resp []byte
		want error
	}{
		{nil, ErrShortData},
		{[]byte{0x41}, ErrShortData},
		{[]byte{0x41, 0x0C, 0x1A}, ErrShortData},
		{[]byte{0x41, 0x0C, 0x1A, 0xF8, 0x0D}, ErrShortData},
		{[]byte{0x41, 0xC3}, ErrUnknownPID},
		{[]byte{0x41, 0x0D, 0x32, 0x0D, 0x33}, ErrDuplicatePID},
		{[]byte{0x7F, 0x01, 0x12}, ErrNegativeResponse},
		{[]byte{0x49, 0x02, 0x01}, ErrUnexpectedResponse},
	}
	for _, tc := range errs {
		if _, _, err := ParsePIDResponse(tc.resp); !errors.Is(err, tc.want) {
			t.Errorf("ParsePIDResponse(% X) = %v, want %v", tc.resp, err, tc.want)
		}
	}
	// An unknown PID in the middle swallows the rest: the first known PID
	// after it cannot be recognised, so it must not appear on its own.
	data, order, err := ParsePIDResponse([]byte{0x41, 0xC3, 0x01, 0x0D, 0x32})
	if err != nil || len(order) != 1 || len(data[0xC3]) != 3 {
		t.Errorf("unknown PID first: %v %v %v", order, data, err)
	}
}

func TestParseFreezeFrameResponse(t *testing.T) {
	resp := []byte{0x42, 0x02, 0x00, 0x01, 0x33, 0x0C, 0x00, 0x1A, 0xF8, 0x05, 0x00, 0x7B, 0x0D, 0x01, 0x32}
	items, err := ParseFreezeFrameResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := []FreezeItem{
		{PID: 0x02, Frame: 0, Data: []byte{0x01, 0x33}},
		{PID: 0x0C, Frame: 0, Data: []byte{0x1A, 0xF8}},
		{PID: 0x05, Frame: 0, Data: []byte{0x7B}},
		{PID: 0x0D, Frame: 1, Data: []byte{0x32}},
	}
	if !reflect.DeepEqual(items, want) {
		t.Errorf("got %+v, want %+v", items, want)
	}
	errs := []struct {
		resp []byte
		want error
	}{
		{[]byte{0x42}, ErrShortData},
		{[]byte{0x42, 0x0C}, ErrShortData},
		{[]byte{0x42, 0x0C, 0x00, 0x1A}, ErrShortData},
		{[]byte{0x42, 0xC3, 0x00}, ErrUnknownPID},
		{[]byte{0x42, 0x0D, 0x00, 0x32, 0x0D, 0x00, 0x33}, ErrDuplicatePID},
		{[]byte{0x41, 0x0D, 0x32}, ErrUnexpectedResponse},
		{[]byte{0x7F, 0x02, 0x31}, ErrNegativeResponse},
	}
	for _, tc := range errs {
		if _, err := ParseFreezeFrameResponse(tc.resp); !errors.Is(err, tc.want) {
			t.Errorf("ParseFreezeFrameResponse(% X) = %v, want %v", tc.resp, err, tc.want)
		}
	}
}

func FuzzParsePIDResponse(f *testing.F) {
	f.Add([]byte{0x41, 0x0C, 0x1A, 0xF8, 0x0D, 0x32})
	f.Add([]byte{0x41, 0x01, 0x81, 0x07, 0x65, 0x04, 0x05, 0x7B, 0x1C, 0x29, 0x21, 0, 0x0A, 0x31, 0x01, 0x2C, 0xA6, 0, 1, 0xE2, 0x40})
	f.Add([]byte{0x41, 0x0D, 0x32, 0xC3, 1, 2, 3})
	f.Add([]byte{0x7F, 0x01, 0x12})
	f.Fuzz(func(t *testing.T, resp []byte) {
		data, order, err := ParsePIDResponse(resp)
		if err != nil {
			return
		}
		if len(order) != len(data) || len(order) == 0 {
			t.Fatalf("%d PIDs in order, %d in map", len(order), len(data))
		}
		// Re-assembling the pieces gives back the response.
		re := []byte{0x41}
		for _, p := range order {
			re = append(append(re, byte(p)), data[p]...)
		}
		if !bytes.Equal(re, resp) {
			t.Fatalf("re-assembled % X, want % X", re, resp)
		}
		for _, p := range order {
			if _, ok := LookupPID(p); ok {
				_, _ = DecodePID(p, data[p])
			}
		}
	})
}

func FuzzParseFreezeFrame(f *testing.F) {
	f.Add([]byte{0x42, 0x02, 0x00, 0x01, 0x33, 0x0C, 0x00, 0x1A, 0xF8, 0x05, 0x00, 0x7B})
	f.Add([]byte{0x42, 0x00, 0x00, 0xBE, 0x1F, 0xA8, 0x13})
	f.Add([]byte{0x42, 0xC3, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, resp []byte) {
		items, err := ParseFreezeFrameResponse(resp)
		if err != nil {
			return
		}
		re := []byte{0x42}
		for _, it := range items {
			re = append(append(re, byte(it.PID), it.Frame), it.Data...)
		}
		if !bytes.Equal(re, resp) {
			t.Fatalf("re-assembled % X, want % X", re, resp)
		}
	})
}
