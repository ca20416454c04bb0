// Package isotp implements ISO 15765-2 (ISO-TP) transport over CAN frames, in
// pure Go.
//
// It is the transport of OBD-II on CAN (ISO 15765-4), on top of a canbus.Conn.
//
// It has four layers, each usable alone:
//
//   - the frame codec (Parse, Encode, PDU): single, first (including the
//     32-bit length escape), consecutive and flow-control frames, always sent
//     with DLC 8 and padding, unpadded frames accepted on receive;
//   - Reassembler: the receive state machine for one sender;
//   - Client: an obd.Transport (tester side) with 11-bit and 29-bit OBD
//     addressing, functional requests answered by several ECUs at once, and
//     the P2 / P2* / N_Bs / N_Cr timers;
//   - Serve: the ECU side, used by the vehicle simulator, with fault
//     injection.
//
// Addressing (ISO 15765-4, normal addressing):
//
//	              11-bit              29-bit
//	functional    0x7DF               0x18DB33F1
//	physical      0x7E0-0x7E7         0x18DAxxF1
//	response      0x7E8-0x7EF         0x18DAF1xx
//
// An ECU is named by its response identifier (obd.ECU); its physical request
// identifier is the response identifier minus 8 (11-bit) or 0x18DAxxF1
// (29-bit), and that is where the tester's flow control goes, even after a
// functional request.
package isotp
