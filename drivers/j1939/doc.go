// Package j1939 talks SAE J1939 on a 29-bit CAN bus, as heavy-duty diesel
// vehicles do.
//
// It splits identifiers into priority, PGN, source and destination (PDU1 and
// PDU2 formats), claims an address for the agent as an off-board diagnostic
// tool (J1939-81), carries multi-packet messages with the transport protocol
// in both directions (J1939-21 TP.CM/TP.DT: BAM and RTS/CTS, with the standard
// timeouts and aborts), and decodes the diagnostic messages an inspector needs
// (J1939-73): DM1 and DM2 active and previously active trouble codes with lamp
// status, DM5 readiness, DM19 calibration identification, DM20 monitor
// performance ratios, DM21 distance and time with the MIL on and since codes
// were cleared, DM11 clear, the VIN, engine hours and vehicle distance.
//
// A Node is one address on the bus. It owns a reader goroutine that
// reassembles transport sessions and defends its address claim; Receive
// returns complete messages. A Node hears every message on the bus, those
// addressed to other nodes too, so that a read-only bus (a candump replay)
// can be decoded passively. Client adds request/answer bookkeeping on top of
// a Node: destination-specific requests to several ECUs, answers,
// negative acknowledgements and retries.
//
// Trouble codes are SPN (19 bits) + FMI (5 bits) + occurrence count (7 bits)
// + conversion method (1 bit), decoded per J1939-73 version 4 (CM = 0). A
// code sent with CM = 1 uses one of three older SPN layouts that a receiver
// cannot tell apart: it is decoded per version 4 all the same and keeps
// ConversionMethod = 1, so that a caller can flag its SPN as uncertain.
// The SPNs the package names and all FMIs have English and Chinese (zh-CN)
// texts: DescribeIn, SPNNameIn and FMIDescriptionIn take a language tag.
package j1939
