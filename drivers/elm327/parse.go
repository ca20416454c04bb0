package elm327

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Format says how the adapter prints an answer.
type Format struct {
	// Headers is true when the adapter shows CAN identifiers (ATH1): every
	// line is one CAN frame, header then the frame's bytes with the PCI.
	// When false (ATH0 with CAN formatting) single frames show only their
	// payload and multi-frame answers come as a length line and numbered
	// lines ("014", "0: 49 02 01 ...").
	Headers bool
	// IDBits is 11 or 29, the width of the headers; zero infers it from each
	// line (a 3-digit header leaves an odd number of digits, an 8-digit one
	// an even number).
	IDBits int
	// ECU is the ECU every answer is attributed to when Headers is false
	// (the adapter does not say who answered). Zero means 0x7E8 on CAN and
	// 0x10 (the engine) on the other protocols.
	ECU obd.ECU
	// Protocol is the ELM327 protocol number ('1' to '9'); a non-CAN one
	// ('1' to '5') selects the frame format of legacy.go. Zero means CAN.
	Protocol byte
}

// parsed is what one answer held besides its responses.
type parsed struct {
	resps      []obd.Response
	malformed  []string  // lines that were neither status nor valid data
	incomplete []obd.ECU // ECUs whose multi-frame answer did not finish
	pending    int       // "response pending" answers dropped
	searched   bool      // SEARCHING... was shown
	idBits     int       // header width seen, 0 if none
	status     error     // the first status message beside the data (NO DATA, CAN ERROR, ...)
	badChecks  int       // non-CAN frames whose check byte did not match
	legacy     bool      // parsed as a non-CAN protocol
	firstFrame []byte    // the first non-CAN frame as printed (header and check byte included)
}

// ParseResponse parses the text an adapter printed in answer to one OBD
// request: everything before the prompt, echo removed, lines separated by CR
// and/or LF, with or without spaces. It returns the reassembled answer of
// every ECU in order of completion. "Response pending" answers (7F xx 78) are
// dropped. Lines that are not valid data are skipped as long as some valid
// answer remains, and so are status lines beside valid answers: with headers
// on, one ECU's frames and a NO DATA (or CAN ERROR, DATA ERROR, ...) line in
// the same answer give that ECU's answer.
//
// Errors: a reset banner, STOPPED and BUFFER FULL mean the answer itself is
// lost and yield ErrAdapterReset, ErrStopped and ErrBufferFull whatever else
// was printed. With no valid answer, a status message yields its sentinel
// (ErrNoData, ErrCANError, ErrBusInit, ErrUnableToConnect, ErrBusError,
// ErrDataError, ErrUnknownCommand); text with no valid answer yields
// ErrBadResponse, a multi-frame answer cut short ErrIncomplete, and an empty
// answer obd.ErrNoResponse.
func ParseResponse(text string, f Format) ([]obd.Response, error) {
	p, err := parseResponse(text, f)
	if err != nil {
		return nil, err
	}
	return p.resps, p.err()
}

// err turns the leftovers of a parse into the error a caller sees when no
// answer remains.
func (p *parsed) err() error {
	switch {
	case len(p.resps) > 0:
		return nil
	case p.status != nil:
		return p.status
	case len(p.incomplete) > 0:
		return fmt.Errorf("%w: ECU %s", ErrIncomplete, p.incomplete[0])
	case len(p.malformed) > 0:
		return fmt.Errorf("%w: %q", ErrBadResponse, p.malformed[0])
	}
	return obd.ErrNoResponse
}

// statusErrors maps the adapter's status messages (upper case, spaces
// removed) to errors.
var statusErrors = map[string]error{
	"NODATA":          ErrNoData,
	"CANERROR":        ErrCANError,
	"UNABLETOCONNECT": ErrUnableToConnect,
	"STOPPED":         ErrStopped,
	"BUFFERFULL":      ErrBufferFull,
	"?":               ErrUnknownCommand,
	"BUSBUSY":         ErrBusError,
	"BUSERROR":        ErrBusError,
	"FBERROR":         ErrBusError,
	"DATAERROR":       ErrDataError,
	"<DATAERROR":      ErrDataError,
	"<RXERROR":        ErrDataError,
	"RXERROR":         ErrDataError,
	"LVRESET":         ErrAdapterReset,
	"ACTALERT":        ErrAdapterReset,
}

// statusError reports whether line is a status message and which. compact
// is the line upper-cased with spaces removed.
func statusError(line, compact string) (error, bool) {
	if err, ok := statusErrors[compact]; ok {
		return fmt.Errorf("%w (adapter said %q)", err, line), true
	}
	switch {
	case strings.HasPrefix(compact, "BUSINIT"):
		if strings.HasSuffix(compact, "ERROR") {
			return fmt.Errorf("%w (adapter said %q)", ErrBusInit, line), true
		}
		return nil, true // BUS INIT: ...OK
	case strings.HasPrefix(compact, "SEARCHING"):
		return nil, true
	case isBanner(compact):
		return fmt.Errorf("%w (adapter said %q)", ErrAdapterReset, line), true
	case len(compact) == 5 && strings.HasPrefix(compact, "ERR") && isDigits(compact[3:]):
		return fmt.Errorf("%w (adapter said %q)", ErrCANError, line), true
	case strings.HasSuffix(compact, "<DATAERROR"), strings.HasSuffix(compact, "<RXERROR"):
		return fmt.Errorf("%w (adapter said %q)", ErrDataError, line), true
	}
	return nil, false
}

// fatalStatus reports whether a status message means that the answer it
// appears in is lost: the adapter reset, was interrupted or overflowed.
func fatalStatus(err error) bool {
	return errors.Is(err, ErrAdapterReset) || errors.Is(err, ErrStopped) || errors.Is(err, ErrBufferFull)
}

// answerLine is one line of an answer, as printed and compacted.
type answerLine struct{ text, compact string }

// dataLines splits an answer, CAN or not, into its lines and takes in the
// status messages among them: it keeps the first status that leaves the
// answer usable and notes a protocol search, and returns the other lines.
// A status that loses the answer (fatalStatus) is the error.
func (p *parsed) dataLines(text string) ([]answerLine, error) {
	var out []answerLine
	for _, l := range splitLines(text) {
		c := compact(l)
		err, ok := statusError(l, c)
		switch {
		case !ok:
			out = append(out, answerLine{l, c})
		case fatalStatus(err):
			return nil, err
		default:
			if err != nil && p.status == nil {
				p.status = err
			}
			p.searched = p.searched || strings.HasPrefix(c, "SEARCHING")
		}
	}
	return out, nil
}

// isBanner reports whether a compacted line is the banner an ELM327 prints
// after a reset ("ELM327 v1.5").
func isBanner(compact string) bool { return strings.HasPrefix(compact, "ELM327") }

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// splitLines splits text at CR and LF, trims each line and drops empty ones.
func splitLines(text string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(text, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// compact upper-cases s and removes spaces.
func compact(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

// multi is a headers-off multi-frame answer being collected.
type multi struct {
	total int // declared length
	next  int // next expected line index, 0-15
	data  []byte
}

func parseResponse(text string, f Format) (*parsed, error) {
	if isLegacy(f.Protocol) {
		return parseLegacy(text, f)
	}
	p := &parsed{}
	def := f.ECU
	if def == 0 {
		def = 0x7E8
	}
	ras := map[obd.ECU]*isotp.Reassembler{}
	var order []obd.ECU // ECUs in order of first frame, for incomplete
	var cur *multi      // headers-off multi-frame in progress
	finish := func(ecu obd.ECU, msg []byte) {
		if len(msg) >= 3 && msg[0] == 0x7F && msg[2] == 0x78 {
			p.pending++
			return
		}
		p.resps = append(p.resps, obd.Response{ECU: ecu, Data: msg})
	}
	endMulti := func() {
		if cur != nil {
			p.incomplete = append(p.incomplete, def)
			cur = nil
		}
	}
	lines, err := p.dataLines(text)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		line, c := l.text, l.compact
		// Headers-off multi-frame: "N: data" lines after a length line.
		if i := strings.IndexByte(c, ':'); i >= 0 {
			idx, err1 := strconv.ParseUint(c[:i], 16, 8)
			b, err2 := hex.DecodeString(c[i+1:])
			switch {
			case err1 != nil || err2 != nil || len(b) == 0 || i != 1:
				p.malformed = append(p.malformed, line)
			case cur == nil:
				p.malformed = append(p.malformed, line)
			case int(idx) != cur.next:
				p.malformed = append(p.malformed, line)
				endMulti()
			default:
				cur.data = append(cur.data, b...)
				cur.next = (cur.next + 1) % 16
				if len(cur.data) >= cur.total {
					finish(def, cur.data[:cur.total])
					cur = nil
				}
			}
			continue
		}
		if !isHex(c) {
			p.malformed = append(p.malformed, line)
			continue
		}
		if len(c) == 3 { // length line of a headers-off multi-frame answer
			n, _ := strconv.ParseUint(c, 16, 16)
			endMulti()
			if n <= isotp.MaxSingle {
				p.malformed = append(p.malformed, line)
				continue
			}
			cur = &multi{total: int(n)}
			continue
		}
		endMulti()
		hlen := headerLen(f, len(c))
		if hlen == 0 {
			if len(c)%2 != 0 {
				p.malformed = append(p.malformed, line)
				continue
			}
			b, _ := hex.DecodeString(c)
			finish(def, b)
			continue
		}
		if len(c) <= hlen || (len(c)-hlen)%2 != 0 {
			p.malformed = append(p.malformed, line)
			continue
		}
		id, _ := strconv.ParseUint(c[:hlen], 16, 32)
		if (hlen == 3 && id > 0x7FF) || id > 0x1FFFFFFF {
			p.malformed = append(p.malformed, line)
			continue
		}
		p.idBits = 11
		if hlen == 8 {
			p.idBits = 29
		}
		data, _ := hex.DecodeString(c[hlen:])
		if len(data) > 8 {
			p.malformed = append(p.malformed, line)
			continue
		}
		ecu := obd.ECU(id)
		r := ras[ecu]
		if r == nil {
			r = &isotp.Reassembler{}
			ras[ecu] = r
			order = append(order, ecu)
		}
		res, err := r.Feed(data)
		if res.Aborted != nil {
			p.incomplete = append(p.incomplete, ecu)
		}
		if err != nil {
			p.malformed = append(p.malformed, line)
			continue
		}
		if res.Message != nil {
			finish(ecu, res.Message)
		}
	}
	endMulti()
	for _, ecu := range order {
		if ras[ecu].InProgress() {
			p.incomplete = append(p.incomplete, ecu)
		}
	}
	return p, nil
}

// parseLegacy parses the answer of a non-CAN protocol (see legacy.go).
func parseLegacy(text string, f Format) (*parsed, error) {
	p := &parsed{legacy: true}
	var frames []legacyFrame
	lines, err := p.dataLines(text)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		line, c := l.text, l.compact
		fr, badCheck, err := parseLegacyLine(c, f.Headers, f.Protocol)
		if err != nil {
			p.malformed = append(p.malformed, line)
			continue
		}
		if badCheck {
			p.badChecks++
		}
		if p.firstFrame == nil && f.Headers {
			p.firstFrame, _ = hex.DecodeString(c)
		}
		if !f.Headers && f.ECU != 0 {
			fr.ecu = f.ECU
		}
		frames = append(frames, fr)
	}
	assembleLegacy(frames, p)
	return p, nil
}

// headerLen returns how many hex digits of a data line of n digits are the
// CAN identifier: 0 without headers, 3 or 8 with.
func headerLen(f Format, n int) int {
	if !f.Headers {
		return 0
	}
	switch f.IDBits {
	case 11:
		return 3
	case 29:
		return 8
	}
	if n%2 == 1 {
		return 3
	}
	return 8
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}
