// Package obdsim simulates a vehicle's OBD-II control units for tests, the
// demo and cmd/vehiclesim. A vehicle is described by a YAML profile (see
// Profile and testdata/vehicles/); New turns it into ECUs whose Handle answers
// SAE J1979 requests (services 01, 02, 03, 04, 07, 09 and 0A) as a pure
// function of the ECU's state, and ServeCAN puts every ECU on a CAN bus behind
// its own ISO-TP server (drivers/isotp), with the profile's latency and
// injected transport faults.
//
// Mode 04 changes the state (codes, MIL, readiness, counters since clear);
// everything else is read-only, so one Vehicle serves one scenario.
package obdsim

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
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Options tune a Vehicle. The zero value serves the profile as written.
type Options struct {
	// Latency, when positive, replaces every ECU's profile latency (tests
	// and benchmarks use 10 ms).
	Latency time.Duration
	// Logger receives the ISO-TP servers' reports. Nil discards them.
	Logger *slog.Logger
}

// Vehicle is a simulated vehicle: the ECUs of one profile with their
// mutable state.
type Vehicle struct {
	name     string
	protocol string
	vin      string
	ecus     []*ECU
	opts     Options
}

// New validates p and builds the vehicle. The profile is copied: changing p
// afterwards does not change the vehicle.
func New(p *Profile, opts Options) (*Vehicle, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Protocol == ProtocolJ1939 {
		return nil, fmt.Errorf("%w: %s profiles are served by drivers/j1939/j1939sim", ErrProtocol, ProtocolJ1939)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Vehicle{name: p.Name, protocol: p.Protocol, vin: p.VIN, opts: opts}
	holder := 0
	for i, e := range p.ECUs {
		if e.VIN {
			holder = i
		}
	}
	for i := range p.ECUs {
		vin := ""
		if i == holder {
			vin = p.VIN
		}
		e, err := newECU(p.ECUs[i], vin)
		if err != nil {
			return nil, fmt.Errorf("obdsim: ecus[%d]: %w", i, err)
		}
		v.ecus = append(v.ecus, e)
	}
	return v, nil
}

// newECU builds the state of one validated ECU profile.
func newECU(p ECUProfile, vin string) (*ECU, error) {
	e := &ECU{
		addr:      obd.ECU(p.Address),
		ignition:  p.Ignition,
		vin:       vin,
		mil:       p.MIL,
		stored:    slices.Clone(p.DTCs.Stored),
		pending:   slices.Clone(p.DTCs.Pending),
		permanent: slices.Clone(p.DTCs.Permanent),
		readiness: make(map[string]bool, len(p.Readiness)),
		live:      maps.Clone(p.Live),
		infoCache: make(map[obd.PID][]byte),
		quirks:    p.Quirks,
		tests:     slices.Clone(p.MonitorTests),
	}
	e.server = isotp.ServerConfig{
		ECU:       e.addr,
		Latency:   time.Duration(p.Latency),
		BlockSize: p.BlockSize,
		STmin:     p.STmin,
		Faults: isotp.Faults{
			DropFrame: p.Faults.DropFrame,
			LateCF:    time.Duration(p.Faults.LateCF),
			FCWait:    p.Faults.FCWait,
			WrongSN:   p.Faults.WrongSN,
			Garbage:   p.Faults.Garbage,
		},
	}
	for m, s := range p.Readiness {
		e.readiness[m] = s == "complete"
	}
	var err error
	if e.pids, err = dataPIDs(p.Live); err != nil {
		return nil, err
	}
	if p.FreezeFrame != nil {
		e.freeze = &FreezeFrame{DTC: p.FreezeFrame.DTC, Values: maps.Clone(p.FreezeFrame.Values)}
		if e.ffPIDs, err = dataPIDs(p.FreezeFrame.Values); err != nil {
			return nil, err
		}
	}
	if err := e.buildInfo(&p); err != nil {
		return nil, err
	}
	return e, nil
}

// buildInfo encodes the static Mode 09 answers of p once.
func (e *ECU) buildInfo(p *ECUProfile) error {
	add := func(it obd.PID, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("mode 09 infotype %s: %w", it, err)
		}
		e.info = append(e.info, it)
		e.infoCache[it] = append([]byte{0x40 + svcVehicleInfo, byte(it)}, data...)
		return nil
	}
	var errs []error
	if e.vin != "" {
		b, err := obd.EncodeVIN(e.vin)
		errs = append(errs, add(obd.InfoVIN, b, err))
	}
	if len(p.CALIDs) > 0 {
		b, err := obd.EncodeCALIDs(p.CALIDs)
		errs = append(errs, add(obd.InfoCALID, b, err))
	}
	if len(p.CVNs) > 0 {
		b, err := obd.EncodeCVNs(p.CVNs)
		errs = append(errs, add(obd.InfoCVN, b, err))
	}
	if p.IUPR != nil {
		it := obd.InfoIUPRSpark
		if p.Ignition == obd.IgnitionCompression {
			it = obd.InfoIUPRCompressed
		}
		b, err := p.IUPR.encode(p.Ignition)
		errs = append(errs, add(it, b, err))
	}
	b, err := obd.EncodeECUName(p.Name)
	errs = append(errs, add(obd.InfoECUName, b, err))
	slices.Sort(e.info)
	return errors.Join(errs...)
}

// Protocol is the profile's protocol ("" for ISO 15765-4 CAN).
func (v *Vehicle) Protocol() string { return v.protocol }

// Name is the profile's name.
func (v *Vehicle) Name() string { return v.name }

// VIN is the vehicle's VIN.
func (v *Vehicle) VIN() string { return v.vin }

// ECUs returns the vehicle's ECUs in profile order.
func (v *Vehicle) ECUs() []*ECU { return slices.Clone(v.ecus) }

// ECU returns the ECU answering from addr, or nil.
func (v *Vehicle) ECU(addr obd.ECU) *ECU {
	for _, e := range v.ecus {
		if e.addr == addr {
			return e
		}
	}
	return nil
}

// ServeCAN puts every ECU on a CAN bus and answers requests until ctx ends;
// it refuses a vehicle on a non-CAN protocol (ErrProtocol).
// open is called once per ECU, before any is served, to attach that ECU's
// own node to the bus; each node is served by isotp.Serve with the ECU's
// latency (or Options.Latency), flow-control parameters and faults.
//
// ServeCAN returns when ctx ends, after every server has stopped and every
// node has been closed: nil then, or the first error that stopped an ECU
// early (which also stops the others). If open fails, the nodes already
// opened are closed and the error is returned.
func (v *Vehicle) ServeCAN(ctx context.Context, open func() (canbus.Conn, error)) error {
	if Legacy(v.protocol) {
		return fmt.Errorf("%w: a %s vehicle is not on a CAN bus; serve it behind the ELM327 simulator (drivers/elm327/elmsim)", ErrProtocol, v.protocol)
	}
	conns := make([]canbus.Conn, 0, len(v.ecus))
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for _, e := range v.ecus {
		c, err := open()
		if err != nil {
			closeAll()
			return fmt.Errorf("obdsim: open node for ECU %s: %w", e.addr, err)
		}
		conns = append(conns, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for i, e := range v.ecus {
		cfg := e.server
		cfg.Conn = conns[i]
		cfg.Logger = v.opts.Logger
		if v.opts.Latency > 0 {
			cfg.Latency = v.opts.Latency
		}
		wg.Go(func() {
			err := isotp.Serve(ctx, cfg, e.Handle)
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("server stopped")
				}
				errOnce.Do(func() { firstErr = fmt.Errorf("obdsim: ECU %s: %w", e.addr, err) })
				cancel()
			}
		})
	}
	v.opts.Logger.Info("vehicle on the bus", "profile", v.name, "ecus", len(v.ecus))
	<-ctx.Done()
	// Closing the nodes unblocks any server still inside a Send or Receive
	// that does not watch ctx.
	closeAll()
	wg.Wait()
	return firstErr
}
