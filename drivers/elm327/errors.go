package elm327

import (
	"errors"
	"fmt"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Errors returned by this package; compare with errors.Is. Most are the
// adapter's own status messages, named after the text it prints.
var (
	// ErrNoData: the adapter printed NO DATA, nobody answered within its
	// timeout. errors.Is(ErrNoData, obd.ErrNoResponse) holds.
	ErrNoData = fmt.Errorf("elm327: NO DATA: %w", obd.ErrNoResponse)
	// ErrCANError: CAN ERROR (or ERR9x): the adapter could not send or
	// receive on the CAN bus (wrong protocol or bit rate, wiring).
	ErrCANError = errors.New("elm327: CAN ERROR")
	// ErrBusInit: BUS INIT: ...ERROR, the initialisation of a non-CAN
	// protocol failed.
	ErrBusInit = errors.New("elm327: BUS INIT ERROR")
	// ErrUnableToConnect: UNABLE TO CONNECT, the protocol search found no
	// vehicle (ignition off, adapter not plugged in).
	ErrUnableToConnect = errors.New("elm327: UNABLE TO CONNECT")
	// ErrStopped: STOPPED, the adapter was interrupted by a character it
	// received while answering.
	ErrStopped = errors.New("elm327: STOPPED")
	// ErrBufferFull: BUFFER FULL, the adapter received more than it could
	// pass on over the serial line; the answer is lost.
	ErrBufferFull = errors.New("elm327: BUFFER FULL")
	// ErrBusError: BUS BUSY, BUS ERROR or FB ERROR: the bus was too busy or
	// electrically faulty.
	ErrBusError = errors.New("elm327: bus busy or bus error")
	// ErrDataError: DATA ERROR, <DATA ERROR or <RX ERROR: a corrupted
	// message (bad checksum, framing).
	ErrDataError = errors.New("elm327: data error")
	// ErrUnknownCommand: the adapter answered "?", it does not know the
	// command (clones lack many).
	ErrUnknownCommand = errors.New("elm327: unknown command (?)")
	// ErrAdapterReset: the adapter printed its banner or LV RESET in the
	// middle of a session: it reset and lost its settings.
	ErrAdapterReset = errors.New("elm327: adapter reset itself")
	// ErrNoAdapter: Open found no ELM327 answering at any baud rate, or the
	// adapter did not answer the reset.
	ErrNoAdapter = errors.New("elm327: no ELM327 adapter answers")
	// ErrTimeout: the adapter did not finish its answer with a prompt
	// within the timeout.
	ErrTimeout = errors.New("elm327: no prompt from the adapter within the timeout")
	// ErrBadResponse: the adapter printed something that is neither a
	// status message nor valid data.
	ErrBadResponse = errors.New("elm327: malformed response")
	// ErrIncomplete: a multi-frame answer ended before all its frames
	// arrived.
	ErrIncomplete = errors.New("elm327: incomplete multi-frame answer")
	// ErrBadRequest: a request the adapter cannot send (empty, longer than
	// a CAN single frame, or to an ECU identifier that is not an OBD one).
	ErrBadRequest = errors.New("elm327: bad request")
	// ErrUnsupportedProtocol: the vehicle speaks a protocol this driver does
	// not parse (only ISO 15765-4 CAN, protocols 6 to 9, is supported).
	ErrUnsupportedProtocol = errors.New("elm327: protocol not supported")
	// ErrBadSpec: Open got a device spec it cannot parse.
	ErrBadSpec = errors.New("elm327: bad device spec")
	// ErrClosed: the Adapter was closed, or its line ended.
	ErrClosed = errors.New("elm327: adapter closed")
)
