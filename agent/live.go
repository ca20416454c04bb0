package agent

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/obd"
)

// ErrLiveJ1939: the live feed reads OBD-II PIDs; a J1939 vehicle's live
// data is not offered yet.
var ErrLiveJ1939 = errors.New("agent: the live feed needs an OBD-II vehicle; J1939 live data is not supported yet")

// liveFeed is a running live feed: decoded values of a few PIDs, sampled at
// a bounded rate for a bounded time, published on the live topic at QoS 0
// and never stored.
type liveFeed struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// LiveSample is one round of values in a live message.
type LiveSample struct {
	T      time.Time   `json:"t"`
	ECU    obd.ECU     `json:"ecu"`
	Values []obd.Value `json:"values"`
}

// LiveMessage is one message on the live topic: the samples of about a
// second, or the end of the feed (Stopped with the reason).
type LiveMessage struct {
	Device  string       `json:"device"`
	Bay     string       `json:"bay"`
	Samples []LiveSample `json:"samples,omitempty"`
	Stopped string       `json:"stopped,omitempty"`
}

// startLive starts a live feed, replacing a running one. Rate and duration
// are capped by the configuration (live.max_rate_hz, live.max_duration).
func (a *Agent) startLive(args *command.LiveStartArgs) (any, error) {
	c := a.current()
	if c == nil {
		return nil, ErrNoVehicle
	}
	if c.link.J1939() {
		return nil, ErrLiveJ1939
	}
	rate := min(args.Rate(), float64(a.cfg.Live.MaxRateHz))
	dur := min(time.Duration(args.Seconds())*time.Second, a.cfg.Live.MaxDuration.D())
	pids := args.PIDList()
	a.stopLive("replaced by a new live feed")

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	f := &liveFeed{cancel: cancel, done: make(chan struct{})}
	a.mu.Lock()
	a.live = f
	a.mu.Unlock()
	a.liveFeeds.Go(func() {
		defer close(f.done)
		reason := a.runLive(ctx, c, pids, rate)
		a.publishLive(LiveMessage{Stopped: reason})
		a.mu.Lock()
		if a.live == f {
			a.live = nil
		}
		a.mu.Unlock()
	})
	return map[string]any{"pids": pidNames(pids), "rate_hz": rate, "duration_s": dur.Seconds()}, nil
}

// stopLive stops the running live feed and waits for it; it reports
// whether one was running.
func (a *Agent) stopLive(reason string) bool {
	f := a.cancelLive(reason)
	if f != nil {
		<-f.done
	}
	return f != nil
}

// cancelLive tells the running live feed to stop and returns it (nil when
// none runs) without waiting: the live_stop command must not wait for a
// sample stuck in the vehicle interface.
func (a *Agent) cancelLive(reason string) *liveFeed {
	a.mu.Lock()
	f := a.live
	a.live = nil
	a.mu.Unlock()
	if f != nil {
		a.log.Info("live feed stopping", "reason", reason)
		f.cancel()
	}
	return f
}

// runLive samples until ctx ends and returns why it stopped.
func (a *Agent) runLive(ctx context.Context, c *connected, pids []obd.PID, rate float64) string {
	period := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(period)
	defer tick.Stop()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	var batch []LiveSample
	for {
		select {
		case <-ctx.Done():
			a.publishLive(LiveMessage{Samples: batch})
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "duration reached"
			}
			return "stopped"
		case <-flush.C:
			if len(batch) > 0 {
				a.publishLive(LiveMessage{Samples: batch})
				batch = nil
			}
		case <-tick.C:
			s, err := sample(ctx, c, pids)
			if err != nil && ctx.Err() == nil {
				a.log.Debug("live sample", "err", err)
			}
			batch = append(batch, s...)
		}
	}
}

// sample reads pids once from the vehicle's ECUs, as many per request as
// the link takes (scan.Sample, which learns an adapter that does not batch).
func sample(ctx context.Context, c *connected, pids []obd.PID) ([]LiveSample, error) {
	now := time.Now().UTC()
	vals, err := scan.Sample(ctx, c.link, c.link.Session(), c.ecus, pids)
	out := make([]LiveSample, 0, len(vals))
	for _, v := range vals {
		out = append(out, LiveSample{T: now, ECU: v.ECU, Values: v.Values})
	}
	return out, err
}

func (a *Agent) publishLive(m LiveMessage) {
	if len(m.Samples) == 0 && m.Stopped == "" {
		return
	}
	m.Device, m.Bay = a.cfg.Device.ID, a.bay
	data, err := json.Marshal(m)
	if err != nil {
		a.log.Warn("live message", "err", err)
		return
	}
	a.screen.Live(data)
	if err := a.up.PublishLive(data); err != nil {
		a.log.Debug("live message dropped", "err", err)
	}
}

func pidNames(pids []obd.PID) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = p.String()
	}
	return out
}
