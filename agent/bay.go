package agent

import (
	"context"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/drivers/bayio"
)

// openBay starts the bay's button and lights: the pins from Deps, or those
// the configuration names on this host; none fitted is fine.
func (a *Agent) openBay() error {
	var pins bayio.Pins
	if a.deps.Pins != nil {
		pins = *a.deps.Pins
	} else {
		b := a.cfg.BayIO
		names := bayio.PinNames{Button: b.Button, Ready: b.Ready, Vehicle: b.Vehicle, Stored: b.Stored, Offline: b.Offline, Fault: b.Fault, Buzzer: b.Buzzer}
		if names == (bayio.PinNames{}) {
			return nil
		}
		var err error
		if pins, err = bayio.OpenHost(names); err != nil {
			return err
		}
	}
	if pins == (bayio.Pins{}) {
		return nil
	}
	bay, err := bayio.New(pins, bayio.Options{ActiveHigh: a.cfg.BayIO.ButtonActiveHigh, Logger: a.log.With("part", "bayio")})
	if err != nil {
		return err
	}
	a.io = bay
	return nil
}

func (a *Agent) haltBay() {
	if a.io != nil {
		if err := a.io.Halt(); err != nil {
			a.log.Warn("bay lights", "err", err)
		}
	}
}

// setLights shows the agent's state on the bay's lights.
func (a *Agent) setLights() {
	if a.io == nil {
		return
	}
	stopped := len(a.jobs.Stopped()) > 0
	a.mu.Lock()
	st := bayio.State{Ready: true, VehicleConnected: a.vehicle != nil, Fault: a.fault || stopped}
	a.mu.Unlock()
	st.UplinkOffline = !a.up.Stats().Connected
	a.io.SetState(st)
}

// watchButton turns button presses into captures: a snapshot, and a
// reading when an analyzer is configured. A long press clears the fault
// light.
func (a *Agent) watchButton(ctx context.Context) {
	if a.io == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-a.io.Presses():
			if !ok {
				return
			}
			if p.Long {
				a.mu.Lock()
				a.fault = false
				a.mu.Unlock()
				a.setLights()
				continue
			}
			a.log.Info("button: capture")
			if _, err := a.scanNow(ctx, ""); err != nil {
				a.noteErr(i18n.M("agent.button_scan"), err)
			}
			if a.cfg.Analyzer.Interface != "" {
				if _, err := a.readNow(ctx, ""); err != nil {
					a.noteErr(i18n.M("agent.button_reading"), err)
				}
			}
		}
	}
}

// watchUplink follows the uplink's connection for the offline light and
// the status.
func (a *Agent) watchUplink(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.up.Changed():
			a.setLights()
			a.screen.Changed()
		}
	}
}

// jobRetryInterval is how often a bay stopped by a job file that could not
// be saved tries again.
const jobRetryInterval = 2 * time.Second

// watchJobs tries again to save the job files of stopped bays (a full disk
// that got room again), and shows the change on the fault light and in the
// status.
func (a *Agent) watchJobs(ctx context.Context) {
	t := time.NewTicker(jobRetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if len(a.jobs.Stopped()) == 0 {
			continue
		}
		if a.jobs.Retry() == 0 {
			a.log.Info("every bay takes events again: the job files are saved")
			a.setLights()
			a.up.NotifyStatus()
			a.screen.Changed()
		}
	}
}
