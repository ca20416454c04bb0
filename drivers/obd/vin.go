package obd

import "fmt"

// vinWeights are the ISO 3779 / 49 CFR 565 position weights.
var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// vinValue transliterates a VIN character; ok is false for characters a VIN
// may not contain (lower case, I, O, Q, punctuation).
func vinValue(c byte) (v int, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 1, true // A1 ... H8
	case c >= 'J' && c <= 'N':
		return int(c-'J') + 1, true // J1 ... N5
	case c == 'P':
		return 7, true
	case c == 'R':
		return 9, true
	case c >= 'S' && c <= 'Z':
		return int(c-'S') + 2, true // S2 ... Z9
	}
	return 0, false
}

// checkVINSyntax checks length and alphabet.
func checkVINSyntax(vin string) error {
	if len(vin) != 17 {
		return fmt.Errorf("%w: %q has %d", ErrVINLength, vin, len(vin))
	}
	for i := 0; i < len(vin); i++ {
		if _, ok := vinValue(vin[i]); !ok {
			return fmt.Errorf("%w: %q at position %d of %q", ErrVINCharacter, vin[i], i+1, vin)
		}
	}
	return nil
}

// VINCheckDigit computes the ISO 3779 check digit ('0'-'9' or 'X') of a
// 17-character VIN; the character at position 9 itself is ignored.
func VINCheckDigit(vin string) (byte, error) {
	if err := checkVINSyntax(vin); err != nil {
		return 0, err
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v, _ := vinValue(vin[i])
		sum += v * vinWeights[i]
	}
	if r := sum % 11; r < 10 {
		return byte('0' + r), nil
	}
	return 'X', nil
}

// ValidateVIN checks a VIN: 17 characters (ErrVINLength) of 0-9 and A-Z
// without I, O and Q (ErrVINCharacter), and the check digit at position 9
// (ErrVINCheckDigit). The check digit is mandatory in North America and
// China (GB 16735) but not in Europe, so callers may treat ErrVINCheckDigit
// as a warning.
func ValidateVIN(vin string) error {
	want, err := VINCheckDigit(vin)
	if err != nil {
		return err
	}
	if vin[8] != want {
		return fmt.Errorf("%w: %q has %c at position 9, want %c", ErrVINCheckDigit, vin, vin[8], want)
	}
	return nil
}
