// Package j1939sim simulates a heavy-duty truck on SAE J1939.
//
// It is driven by a vehicle profile (testdata/vehicles/*.yaml with protocol:
// j1939), so that the agent's J1939 scan can be tested without a truck.
//
// Each controller is a j1939.Node on an internal in-process bus bridged to
// the Conn given to Start, so the truck works on any canbus bus. A
// controller claims its address, broadcasts DM1 (and, for the engine, engine
// hours and vehicle distance) every DM1 period, and answers requests (PGN
// 59904) for DM1, DM2, DM5, DM19, DM20, DM21, the VIN, engine hours and
// vehicle distance: to a destination-specific request with the message
// itself (RTS/CTS when it needs several packets) or a NACK, to a global
// request with a broadcast (BAM when it needs several packets) or silence.
// A destination-specific DM11 clears the active codes (they become
// previously active, the MIL goes off, the DM21 distances and times that the
// controller has restart from 0) and is acknowledged.
//
// Faults (per controller, see Faults): lost, late and aborted transport
// packets; and Options.Rival adds a second tool that takes the address the
// first tool claims.
package j1939sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/internal/ctxtime"
	"github.com/bayagent/bayagent/drivers/j1939"
)

// Options tune a simulation. The zero value serves the profile as written.
type Options struct {
	// DM1Period overrides the profile's broadcast period; negative turns
	// broadcasts off.
	DM1Period time.Duration
	// Timeouts of the controllers' nodes (zero: the standard values).
	Timeouts j1939.Timeouts
	// Rival adds a second off-board tool, with a NAME lower (so stronger)
	// than j1939.ToolName, that claims the address of the first tool
	// claiming one in the range 0x80-0xFD, once.
	Rival bool
	// Logger receives the simulator's diagnostics; nil discards them.
	Logger *slog.Logger
}

// RivalName is the NAME of the rival tool of Options.Rival.
var RivalName = j1939.MakeName(j1939.NameFields{ArbitraryAddress: true, IndustryGroup: 0, Function: j1939.FunctionOffboardTool, Identity: 0})

// Sim is a simulated truck.
type Sim struct {
	p    *Profile
	opts Options
	log  *slog.Logger
	ecus []*ecu
}

// ecu is one controller's state; codes change on DM11.
type ecu struct {
	prof ECU
	name j1939.Name
	vin  string

	mu       sync.Mutex
	mil      bool
	lampsOn  bool // red stop, amber warning and protect as the profile says; off after DM11
	active   []j1939.DTC
	previous []j1939.DTC
	dm21     *j1939.Readiness2
	cleared  int
}

// New checks the profile and prepares a simulation.
func New(p *Profile, opts Options) (*Sim, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{p: p, opts: opts, log: log}
	for _, e := range p.J1939.ECUs {
		x := &ecu{
			prof:    e,
			name:    j1939.MakeName(j1939.NameFields{IndustryGroup: 1, Function: e.Function, Identity: e.Identity}),
			mil:     e.MIL,
			lampsOn: true,
		}
		if e.VIN {
			x.vin = p.VIN
		}
		if e.DM21 != nil {
			r := e.DM21.readiness2()
			x.dm21 = &r
		}
		for _, d := range e.DTCs.Active {
			x.active = append(x.active, j1939.DTC{SPN: d.SPN, FMI: d.FMI, Occurrences: d.Occurrences})
		}
		for _, d := range e.DTCs.Previous {
			x.previous = append(x.previous, j1939.DTC{SPN: d.SPN, FMI: d.FMI, Occurrences: d.Occurrences})
		}
		s.ecus = append(s.ecus, x)
	}
	return s, nil
}

// Cleared reports how many DM11 requests the controller at addr obeyed.
func (s *Sim) Cleared(addr uint8) int {
	for _, e := range s.ecus {
		if uint8(e.prof.Address) == addr {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.cleared
		}
	}
	return 0
}

func (s *Sim) period() time.Duration {
	switch {
	case s.opts.DM1Period != 0:
		return s.opts.DM1Period
	case s.p.J1939.DM1Period > 0:
		return time.Duration(s.p.J1939.DM1Period)
	}
	return time.Second
}

// Start serves the truck on conn until stop is called. stop ends every
// goroutine, waits for them and returns the first error met on conn other
// than its closing; conn itself is left open for the caller to close.
func (s *Sim) Start(conn canbus.Conn) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	inner := canbus.NewMemBus()
	bridge := inner.Connect()
	var errMu sync.Mutex
	var firstErr error
	report := func(err error) {
		if err == nil || ctx.Err() != nil || errors.Is(err, canbus.ErrClosed) {
			return
		}
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	pump := func(from, to canbus.Conn) {
		defer wg.Done()
		for {
			f, err := from.Receive(ctx)
			if err != nil {
				report(err)
				return
			}
			if err := to.Send(ctx, f); err != nil {
				report(err)
				return
			}
		}
	}
	wg.Add(2)
	go pump(conn, bridge)
	go pump(bridge, conn)

	var nodes []*j1939.Node
	var conns []canbus.Conn
	for _, e := range s.ecus {
		c := &faultConn{Conn: inner.Connect(), f: e.prof.Faults}
		n := j1939.NewNode(c, j1939.Config{
			Name: e.name, Addresses: []uint8{uint8(e.prof.Address)}, Timeouts: s.opts.Timeouts,
			Logger: s.log.With("ecu", fmt.Sprintf("%02X", uint8(e.prof.Address))),
		})
		nodes, conns = append(nodes, n), append(conns, c)
		wg.Add(2)
		go func() { defer wg.Done(); s.serve(ctx, e, n) }()
		go func() { defer wg.Done(); s.broadcast(ctx, e, n) }()
	}
	if s.opts.Rival {
		rc := inner.Connect()
		conns = append(conns, rc)
		wg.Add(1)
		go func() { defer wg.Done(); rival(ctx, rc) }()
	}
	var once sync.Once
	return func() error {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, n := range nodes {
				n.Close()
			}
			for _, c := range conns {
				c.Close()
			}
			bridge.Close()
		})
		errMu.Lock()
		defer errMu.Unlock()
		return firstErr
	}
}

func (s *Sim) serve(ctx context.Context, e *ecu, n *j1939.Node) {
	if _, err := n.Claim(ctx); err != nil {
		s.log.Warn("j1939sim: no address", "ecu", uint8(e.prof.Address), "err", err)
		return
	}
	// Each request is answered on its own goroutine, as a controller goes
	// on answering while one transfer stalls.
	var answers sync.WaitGroup
	defer answers.Wait()
	for {
		m, err := n.Receive(ctx)
		if errors.Is(err, j1939.ErrAborted) {
			continue
		}
		if err != nil {
			return
		}
		self, _ := n.Address()
		if m.PGN != j1939.PGNRequest || m.Source == self || (m.Dest != self && m.Dest != j1939.AddressGlobal) {
			continue
		}
		pgn, err := j1939.ParseRequest(m.Data)
		if err != nil || pgn == j1939.PGNAddressClaimed {
			continue
		}
		answers.Add(1)
		go func() {
			defer answers.Done()
			s.answer(ctx, e, n, pgn, m.Source, m.Dest == j1939.AddressGlobal)
		}()
	}
}

func (s *Sim) answer(ctx context.Context, e *ecu, n *j1939.Node, pgn j1939.PGN, from uint8, global bool) {
	if ctxtime.Sleep(ctx, time.Duration(e.prof.Latency)) != nil {
		return
	}
	ack := func(c j1939.AckControl) {
		if global {
			return
		}
		m := j1939.Message{Priority: j1939.PriorityDefault, PGN: j1939.PGNAck, Dest: from, Data: j1939.EncodeAck(j1939.Acknowledgement{Control: c, Address: from, PGN: pgn})}
		if err := n.Send(ctx, m); err != nil {
			s.log.Debug("j1939sim: ack", "err", err)
		}
	}
	if pgn == j1939.PGNDM11 {
		e.clear()
		ack(j1939.Ack)
		return
	}
	data, ok := e.payload(pgn)
	if !ok {
		ack(j1939.Nack)
		return
	}
	dest := from
	if global {
		dest = j1939.AddressGlobal
	}
	if err := n.Send(ctx, j1939.Message{Priority: j1939.PriorityDefault, PGN: pgn, Dest: dest, Data: data}); err != nil && ctx.Err() == nil {
		s.log.Info("j1939sim: answer failed", "ecu", uint8(e.prof.Address), "pgn", pgn, "err", err)
	}
}

func (s *Sim) broadcast(ctx context.Context, e *ecu, n *j1939.Node) {
	period := s.period()
	if period < 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, pgn := range []j1939.PGN{j1939.PGNDM1, j1939.PGNEngineHours, j1939.PGNVehicleDistance} {
			data, ok := e.payload(pgn)
			if !ok {
				continue
			}
			if err := n.Send(ctx, j1939.Message{Priority: j1939.PriorityDefault, PGN: pgn, Dest: j1939.AddressGlobal, Data: data}); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Debug("j1939sim: broadcast", "pgn", pgn, "err", err)
			}
		}
	}
}

func (e *ecu) lamps() j1939.Lamps {
	l := j1939.Lamps{MILFlash: j1939.FlashNone, RedStopFlash: j1939.FlashNone, AmberWarningFlash: j1939.FlashNone, ProtectFlash: j1939.FlashNone}
	on := func(b bool) j1939.LampStatus {
		if b {
			return j1939.LampOn
		}
		return j1939.LampOff
	}
	l.MIL = on(e.mil)
	l.RedStop = on(e.lampsOn && e.prof.RedStop)
	l.AmberWarning = on(e.lampsOn && e.prof.AmberWarning)
	l.Protect = on(e.lampsOn && e.prof.Protect)
	return l
}

// payload is the controller's message for pgn, if it has one.
func (e *ecu) payload(pgn j1939.PGN) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.prof
	switch pgn {
	case j1939.PGNDM1:
		return j1939.EncodeDM1(j1939.DiagnosticCodes{Lamps: e.lamps(), DTCs: e.active}), true
	case j1939.PGNDM2:
		return j1939.EncodeDM1(j1939.DiagnosticCodes{Lamps: e.lamps(), DTCs: e.previous}), true
	case j1939.PGNDM5:
		r := j1939.Readiness{ActiveDTCs: uint8(len(e.active)), PreviousDTCs: uint8(len(e.previous)), OBDCompliance: p.OBDCompliance}
		for _, m := range slices.Sorted(maps.Keys(p.Readiness)) {
			r.Monitors = append(r.Monitors, j1939.DM5Monitor{Name: m, Supported: true, Complete: p.Readiness[m] == "complete"})
		}
		b, err := j1939.EncodeDM5(r)
		return b, err == nil
	case j1939.PGNDM19:
		if len(p.Calibrations) == 0 {
			return nil, false
		}
		cals := make([]j1939.Calibration, len(p.Calibrations))
		for i, c := range p.Calibrations {
			cals[i] = j1939.Calibration{CALID: c.CALID, CVN: c.CVN}
		}
		b, err := j1939.EncodeDM19(cals)
		return b, err == nil
	case j1939.PGNDM20:
		if p.Ratios == nil {
			return nil, false
		}
		r := j1939.MonitorRatios{IgnitionCycles: p.Ratios.IgnitionCycles, OBDConditions: p.Ratios.OBDConditions}
		for _, m := range p.Ratios.Monitors {
			r.Monitors = append(r.Monitors, j1939.MonitorRatio{SPN: m.SPN, Numerator: m.Numerator, Denominator: m.Denominator})
		}
		return j1939.EncodeDM20(r), true
	case j1939.PGNDM21:
		if e.dm21 == nil {
			return nil, false
		}
		b, err := j1939.EncodeDM21(*e.dm21)
		return b, err == nil
	case j1939.PGNVehicleIdent:
		return j1939.EncodeVIN(e.vin), e.vin != ""
	case j1939.PGNEngineHours:
		if p.EngineHours == nil {
			return nil, false
		}
		return j1939.EncodeEngineHours(*p.EngineHours), true
	case j1939.PGNVehicleDistance:
		if p.OdometerKm == nil {
			return nil, false
		}
		return j1939.EncodeVehicleDistance(*p.OdometerKm), true
	}
	return nil, false
}

// clear obeys DM11: active codes become previously active (their
// occurrence counts added to an existing entry), the MIL goes off, and the
// DM21 distances and times restart from 0 (those not available stay so).
func (e *ecu) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.active {
		i := slices.IndexFunc(e.previous, func(p j1939.DTC) bool { return p.SPN == d.SPN && p.FMI == d.FMI })
		if i < 0 {
			e.previous = append(e.previous, d)
			continue
		}
		e.previous[i].Occurrences = min(126, e.previous[i].Occurrences+d.Occurrences)
	}
	e.active = nil
	e.mil, e.lampsOn = false, false
	if r := e.dm21; r != nil {
		for _, p := range []*uint16{r.DistanceWithMIL, r.DistanceSinceClear, r.MinutesWithMIL, r.MinutesSinceClear} {
			if p != nil {
				*p = 0
			}
		}
	}
	e.cleared++
}
