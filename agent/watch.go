package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/internal/repeats"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Errors of the agent's actions, compared with errors.Is.
var (
	// ErrNoVehicle: the action needs a connected vehicle.
	ErrNoVehicle = errors.New("agent: no vehicle connected")
	// ErrNoAnalyzer: the action needs an analyzer and none is configured.
	ErrNoAnalyzer = errors.New("agent: no analyzer configured (analyzer.interface)")
	// ErrVehicle: the vehicle or its interface failed during a scan or a
	// clear; it wraps the interface's error.
	ErrVehicle = errors.New("agent: vehicle interface failed")
	// ErrAnalyzer: the analyzer could not be opened or read; it wraps the
	// analyzer's error.
	ErrAnalyzer = errors.New("agent: analyzer failed")
)

// PresenceBody is the body of a "presence" record.
type PresenceBody struct {
	At       time.Time `json:"at"`
	Bay      string    `json:"bay"`
	Event    string    `json:"event"` // "connected" or "left"
	Protocol string    `json:"protocol,omitempty"`
	ECUs     []string  `json:"ecus,omitempty"` // the CAN identifiers that answered, hex
	Reason   string    `json:"reason,omitempty"`
}

// connected is the vehicle the agent is talking to.
type connected struct {
	link  *vehicle.Link
	ecus  []obd.ECU
	since time.Time
	scan  sync.Mutex // one snapshot at a time
}

func (a *Agent) current() *connected {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.vehicle
}

// missesToLeave is how many presence pings in a row may go unanswered
// before the vehicle counts as gone.
const missesToLeave = 2

// watchVehicle opens the vehicle interface, probes for a vehicle every
// detect interval, takes a snapshot when one appears and records when it
// leaves. It owns the link and closes it on return.
func (a *Agent) watchVehicle(ctx context.Context) {
	interval := a.cfg.Vehicle.DetectInterval.D()
	// An unplugged dongle fails at every interval: log it once, then a
	// summary now and then.
	repeat := repeats.New(a.log, "vehicle interface "+a.cfg.Vehicle.Interface, 0, a.now)
	var link *vehicle.Link
	defer func() {
		if link != nil {
			a.left(context.WithoutCancel(ctx), "agent stopping", false)
			link.Close()
		}
	}()
	misses := 0
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(interval)
		if link == nil {
			l, err := a.openLink(ctx)
			if err != nil {
				a.interfaceFailed(repeat, err)
				continue
			}
			link = l
		}
		cur := a.current()
		if cur == nil {
			ecus, err := link.Probe(ctx)
			if err != nil {
				if !errors.Is(err, scan.ErrNoVehicle) && ctx.Err() == nil {
					// The interface itself failed (a dongle unplugged, the
					// CAN interface down): open it afresh next time.
					a.interfaceFailed(repeat, err)
					link.Close()
					link = nil
					continue
				}
				repeat.OK() // the interface works; no vehicle yet
				continue
			}
			repeat.OK()
			misses = 0
			a.arrived(ctx, link, ecus)
			continue
		}
		if cur.link.Present(ctx, cur.ecus) {
			misses = 0
			continue
		}
		if misses++; misses >= missesToLeave {
			a.left(ctx, fmt.Sprintf("no answer to %d presence checks", misses), true)
			misses = 0
		}
	}
}

func (a *Agent) openLink(ctx context.Context) (*vehicle.Link, error) {
	o := a.cfg.VehicleOptions()
	o.Hub, o.Logger = a.deps.Hub, a.log.With("part", "vehicle")
	return vehicle.Open(ctx, a.cfg.Vehicle.Interface, o)
}

// arrived records a vehicle that answered and takes its snapshot.
func (a *Agent) arrived(ctx context.Context, link *vehicle.Link, ecus []obd.ECU) {
	c := &connected{link: link, ecus: ecus, since: a.now()}
	a.mu.Lock()
	a.vehicle = c
	a.mu.Unlock()
	a.log.Info("vehicle connected", "protocol", link.Protocol, "ecus", ecus)
	a.setLights()
	ids := make([]string, len(ecus))
	for i, e := range ecus {
		ids[i] = e.String()
	}
	body := PresenceBody{At: a.now().UTC(), Bay: a.bay, Event: "connected", Protocol: link.Protocol, ECUs: ids}
	if err := a.emit(ctx, job.Event{Kind: record.KindPresence, Job: a.openJobID(), Body: body}); err != nil {
		a.noteErr(i18n.M("agent.presence_connected"), err)
	}
	if _, err := a.scanNow(ctx, ""); err != nil && ctx.Err() == nil {
		a.noteErr(i18n.M("agent.plug_in_scan"), err)
	}
}

// left records that the vehicle went away (when record is set) and stops
// what needed it. The link stays open for the next vehicle.
func (a *Agent) left(ctx context.Context, reason string, store bool) {
	a.mu.Lock()
	c := a.vehicle
	a.vehicle = nil
	a.mu.Unlock()
	if c == nil {
		return
	}
	a.stopLive("vehicle left")
	a.log.Info("vehicle left", "reason", reason)
	a.setLights()
	if store {
		body := PresenceBody{At: a.now().UTC(), Bay: a.bay, Event: "left", Reason: reason}
		if err := a.emit(ctx, job.Event{Kind: record.KindPresence, Job: a.openJobID(), Body: body}); err != nil {
			a.noteErr(i18n.M("agent.presence_left"), err)
		}
	}
	a.up.NotifyStatus()
}

func (a *Agent) openJobID() string {
	if j, ok := a.jobs.Current(a.bay); ok {
		return j.ID
	}
	return ""
}

// scanNow takes a snapshot of the connected vehicle and stores it: attached
// to the bay's open job (phase as given, or the job's), or as an intake
// scan when no job is open. It returns the stored event.
func (a *Agent) scanNow(ctx context.Context, phase job.Phase) (job.Event, error) {
	c := a.current()
	if c == nil {
		return job.Event{}, ErrNoVehicle
	}
	c.scan.Lock()
	defer c.scan.Unlock()
	opts := scan.Options{Logger: a.log.With("part", "scan")}
	j, hasJob := a.jobs.Current(a.bay)
	if hasJob {
		opts.ExpectedVIN = j.VIN
	}
	snap, err := c.link.Scan(ctx, opts)
	if err != nil {
		return job.Event{}, fmt.Errorf("%w: scan: %w", ErrVehicle, err)
	}
	if !hasJob {
		if phase != "" && phase != job.PhaseIntake {
			return job.Event{}, fmt.Errorf("%w: a %s scan needs an open job", job.ErrNoJob, phase)
		}
		res := a.assess(snap, "")
		ev := job.IntakeScan(a.bay, a.now(), *snap, &res)
		return ev, a.emit(ctx, ev)
	}
	return a.jobs.Scan(ctx, a.bay, phase, *snap)
}

// readNow takes one reading from the analyzer and attaches it to the open
// job. The analyzer is opened for the reading and closed after it, so a
// replugged USB adapter is found again.
func (a *Agent) readNow(ctx context.Context, phase job.Phase) (job.Event, error) {
	if a.cfg.Analyzer.Interface == "" {
		return job.Event{}, ErrNoAnalyzer
	}
	if _, ok := a.jobs.Current(a.bay); !ok {
		return job.Event{}, fmt.Errorf("%w: a reading belongs to a job", job.ErrNoJob)
	}
	inst, release, err := a.openAnalyzer(ctx, "", true)
	if err != nil {
		return job.Event{}, err
	}
	defer release()
	r, err := inst.Read(ctx)
	a.inst.observe(inst, r.Instrument, nil, a.now())
	if err != nil {
		return job.Event{}, fmt.Errorf("%w: %w", ErrAnalyzer, err)
	}
	return a.jobs.Reading(ctx, a.bay, phase, r)
}

// clearDTCs clears the connected vehicle's codes (Mode 04, or J1939 DM11)
// and returns the ECUs that acknowledged.
func (a *Agent) clearDTCs(ctx context.Context, jobID, technician string) ([]obd.ECU, error) {
	c := a.current()
	if c == nil {
		return nil, ErrNoVehicle
	}
	c.scan.Lock()
	defer c.scan.Unlock()
	ecus, err := c.link.ClearDTCs(ctx, c.ecus, jobID, technician)
	if err != nil {
		return ecus, fmt.Errorf("%w: clear: %w", ErrVehicle, err)
	}
	return ecus, nil
}

// interfaceFailed logs (once, then summarised) and remembers for the
// status that the vehicle interface failed.
func (a *Agent) interfaceFailed(repeat *repeats.Logger, err error) {
	repeat.Fail(err)
	a.setLastErr(i18n.M("agent.vehicle_interface", "iface", a.cfg.Vehicle.Interface), err)
}
