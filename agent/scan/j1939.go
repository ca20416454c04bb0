package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

// ProtocolJ1939 is the Snapshot.Protocol of a J1939 scan when
// Options.Protocol is empty.
const ProtocolJ1939 = "SAE J1939 (250 kbit/s)"

const (
	// j1939Quiet ends a passive scan of a live read-only bus: no message
	// for this long (longer than the 1 s DM1 period) means nothing more
	// is coming.
	j1939Quiet = 3 * time.Second
	// j1939Listen is how long a scan waits for broadcasts when no
	// controller answered the request for address claims.
	j1939Listen = 1500 * time.Millisecond
	// j1939DetectWindow bounds DetectJ1939.
	j1939DetectWindow = 1100 * time.Millisecond
	// j1939Queue holds messages heard before the scan reads them; a replay
	// is read faster than the scan consumes it.
	j1939Queue = 8192
)

// j1939PGNs are requested from every controller, in this order.
var j1939PGNs = []j1939.PGN{
	j1939.PGNDM1, j1939.PGNDM2, j1939.PGNDM5, j1939.PGNDM19, j1939.PGNDM20,
	j1939.PGNDM21, j1939.PGNVehicleIdent, j1939.PGNEngineHours, j1939.PGNVehicleDistance, j1939.PGNVDHR,
}

// ScanJ1939 reads a health snapshot from a heavy-duty vehicle on SAE J1939.
//
// Active mode: the agent claims a tool address (j1939.ToolName, 0xF9 first),
// which also lists the controllers (those that answer the request for
// address claims; when none does, those heard broadcasting DM1), then asks
// each controller, with destination-specific requests, for DM1 (active
// codes and lamps), DM2 (previously active), DM5 (readiness), DM19
// (CALID/CVN), DM20 (monitor performance ratios), DM21 (distance and time
// with the MIL on and since codes cleared), the VIN, engine hours and
// vehicle distance. A controller that does not support a message NACKs it;
// a failed transfer is requested once more, then reported in Problems.
// Nothing waits for a broadcast that can be requested.
//
// Passive mode: when the bus cannot transmit (canbus.ErrReadOnly, a candump
// replay), the scan only listens: it takes every message on the log or bus,
// including the answers to another tool's requests, reassembles their
// transfers, and builds the snapshot from the last message of each kind per
// controller. It ends at the end of the log, after 3 s without traffic, or
// when ctx ends.
//
// Snapshot mapping: Stored holds each ECU's DM1 active codes; Pending and
// Permanent stay empty (J1939 has neither); DM2 previously active codes go
// to the ECU's previously active list (ECU.Previous). Readiness and
// Ignition ("compression") come from DM5, mapped onto the SAE J1979
// compression-ignition monitors; DTCCount is DM5's active count; OBDStandard
// is DM5's OBD compliance; ECU.Address is the source address. Engine hours
// and total vehicle distance are ECU live values (engine_hours, odometer)
// and the distance is also Snapshot.Odometer. DM21 gives the ECU live
// values of SAE J1979 PIDs 21, 31, 4D and 4E (distance_with_mil and
// distance_since_clear in km, time_with_mil and time_since_clear in min);
// the snapshot's counters are lifted from them as in Scan (liftCounters:
// the most with the MIL on, the least since clear). Flags are those of Scan
// (codes_cleared_recently from DM21's distance since clear).
func ScanJ1939(ctx context.Context, conn canbus.Conn, opts Options) (*Snapshot, error) {
	opts.defaults()
	return scanJ1939(ctx, conn, opts)
}

type j1939Key struct {
	pgn j1939.PGN
	src uint8
}

type j1939Scan struct {
	opts     Options
	node     *j1939.Node
	latest   map[j1939Key]j1939.Message
	names    map[uint8]j1939.Name
	problems []string
}

func (s *j1939Scan) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	s.opts.Logger.Warn("scan: " + msg)
}

func (s *j1939Scan) observe(m j1939.Message) {
	if m.PGN == j1939.PGNAddressClaimed {
		if name, err := j1939.ParseName(m.Data); err == nil && m.Source < j1939.AddressNull {
			s.names[m.Source] = name
		}
		return
	}
	s.latest[j1939Key{m.PGN, m.Source}] = m
}

func scanJ1939(ctx context.Context, conn canbus.Conn, opts Options) (*Snapshot, error) {
	start := opts.Now()
	node := j1939.NewNode(conn, j1939.Config{
		Name: j1939.ToolName, Addresses: j1939.ToolAddresses(), QueueLen: j1939Queue, Logger: opts.Logger,
	})
	defer node.Close()
	s := &j1939Scan{opts: opts, node: node, latest: map[j1939Key]j1939.Message{}, names: map[uint8]j1939.Name{}}
	snap := &Snapshot{Protocol: opts.Protocol}
	if snap.Protocol == "" {
		snap.Protocol = ProtocolJ1939
	}
	snap.Stats.Started = start

	_, err := node.Claim(ctx)
	switch {
	case errors.Is(err, j1939.ErrListenOnly):
		if err := s.listen(ctx); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("scan: J1939 address claim: %w", err)
	default:
		snap.Stats.Requests, snap.Stats.FullWindow = 1, 1 // the request for address claims
		n, err := s.request(ctx)
		snap.Stats.Requests += n
		if err != nil {
			return nil, err
		}
	}
	ecus := s.controllers()
	if len(ecus) == 0 {
		return nil, ErrNoVehicle
	}
	s.assemble(snap, ecus)
	snap.Stats.Duration = opts.Now().Sub(start)
	return snap, nil
}

// listen is the passive mode: take every message until the log ends, the
// bus goes quiet or ctx ends.
func (s *j1939Scan) listen(ctx context.Context) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, j1939Quiet)
		m, err := s.node.Receive(rctx)
		cancel()
		var te *j1939.TransferError
		switch {
		case errors.As(err, &te):
			s.problem("transfer of PGN %d from %02X to %02X failed: %s", te.PGN, te.Source, te.Dest, te.Reason)
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("scan: J1939 listen: %w", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			return nil // quiet
		case err != nil:
			return fmt.Errorf("scan: J1939 listen: %w", err)
		}
		s.observe(m)
	}
}

// request asks every controller for every message of j1939PGNs.
func (s *j1939Scan) request(ctx context.Context) (int, error) {
	for a, n := range s.node.Claims() {
		s.names[a] = n
	}
	c := &j1939.Client{Node: s.node, Observe: s.observe}
	targets := s.controllers()
	if len(targets) == 0 {
		// Nobody answered the request for address claims: take the
		// controllers that broadcast DM1.
		lctx, cancel := context.WithTimeout(ctx, j1939Listen)
		for {
			m, err := s.node.Receive(lctx)
			if err == nil {
				s.observe(m)
				continue
			}
			if errors.Is(err, j1939.ErrAborted) {
				continue
			}
			break
		}
		cancel()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		targets = s.controllers()
	}
	for _, pgn := range j1939PGNs {
		answers, err := c.Request(ctx, pgn, targets)
		if err != nil {
			return c.Requests, fmt.Errorf("scan: J1939 request PGN %d: %w", pgn, err)
		}
		for _, a := range targets {
			ans := answers[a]
			switch {
			case ans.Err != nil:
				s.problem("ECU %02X: PGN %d: %v", a, pgn, ans.Err)
			case ans.Ack != nil && ans.Ack.Control != j1939.Nack:
				s.problem("ECU %02X: PGN %d: %s", a, pgn, ans.Ack.Control)
			}
		}
	}
	return c.Requests, nil
}

// controllers lists the addresses of the vehicle's controllers: those that
// claimed an address with a NAME that is not an off-board tool's, and those
// that sent diagnostic messages, in address order.
func (s *j1939Scan) controllers() []uint8 {
	set := map[uint8]bool{}
	for a, n := range s.names {
		if n.Fields().Function != j1939.FunctionOffboardTool {
			set[a] = true
		}
	}
	for k := range s.latest {
		if slices.Contains(j1939PGNs, k.pgn) {
			if n, ok := s.names[k.src]; !ok || n.Fields().Function != j1939.FunctionOffboardTool {
				set[k.src] = true
			}
		}
	}
	out := make([]uint8, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func (s *j1939Scan) msg(pgn j1939.PGN, src uint8) ([]byte, bool) {
	m, ok := s.latest[j1939Key{pgn, src}]
	return m.Data, ok
}

func j1939Codes(d []j1939.DTC) []obd.DTC {
	out := make([]obd.DTC, len(d))
	for i, x := range d {
		out[i] = x.OBD()
	}
	return out
}

// assemble builds the snapshot from the last message of each kind per
// controller.
func (s *j1939Scan) assemble(snap *Snapshot, addrs []uint8) {
	var statuses []obd.MonitorStatus
	for _, a := range addrs {
		addr := obd.ECU(a)
		out := ECU{Address: addr, Name: j1939.AddressName(a), Stored: []obd.DTC{}, Pending: []obd.DTC{}, Permanent: []obd.DTC{}, SupportedPIDs: []string{}}
		if n, ok := s.names[a]; ok && out.Name == "" {
			out.Name = fmt.Sprintf("J1939 function %d", n.Fields().Function)
		}
		if b, ok := s.msg(j1939.PGNDM1, a); ok {
			if dm1, err := j1939.ParseDM1(b); err != nil {
				s.problem("ECU %02X: DM1: %v", a, err)
			} else {
				out.MIL = dm1.Lamps.MIL == j1939.LampOn
				l := dm1.Lamps
				out.Lamps = &Lamps{MIL: l.MIL.String(), RedStop: l.RedStop.String(), AmberWarning: l.AmberWarning.String(), Protect: l.Protect.String()}
				out.Stored = j1939Codes(dm1.DTCs)
				out.DTCCount = len(dm1.DTCs)
				s.checkCM(a, "DM1", dm1.DTCs)
			}
		}
		if b, ok := s.msg(j1939.PGNDM2, a); ok {
			if dm2, err := j1939.ParseDM1(b); err != nil {
				s.problem("ECU %02X: DM2: %v", a, err)
			} else {
				out.Previous = j1939Codes(dm2.DTCs)
				s.checkCM(a, "DM2", dm2.DTCs)
			}
		}
		if b, ok := s.msg(j1939.PGNDM5, a); ok {
			if dm5, err := j1939.ParseDM5(b); err != nil {
				s.problem("ECU %02X: DM5: %v", a, err)
			} else {
				st := dm5.MonitorStatus(out.MIL)
				out.Ignition, out.Readiness, out.DTCCount = st.Ignition, st.Monitors, st.DTCCount
				statuses = append(statuses, st)
				if snap.OBDStandard == "" {
					snap.OBDStandard = dm5.ComplianceText()
				}
			}
		}
		if b, ok := s.msg(j1939.PGNDM19, a); ok {
			if cals, err := j1939.ParseDM19(b); err != nil {
				s.problem("ECU %02X: DM19: %v", a, err)
			} else {
				for _, c := range cals {
					out.CALIDs = append(out.CALIDs, c.CALID)
					out.CVNs = append(out.CVNs, c.CVN)
				}
			}
		}
		if b, ok := s.msg(j1939.PGNDM20, a); ok {
			if r, err := j1939.ParseDM20(b); err != nil {
				s.problem("ECU %02X: DM20: %v", a, err)
			} else {
				iupr := r.IUPR()
				out.IUPR = &iupr
			}
		}
		if b, ok := s.msg(j1939.PGNVehicleIdent, a); ok {
			// A VIN with bytes that are not printable is kept as sent
			// (escaped), so the inspector sees it flagged as invalid.
			vin, err := j1939.ParseVIN(b)
			if err != nil {
				s.problem("ECU %02X: VIN: %v", a, err)
			}
			if snap.VIN == "" {
				snap.VIN = vin
			}
		}
		out.Live = s.liveValues(a)
		snap.MIL = snap.MIL || out.MIL
		snap.DTCCount += out.DTCCount
		snap.DTCs.Stored += len(out.Stored)
		snap.DTCs.Previous += len(out.Previous)
		if snap.Ignition == "" {
			snap.Ignition = out.Ignition
		}
		snap.ECUs = append(snap.ECUs, out)
	}
	snap.Readiness = mergeReadiness(statuses)
	liftCounters(snap)
	snap.Problems = s.problems
	snap.Flags = (&scanner{opts: s.opts}).flags(snap)
}

// liveValues decodes engine hours, vehicle distance (the high resolution
// distance when the controller sends it) and DM21.
func (s *j1939Scan) liveValues(a uint8) []obd.Value {
	var out []obd.Value
	if b, ok := s.msg(j1939.PGNEngineHours, a); ok {
		if h, avail, err := j1939.ParseEngineHours(b); err != nil {
			s.problem("ECU %02X: engine hours: %v", a, err)
		} else if avail {
			out = append(out, obd.Value{Name: "engine_hours", Label: "Total engine hours", Value: h, Unit: "h"})
		}
	}
	km, have := 0.0, false
	if b, ok := s.msg(j1939.PGNVDHR, a); ok {
		if v, avail, err := j1939.ParseHighResDistance(b); err != nil {
			s.problem("ECU %02X: high resolution vehicle distance: %v", a, err)
		} else if avail {
			km, have = v, true
		}
	}
	if b, ok := s.msg(j1939.PGNVehicleDistance, a); ok && !have {
		if v, avail, err := j1939.ParseVehicleDistance(b); err != nil {
			s.problem("ECU %02X: vehicle distance: %v", a, err)
		} else if avail {
			km, have = v, true
		}
	}
	if have {
		out = append(out, obd.Value{Name: nameOdometer, Label: "Total vehicle distance", Value: km, Unit: "km"})
	}
	if b, ok := s.msg(j1939.PGNDM21, a); ok {
		if r, err := j1939.ParseDM21(b); err != nil {
			s.problem("ECU %02X: DM21: %v", a, err)
		} else {
			out = append(out, r.Values()...)
		}
	}
	return out
}

func (s *j1939Scan) checkCM(a uint8, what string, dtcs []j1939.DTC) {
	for _, d := range dtcs {
		if d.ConversionMethod != 0 {
			s.problem("ECU %02X: %s %s uses conversion method 1 (an older SPN layout); decoded per J1939-73 version 4, the SPN may be wrong", a, what, d.Code())
		}
	}
}

// DetectJ1939 reports whether conn carries J1939: it asks every node for
// its address claim (from the null address; skipped on a read-only bus)
// and watches the bus for up to about a second for a 29-bit frame with a
// J1939 PGN that is not ISO 15765-4 diagnostics (0x18DA/0x18DB). It returns
// as soon as one is seen. The frames it reads are consumed: on a replay,
// open the log again before scanning.
func DetectJ1939(ctx context.Context, conn canbus.Conn) bool {
	ctx, cancel := context.WithTimeout(ctx, j1939DetectWindow)
	defer cancel()
	// A read-only bus refuses the request: then only listen.
	_ = conn.Send(ctx, j1939.RequestFrame(j1939.AddressNull, j1939.AddressGlobal, j1939.PGNAddressClaimed))
	for {
		f, err := conn.Receive(ctx)
		if err != nil {
			if errors.Is(err, canbus.ErrBadCandump) || errors.Is(err, canbus.ErrCANFD) {
				continue
			}
			return false
		}
		h, err := j1939.ParseFrame(f)
		if err != nil {
			continue
		}
		pf := (h.PGN >> 8) & 0xFF
		if pf == 0xDA || pf == 0xDB {
			continue // ISO 15765-4 on 29-bit identifiers
		}
		return true
	}
}
