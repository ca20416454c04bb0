package obd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ECU identifies an electronic control unit by the CAN identifier it answers
// from: 0x7E8-0x7EF on 11-bit buses, 0x18DAF1xx on 29-bit buses. Every
// transport (ISO-TP over CAN, ELM327 with headers on) reports the same value
// for the same ECU, so snapshots do not depend on the path.
type ECU uint32

// String formats the ECU as its CAN identifier, e.g. "7E8" or "18DAF110".
func (e ECU) String() string {
	if e > 0x7FF {
		return fmt.Sprintf("%08X", uint32(e))
	}
	return fmt.Sprintf("%03X", uint32(e))
}

// MarshalText encodes the ECU as its hexadecimal CAN identifier.
func (e ECU) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText parses a hexadecimal CAN identifier such as "7E8" or
// "0x18DAF110".
func (e *ECU) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(string(b), "0x"), "0X")
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || v > 0x1FFFFFFF || s == "" {
		return fmt.Errorf("obd: bad ECU identifier %q: want hex CAN id such as 7E8 or 18DAF110", b)
	}
	*e = ECU(v)
	return nil
}

// Request is one diagnostic request.
type Request struct {
	// Data is the service request: service id then its parameters, e.g.
	// {0x01, 0x0C, 0x0D} for engine speed and vehicle speed.
	Data []byte
	// To addresses one ECU physically (by its response identifier). Zero
	// means functional addressing: every ECU may answer.
	To ECU
	// Expect lists the ECUs known to answer this request. The transport
	// returns as soon as each of them has answered (or the response timeout
	// passes). An empty Expect means discovery: wait out the full P2 window
	// and return whatever arrived.
	Expect []ECU
}

// Response is one ECU's answer to a request: the whole reassembled payload,
// starting with the response service id (request SID + 0x40) or with 0x7F for
// a negative response.
type Response struct {
	ECU  ECU
	Data []byte
}

// Transport carries OBD requests to the vehicle and collects the responses.
// Implementations: drivers/isotp (CAN) and drivers/elm327 (serial adapters).
//
// Do returns the responses in arrival order. A transport handles "response
// pending" (negative response code 0x78) itself by extending the wait; other
// negative responses are returned as responses. Do returns ErrNoResponse when
// no ECU answered at all.
type Transport interface {
	Do(ctx context.Context, req Request) ([]Response, error)
}

// ErrNoResponse is returned by a Transport when no ECU answered a request
// within the response window.
var ErrNoResponse = errors.New("obd: no response")
