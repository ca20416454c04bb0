package isotp

import "errors"

// Errors returned by this package; compare with errors.Is. They are wrapped
// with detail (the offending value, the ECU) where it helps.
var (
	// ErrEmptyFrame: a CAN frame carried no data bytes.
	ErrEmptyFrame = errors.New("isotp: empty frame")
	// ErrBadPCI: the protocol control information names no known frame type.
	ErrBadPCI = errors.New("isotp: unknown frame type (bad PCI)")
	// ErrBadLength: a single or first frame declares an invalid message
	// length, or a frame is shorter than its PCI requires.
	ErrBadLength = errors.New("isotp: invalid length")
	// ErrBadFlowStatus: a flow-control frame carries a reserved flow status.
	ErrBadFlowStatus = errors.New("isotp: invalid flow status")
	// ErrWrongSN: a consecutive frame carried an unexpected sequence
	// number; the message being received is abandoned.
	ErrWrongSN = errors.New("isotp: wrong sequence number")
	// ErrUnexpectedFrame: a frame that is valid on its own arrived when the
	// receiver was not expecting it (a consecutive frame with no message in
	// progress, a flow control frame given to a Reassembler).
	ErrUnexpectedFrame = errors.New("isotp: unexpected frame")
	// ErrInterrupted: a single or first frame arrived while a message was
	// being received; the unfinished message is abandoned.
	ErrInterrupted = errors.New("isotp: reception interrupted by a new message")
	// ErrOverflow: a first frame declares a message longer than the
	// receiver accepts (4095 bytes by default); the receiver answers with
	// flow status OVFLW.
	ErrOverflow = errors.New("isotp: message too long for receiver")
	// ErrFlowOverflow: while sending, the receiver answered with flow
	// status OVFLW.
	ErrFlowOverflow = errors.New("isotp: receiver reported overflow")
	// ErrTooManyWaits: while sending, the receiver sent more flow-control
	// WAIT frames in a row than allowed.
	ErrTooManyWaits = errors.New("isotp: too many flow-control WAIT frames")
	// ErrTimeoutBs: while sending, no flow control arrived within N_Bs.
	ErrTimeoutBs = errors.New("isotp: timeout waiting for flow control (N_Bs)")
	// ErrTimeoutCr: while receiving, no consecutive frame arrived within N_Cr.
	ErrTimeoutCr = errors.New("isotp: timeout waiting for consecutive frame (N_Cr)")
	// ErrTimeoutP2Star: an ECU answered "response pending" (NRC 0x78) but
	// sent no final response within P2*.
	ErrTimeoutP2Star = errors.New("isotp: response pending, no final response within P2*")
	// ErrBadRequest: a request that cannot be sent (empty, longer than 4095
	// bytes, or a functional request longer than one single frame).
	ErrBadRequest = errors.New("isotp: bad request")
	// ErrBadAddress: an ECU identifier that is not an OBD response
	// identifier (0x7E8-0x7EF or 0x18DAF1xx).
	ErrBadAddress = errors.New("isotp: not an OBD ECU response identifier")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("isotp: client closed")
)
