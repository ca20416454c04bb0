package obd

import (
	"errors"
	"testing"
)

func TestValidateVIN(t *testing.T) {
	tests := []struct {
		vin  string
		want error
	}{
		{"LFV2A21K8A4052691", nil}, // FAW-Volkswagen, check digit 8
		{"LGBH52E00KY000117", nil}, // Dongfeng Nissan, check digit 0
		{"1HGCM82633A004352", nil}, // Honda, check digit 3
		{"1M8GDM9AXKP042788", nil}, // remainder 10: check digit X
		{"1HGCM82643A004352", ErrVINCheckDigit},
		{"1HGCM82633A004353", ErrVINCheckDigit}, // one character changed
		{"WVWZZZ1JZXW000001", ErrVINCheckDigit}, // European VIN without check digit
		{"1HGCM82633A00435", ErrVINLength},
		{"1HGCM82633A0043521", ErrVINLength},
		{"", ErrVINLength},
		{"1HGCM82633A0O4352", ErrVINCharacter},
		{"1HGCM82633A0I4352", ErrVINCharacter},
		{"1HGCM82633A0Q4352", ErrVINCharacter},
		{"1hgcm82633a004352", ErrVINCharacter},
		{"1HGCM82633A00435-", ErrVINCharacter},
	}
	for _, tc := range tests {
		err := ValidateVIN(tc.vin)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("ValidateVIN(%q) = %v, want %v", tc.vin, err, tc.want)
		}
	}
}

func TestVINCheckDigit(t *testing.T) {
	for vin, want := range map[string]byte{
		"LFV2A21K8A4052691": '8', "1M8GDM9AXKP042788": 'X', "WVWZZZ1JZXW000001": '0',
		// Every letter of the transliteration table (values checked by hand).
		"ABCDEFGH0JKLMNPRS": '5', "TUVWXYZ12J3456789": '9',
	} {
		if got, err := VINCheckDigit(vin); err != nil || got != want {
			t.Errorf("VINCheckDigit(%q) = %c, %v; want %c", vin, got, err, want)
		}
	}
}
