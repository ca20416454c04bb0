package agent

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/web"
)

// AuditBody is the body of an "audit" record: an action taken on the bay
// screen, stored before the action runs.
type AuditBody struct {
	At  time.Time `json:"at"`
	Bay string    `json:"bay"`
	web.Audit
}

// screenAgent is what the bay screen sees of the agent (web.Agent): the
// same command handler as the MQTT command topic, the status, the jobs,
// and the audit records.
type screenAgent struct{ a *Agent }

func (s screenAgent) Command(ctx context.Context, name string, args json.RawMessage) (any, error) {
	return s.a.Command(ctx, name, args)
}

// Status is the agent's status with the broker connection beside it; its
// errors are web.Problems, for the reader's language.
func (s screenAgent) Status() map[string]any {
	st := s.a.status()
	s.a.mu.Lock()
	if p := s.a.lastErr; p.Message.Key != "" {
		st["last_error"] = p
	}
	s.a.mu.Unlock()
	st["device"], st["shop"], st["company_name"] = s.a.cfg.Device.ID, s.a.cfg.Device.Shop, s.a.cfg.Device.CompanyName
	us := s.a.up.Stats()
	st["broker_connected"] = us.Connected
	if us.Connected {
		st["broker_since"] = us.ConnectedSince
	}
	if us.LastError != nil {
		st["broker_error"] = web.Problem{Message: i18n.M(uplinkMessage(us.LastError)), Detail: us.LastError.Error()}
	}
	return st
}

// uplinkMessage is the "agent.uplink." message of one of the uplink's
// errors.
func uplinkMessage(err error) string {
	for _, m := range []struct {
		err error
		key string
	}{
		{uplink.ErrConnect, "connect"}, {uplink.ErrConnectionLost, "connection_lost"},
		{uplink.ErrWriteDenied, "write_denied"}, {uplink.ErrSubscribeDenied, "subscribe_denied"},
		{uplink.ErrTooLarge, "too_large"}, {uplink.ErrPublish, "publish"}, {uplink.ErrQueue, "queue"},
	} {
		if errors.Is(err, m.err) {
			return "agent.uplink." + m.key
		}
	}
	return "agent.uplink.other"
}

func (s screenAgent) OpenJob() (job.Job, bool) { return s.a.jobs.Current(s.a.bay) }

func (s screenAgent) ClosedJob(id string) (job.Closed, error) { return s.a.jobs.Closed(id) }

func (s screenAgent) Audit(ctx context.Context, au web.Audit) error {
	body := AuditBody{At: s.a.now().UTC(), Bay: s.a.bay, Audit: au}
	return s.a.emit(ctx, job.Event{Kind: record.KindAudit, Job: s.a.openJobID(), Body: body})
}

// assess gives a snapshot's findings by the box's rules: the scan records
// carry them, the screen and the report show them.
func (a *Agent) assess(s *scan.Snapshot, jobVIN string) findings.Result {
	return findings.Evaluate(s, a.rules, jobVIN)
}

// runScreen serves the bay screen until ctx ends. A screen that cannot
// start (its port taken, a bad certificate) is an alarm, not the end of
// the agent: the vehicle's records matter more.
func (a *Agent) runScreen(ctx context.Context) {
	if a.screen == nil {
		return
	}
	a.seedScreen()
	if err := a.screen.Run(ctx); err != nil && ctx.Err() == nil {
		a.alarm(i18n.M("agent.screen_stopped"), err)
	}
}

// screenSeed is how many of the latest stored records the screen learns
// at start (the last scan for Now, the seq numbers of recent jobs' events
// for their reports): what the outbox still holds of them.
const screenSeed = 2000

// seedScreen shows the screen the records the outbox still holds from
// before this start.
func (a *Agent) seedScreen() {
	st, err := a.box.Stats()
	if err != nil || st.HeadSeq == 0 {
		return
	}
	from := uint64(1)
	if st.HeadSeq > screenSeed {
		from = st.HeadSeq - screenSeed + 1
	}
	held, err := a.box.Range(from, st.HeadSeq)
	if err != nil {
		a.log.Warn("bay screen: earlier records not read", "err", err)
		return
	}
	for _, h := range held {
		if rec, err := record.Decode(h.Data); err == nil && h.State != outbox.StateQuarantined {
			a.screen.Seed(rec)
		}
	}
}

// Screen returns the bay screen, nil when it is off.
func (a *Agent) Screen() *web.Server { return a.screen }
