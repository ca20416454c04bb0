package obd

import (
	"fmt"
)

// Service identifiers of SAE J1979 parsed in this file and vehinfo.go.
const (
	svcCurrentData byte = 0x01
	svcFreezeFrame byte = 0x02
	svcVehicleInfo byte = 0x09
)

// ParsePIDResponse splits a Mode 01 positive response that may carry several
// PIDs ("41 0C 1A F8 0D 32") into each PID's data bytes, using the lengths of
// the PID table. It returns the data by PID and the PIDs in response order.
// The data slices alias resp. A PID missing from the table can only be the
// last one (its data is then the rest of the response); elsewhere it gives
// ErrUnknownPID, since the response cannot be split further. A negative
// response gives a NegativeResponseError.
func ParsePIDResponse(resp []byte) (map[PID][]byte, []PID, error) {
	if err := CheckResponse(svcCurrentData, resp); err != nil {
		return nil, nil, err
	}
	data := make(map[PID][]byte)
	var order []PID
	rest := resp[1:]
	if len(rest) == 0 {
		return nil, nil, fmt.Errorf("%w: Mode 01 response without a PID", ErrShortData)
	}
	for len(rest) > 0 {
		pid := PID(rest[0])
		n, err := pidLength(pid, rest[1:])
		if err != nil {
			return nil, nil, err
		}
		if _, dup := data[pid]; dup {
			return nil, nil, fmt.Errorf("%w: %s", ErrDuplicatePID, pid)
		}
		data[pid] = rest[1 : 1+n : 1+n]
		order = append(order, pid)
		rest = rest[1+n:]
	}
	return data, order, nil
}

// pidLength returns how many bytes of rest belong to pid.
func pidLength(pid PID, rest []byte) (int, error) {
	d := pidTable[pid]
	if d == nil {
		// An unknown PID can only be split off when it ends the response.
		// Its data must not start with what looks like another PID of a
		// multi-PID answer, which we cannot tell; so take the rest whole.
		if len(rest) == 0 {
			return 0, fmt.Errorf("%w: %s with no data", ErrUnknownPID, pid)
		}
		return len(rest), nil
	}
	if len(rest) < d.Length {
		return 0, fmt.Errorf("%w: PID %s needs %d bytes, %d left", ErrShortData, pid, d.Length, len(rest))
	}
	return d.Length, nil
}

// FreezeItem is one PID of a Mode 02 (freeze frame) response.
type FreezeItem struct {
	PID   PID
	Frame byte   // freeze frame number, 0 for the OBD-required frame
	Data  []byte // the PID's data bytes, aliasing the response
}

// ParseFreezeFrameResponse parses a Mode 02 positive response
// "42 PID FRAME data [PID FRAME data]..." into its items, in order, using
// the lengths of the PID table (PID 02 is the DTC that stored the frame). An
// unknown PID that is not the last item gives ErrUnknownPID.
func ParseFreezeFrameResponse(resp []byte) ([]FreezeItem, error) {
	if err := CheckResponse(svcFreezeFrame, resp); err != nil {
		return nil, err
	}
	rest := resp[1:]
	if len(rest) == 0 {
		return nil, fmt.Errorf("%w: Mode 02 response without a PID", ErrShortData)
	}
	var items []FreezeItem
	for len(rest) > 0 {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: PID %s without frame number", ErrShortData, PID(rest[0]))
		}
		pid, frame := PID(rest[0]), rest[1]
		n, err := pidLength(pid, rest[2:])
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.PID == pid && it.Frame == frame {
				return nil, fmt.Errorf("%w: %s frame %d", ErrDuplicatePID, pid, frame)
			}
		}
		items = append(items, FreezeItem{PID: pid, Frame: frame, Data: rest[2 : 2+n : 2+n]})
		rest = rest[2+n:]
	}
	return items, nil
}
