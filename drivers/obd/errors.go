package obd

import (
	"errors"
	"fmt"
)

// Errors returned by the decoders and encoders of this package. They are
// wrapped with context (the PID, the field, the offending byte); compare with
// errors.Is.
var (
	// ErrShortData: the payload ends before the data its format requires.
	ErrShortData = errors.New("obd: data too short")
	// ErrLength: the payload is longer than, or inconsistent with, the length
	// its format or its own count byte declares.
	ErrLength = errors.New("obd: data length mismatch")
	// ErrUnknownPID: the PID is not in the Mode 01/02 table, so its data
	// cannot be decoded or its length is unknown.
	ErrUnknownPID = errors.New("obd: unknown PID")
	// ErrNoEncoder: the PID has no generic encoder (bitmaps, monitor status
	// and PIDs whose layout is not decoded); use the dedicated encoder.
	ErrNoEncoder = errors.New("obd: no encoder for PID")
	// ErrMissingValue: EncodePID was not given a value that the PID always
	// carries.
	ErrMissingValue = errors.New("obd: missing value")
	// ErrValueRange: a value to encode lies outside what its field can carry.
	ErrValueRange = errors.New("obd: value out of range")
	// ErrUnexpectedResponse: the response is for another service, PID or
	// InfoType than the one being parsed.
	ErrUnexpectedResponse = errors.New("obd: unexpected response")
	// ErrDuplicatePID: a PID appears twice in one multi-PID response.
	ErrDuplicatePID = errors.New("obd: PID repeated in response")
	// ErrNegativeResponse matches every NegativeResponseError (errors.Is).
	ErrNegativeResponse = errors.New("obd: negative response")
	// ErrBadText: a text field (CALID, ECU name) holds a non-printable byte
	// or is too long for its slot.
	ErrBadText = errors.New("obd: invalid text field")
	// ErrBadCVN: a CVN to encode is not 8 hexadecimal digits.
	ErrBadCVN = errors.New("obd: invalid CVN")
	// ErrMonitorStatus: a MonitorStatus or IUPR to encode is inconsistent
	// (unknown ignition type or monitor name, DTC count out of range...).
	ErrMonitorStatus = errors.New("obd: invalid monitor status")

	// ErrVINLength: a VIN is not 17 characters long.
	ErrVINLength = errors.New("obd: VIN must be 17 characters")
	// ErrVINCharacter: a VIN holds a character outside 0-9 and A-Z, or one
	// of I, O and Q.
	ErrVINCharacter = errors.New("obd: invalid VIN character")
	// ErrVINCheckDigit: the ISO 3779 check digit (position 9) does not match.
	ErrVINCheckDigit = errors.New("obd: VIN check digit mismatch")
)

// Negative response codes (ISO 14229-1 / ISO 15765-4) an OBD ECU may send
// after 0x7F.
const (
	NRCGeneralReject                 byte = 0x10
	NRCServiceNotSupported           byte = 0x11
	NRCSubFunctionNotSupported       byte = 0x12
	NRCIncorrectMessageLength        byte = 0x13
	NRCResponseTooLong               byte = 0x14
	NRCBusyRepeatRequest             byte = 0x21
	NRCConditionsNotCorrect          byte = 0x22
	NRCRequestSequenceError          byte = 0x24
	NRCRequestOutOfRange             byte = 0x31
	NRCSecurityAccessDenied          byte = 0x33
	NRCInvalidKey                    byte = 0x35
	NRCExceededNumberOfAttempts      byte = 0x36
	NRCRequiredTimeDelayNotExpired   byte = 0x37
	NRCGeneralProgrammingFailure     byte = 0x72
	NRCResponsePending               byte = 0x78
	NRCServiceNotSupportedInSession  byte = 0x7F
	NRCSubFunctionNotSupportedInSess byte = 0x7E
)

var nrcNames = map[byte]string{
	NRCGeneralReject:                 "generalReject",
	NRCServiceNotSupported:           "serviceNotSupported",
	NRCSubFunctionNotSupported:       "subFunctionNotSupported",
	NRCIncorrectMessageLength:        "incorrectMessageLengthOrInvalidFormat",
	NRCResponseTooLong:               "responseTooLong",
	NRCBusyRepeatRequest:             "busyRepeatRequest",
	NRCConditionsNotCorrect:          "conditionsNotCorrect",
	NRCRequestSequenceError:          "requestSequenceError",
	NRCRequestOutOfRange:             "requestOutOfRange",
	NRCSecurityAccessDenied:          "securityAccessDenied",
	NRCInvalidKey:                    "invalidKey",
	NRCExceededNumberOfAttempts:      "exceededNumberOfAttempts",
	NRCRequiredTimeDelayNotExpired:   "requiredTimeDelayNotExpired",
	NRCGeneralProgrammingFailure:     "generalProgrammingFailure",
	NRCResponsePending:               "responsePending",
	NRCSubFunctionNotSupportedInSess: "subFunctionNotSupportedInActiveSession",
	NRCServiceNotSupportedInSession:  "serviceNotSupportedInActiveSession",
}

// NRCName returns the ISO 14229 name of a negative response code, e.g.
// "requestOutOfRange", or "nrc0xNN" for a code without a name.
func NRCName(code byte) string {
	if n, ok := nrcNames[code]; ok {
		return n
	}
	return fmt.Sprintf("nrc0x%02X", code)
}

// NegativeResponseError is an ECU's negative response (7F Service Code).
// errors.Is(err, ErrNegativeResponse) is true for every such error; use
// errors.As to read the service and code.
type NegativeResponseError struct {
	Service byte // the rejected request's service id, e.g. 0x09
	Code    byte // the negative response code, e.g. NRCRequestOutOfRange
}

// Error formats the error as
// "obd: negative response to service 0x09: requestOutOfRange (0x31)".
func (e NegativeResponseError) Error() string {
	return fmt.Sprintf("obd: negative response to service 0x%02X: %s (0x%02X)", e.Service, NRCName(e.Code), e.Code)
}

// Is reports whether target is ErrNegativeResponse.
func (e NegativeResponseError) Is(target error) bool { return target == ErrNegativeResponse }

// Pending reports whether the code is "response pending" (0x78): the ECU
// asks for more time and will answer later.
func (e NegativeResponseError) Pending() bool { return e.Code == NRCResponsePending }

// CheckResponse checks that resp answers the given request service: it
// returns nil when resp starts with service+0x40, a NegativeResponseError
// when it is a negative response (7F service code) to that service, and an
// error wrapping ErrShortData or ErrUnexpectedResponse otherwise.
func CheckResponse(service byte, resp []byte) error {
	if len(resp) == 0 {
		return fmt.Errorf("%w: empty response to service 0x%02X", ErrShortData, service)
	}
	switch resp[0] {
	case service + 0x40:
		return nil
	case 0x7F:
		if len(resp) < 3 {
			return fmt.Errorf("%w: negative response of %d bytes", ErrShortData, len(resp))
		}
		if resp[1] != service {
			return fmt.Errorf("%w: negative response to service 0x%02X, want 0x%02X", ErrUnexpectedResponse, resp[1], service)
		}
		return NegativeResponseError{Service: resp[1], Code: resp[2]}
	default:
		return fmt.Errorf("%w: response id 0x%02X to service 0x%02X", ErrUnexpectedResponse, resp[0], service)
	}
}
