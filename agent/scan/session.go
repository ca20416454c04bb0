package scan

import (
	"maps"
	"slices"
	"sync"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Session is what the scans and live samples on one vehicle link learn about
// it and keep for the rest of the session: whether the adapter takes only
// one item (PID, PID/frame pair) per request, which ECUs answer only part
// of a request carrying several, and which have no Mode 06 (so that a later
// scan does not wait out the window for their silence again). A learnt limit is never forgotten
// while the link stays open, so a refusing adapter costs one wasted request
// per session, not one per scan. The zero value knows nothing; a Session is
// safe for concurrent use.
type Session struct {
	mu      sync.Mutex
	adapter string             // why every request carries one item; "" = it batches
	ecus    map[obd.ECU]string // ECUs that answer one item per request, and why
	noTests map[obd.ECU]bool   // ECUs without Mode 06 (silent to or refusing 06 00)
}

// withoutTests leaves out of ecus those the session knows have no Mode 06.
func (s *Session) withoutTests(ecus []obd.ECU) []obd.ECU {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(ecus), func(e obd.ECU) bool { return s.noTests[e] })
}

// hasNoTests remembers that ecu has no Mode 06.
func (s *Session) hasNoTests(ecu obd.ECU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noTests == nil {
		s.noTests = map[obd.ECU]bool{}
	}
	s.noTests[ecu] = true
}

// limiter is implemented by transports that carry fewer items per request
// than ISO 15765-4 allows: an ELM327 on a K-line or J1850 protocol takes one
// PID per request.
type limiter interface{ MaxPIDs() int }

// NoBatchReasons of the session, as the snapshot's stats report them.
const (
	// NoBatchAdapter: the adapter (or a gateway) refused or truncated a
	// request carrying several items although every item is supported.
	NoBatchAdapter = "adapter"
	// NoBatchProtocol: the vehicle protocol takes one PID per request
	// (SAE J1850, ISO 9141-2, ISO 14230-4).
	NoBatchProtocol = "protocol"
)

// perRequest is how many items one request to the given ECUs may carry:
// max unless the transport, the adapter or one of the ECUs takes one.
func (s *Session) perRequest(t obd.Transport, ecus []obd.ECU, max int) int {
	if l, ok := t.(limiter); ok {
		if n := l.MaxPIDs(); n > 0 && n < max {
			max = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adapter != "" {
		return 1
	}
	for _, e := range ecus {
		if _, ok := s.ecus[e]; ok {
			return 1
		}
	}
	return max
}

// noBatch remembers that every request must carry one item.
func (s *Session) noBatch(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adapter == "" {
		s.adapter = reason
	}
}

// noBatchECU remembers that ecu answers one item per request.
func (s *Session) noBatchECU(ecu obd.ECU, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ecus == nil {
		s.ecus = map[obd.ECU]string{}
	}
	if _, ok := s.ecus[ecu]; !ok {
		s.ecus[ecu] = reason
	}
}

// state reports what the session learnt: why the adapter takes one item per
// request ("" when it batches) and the ECUs that do, in address order.
func (s *Session) state() (adapter string, ecus []obd.ECU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adapter, slices.Sorted(maps.Keys(s.ecus))
}
