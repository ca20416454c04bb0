package obd

import (
	"errors"
	"testing"
)

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		service byte
		resp    []byte
		want    error
		nrc     byte
	}{
		{0x01, []byte{0x41, 0x0C, 0x1A, 0xF8}, nil, 0},
		{0x09, []byte{0x49}, nil, 0},
		{0x01, nil, ErrShortData, 0},
		{0x01, []byte{0x42, 0x0C}, ErrUnexpectedResponse, 0},
		{0x09, []byte{0x7F, 0x09, 0x31}, ErrNegativeResponse, NRCRequestOutOfRange},
		{0x01, []byte{0x7F, 0x01, 0x78}, ErrNegativeResponse, NRCResponsePending},
		{0x01, []byte{0x7F, 0x01}, ErrShortData, 0},
		{0x01, []byte{0x7F, 0x02, 0x12}, ErrUnexpectedResponse, 0},
	}
	for _, tc := range tests {
		err := CheckResponse(tc.service, tc.resp)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("CheckResponse(%02X, % X) = %v, want %v", tc.service, tc.resp, err, tc.want)
			continue
		}
		var nre NegativeResponseError
		if errors.As(err, &nre) != (tc.nrc != 0) || nre.Code != tc.nrc {
			t.Errorf("CheckResponse(% X): As = %+v, want code %02X", tc.resp, nre, tc.nrc)
		}
		if tc.nrc != 0 && nre.Service != tc.service {
			t.Errorf("service %02X, want %02X", nre.Service, tc.service)
		}
	}
}

func TestNegativeResponseError(t *testing.T) {
	err := error(NegativeResponseError{Service: 0x09, Code: 0x31})
	if got, want := err.Error(), "obd: negative response to service 0x09: requestOutOfRange (0x31)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Is(err, ErrShortData) {
		t.Error("matches ErrShortData")
	}
	if (NegativeResponseError{Code: 0x78}).Pending() != true || (NegativeResponseError{Code: 0x22}).Pending() {
		t.Error("Pending")
	}
	for code, want := range map[byte]string{
		0x11: "serviceNotSupported", 0x12: "subFunctionNotSupported", 0x22: "conditionsNotCorrect",
		0x31: "requestOutOfRange", 0x78: "responsePending", 0x99: "nrc0x99",
	} {
		if got := NRCName(code); got != want {
			t.Errorf("NRCName(%02X) = %q, want %q", code, got, want)
		}
	}
}
