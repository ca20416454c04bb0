package j1939

import (
	"errors"
	"fmt"
)

// Errors of this package; returned errors wrap them with detail. Compare with
// errors.Is.
var (
	// ErrNotJ1939 is returned for a frame that cannot be J1939: an 11-bit
	// identifier or a remote frame.
	ErrNotJ1939 = errors.New("j1939: not a J1939 frame")
	// ErrShortData is returned when a message is shorter than its layout.
	ErrShortData = errors.New("j1939: message too short")
	// ErrFormat is returned for a message whose content breaks its layout
	// (a bad count, non-text bytes in a text field, a reserved value).
	ErrFormat = errors.New("j1939: malformed message")
	// ErrTransport is returned for a malformed TP.CM or TP.DT frame.
	ErrTransport = errors.New("j1939: malformed transport protocol frame")
	// ErrTooLong is returned when a message exceeds the 1785 bytes the
	// transport protocol can carry.
	ErrTooLong = errors.New("j1939: message longer than 1785 bytes")
	// ErrAborted is matched by every *TransferError: a multi-packet
	// transfer was aborted by either side or timed out.
	ErrAborted = errors.New("j1939: transfer aborted")
	// ErrCannotClaim is returned when every address the node may use is
	// held by a node with a higher-priority NAME.
	ErrCannotClaim = errors.New("j1939: cannot claim an address")
	// ErrNoAddress is returned by Send before Claim succeeded.
	ErrNoAddress = errors.New("j1939: no address claimed")
	// ErrListenOnly is returned by Send and Claim on a node that only
	// listens (Config.ListenOnly, or a bus that refused to transmit).
	ErrListenOnly = errors.New("j1939: node is listen-only")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("j1939: node closed")
	// ErrMissingField is returned by ClearActive without a job or
	// technician id.
	ErrMissingField = errors.New("j1939: missing field")
)

// AbortReason is the reason byte of a TP.CM Connection Abort (J1939-21).
type AbortReason uint8

// Abort reasons. ReasonTimeout is also used for transfers this node gave up
// on without an abort frame (BAM, or a peer that stopped answering).
const (
	ReasonInSession     AbortReason = 1   // already in one or more connection-managed sessions
	ReasonResources     AbortReason = 2   // system resources were needed for another task
	ReasonTimeout       AbortReason = 3   // a timeout occurred
	ReasonCTSInTransfer AbortReason = 4   // CTS received while a data transfer is in progress
	ReasonRetransmit    AbortReason = 5   // maximum retransmit request limit reached
	ReasonUnexpectedDT  AbortReason = 6   // unexpected data transfer packet
	ReasonBadSequence   AbortReason = 7   // bad sequence number
	ReasonDuplicateSeq  AbortReason = 8   // duplicate sequence number
	ReasonTooLong       AbortReason = 9   // total message size > 1785 bytes
	ReasonOther         AbortReason = 250 // any other reason
)

func (r AbortReason) String() string {
	switch r {
	case ReasonInSession:
		return "already in a connection-managed session"
	case ReasonResources:
		return "system resources needed for another task"
	case ReasonTimeout:
		return "timeout"
	case ReasonCTSInTransfer:
		return "CTS received during data transfer"
	case ReasonRetransmit:
		return "retransmit limit reached"
	case ReasonUnexpectedDT:
		return "unexpected data transfer packet"
	case ReasonBadSequence:
		return "bad sequence number"
	case ReasonDuplicateSeq:
		return "duplicate sequence number"
	case ReasonTooLong:
		return "message larger than 1785 bytes"
	default:
		return fmt.Sprintf("reason %d", uint8(r))
	}
}

// TransferError describes a multi-packet transfer that did not complete.
// It matches ErrAborted.
type TransferError struct {
	PGN          PGN
	Source, Dest uint8
	Reason       AbortReason
	// ByPeer is true when the other side sent the abort.
	ByPeer bool
}

func (e *TransferError) Error() string {
	who := "given up"
	if e.ByPeer {
		who = "aborted by peer"
	}
	return fmt.Sprintf("j1939: transfer of PGN %d from %02X to %02X %s: %s", e.PGN, e.Source, e.Dest, who, e.Reason)
}

// Is makes errors.Is(err, ErrAborted) true.
func (e *TransferError) Is(target error) bool { return target == ErrAborted }
