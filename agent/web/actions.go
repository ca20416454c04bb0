package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/uplink"
)

// actionTimeout bounds one action: a scan through a slow adapter, a DTC
// clear with response-pending ECUs.
const actionTimeout = 2 * time.Minute

// Commands the page may send, and how a form becomes their arguments.
// The technician of the session fills the technician (or author) field:
// the page never lets one technician act under another's id.
var actionArgs = map[string]func(f url.Values, tech string) map[string]any{
	command.StartScan:   func(f url.Values, _ string) map[string]any { return optional(f, "phase") },
	command.TakeReading: func(f url.Values, _ string) map[string]any { return optional(f, "phase") },
	command.AddNote: func(f url.Values, tech string) map[string]any {
		a := map[string]any{"author": tech, "text": f.Get("text")}
		if f.Get("repair_started") != "" {
			a["repair_started"] = true
		}
		return a
	},
	command.ClearDTCs: func(f url.Values, tech string) map[string]any {
		return map[string]any{"technician": tech, "reason": f.Get("reason")}
	},
	command.LiveStart: func(f url.Values, _ string) map[string]any {
		a := map[string]any{"pids": nonNil(f["pid"])}
		if v := f.Get("rate_hz"); v != "" {
			a["rate_hz"] = number(v)
		}
		if v := f.Get("duration_s"); v != "" {
			a["duration_s"] = number(v)
		}
		return a
	},
	command.LiveStop: func(url.Values, string) map[string]any { return map[string]any{} },
	command.RunEmissionTest: func(f url.Values, tech string) map[string]any {
		a := optional(f, "method", "phase")
		a["technician"] = tech
		if f.Get("heavy") != "" {
			a["heavy"] = true
		}
		return a
	},
	command.OpenJob: func(f url.Values, tech string) map[string]any {
		a := optional(f, "vin", "plate_color", "test_no")
		a["job_id"], a["type"], a["plate"], a["complaint"] = f.Get("job_id"), f.Get("type"), f.Get("plate"), f.Get("complaint")
		a["mileage_km"] = number(f.Get("mileage_km"))
		a["technician"] = tech
		return a
	},
	command.CloseJob: closeArgs,
	command.CancelJob: func(f url.Values, tech string) map[string]any {
		return map[string]any{"technician": tech, "reason": f.Get("reason")}
	},
}

// jobActions need Options.JobActions.
var jobActions = []string{command.OpenJob, command.CloseJob, command.CancelJob}

// confirmActions need the form's confirm box ticked: they change the
// vehicle or end the job.
var confirmActions = []string{command.ClearDTCs, command.CloseJob, command.CancelJob}

// backgroundActions take longer than a page waits: an emission test runs
// for minutes while the Job page guides the technician through it. The
// page returns at once; the Job page shows the test's progress and, when
// the agent refuses it, why.
var backgroundActions = []string{command.RunEmissionTest}

// optional copies the named fields that are not empty.
func optional(f url.Values, names ...string) map[string]any {
	a := map[string]any{}
	for _, n := range names {
		if v := strings.TrimSpace(f.Get(n)); v != "" {
			a[n] = v
		}
	}
	return a
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// number passes a form field on as a JSON number when it is one, and as
// the text otherwise, so that the command's own check names the field.
func number(s string) any {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return json.Number(s)
	}
	return s
}

// closeArgs builds close_job's settlement from the form: up to maxRows
// repair items (item_name, item_hours) and parts (part_name, part_code,
// part_qty); empty rows are dropped.
func closeArgs(f url.Values, tech string) map[string]any {
	a := optional(f, "fault_description", "emission_waiver")
	a["technician"] = tech
	if _, ok := a["emission_waiver"]; ok {
		a["emission_waiver_by"] = tech // the signed-in technician takes responsibility for the override
	}
	a["settlement_no"], a["settle_date"], a["repair_date"] = f.Get("settlement_no"), f.Get("settle_date"), f.Get("repair_date")
	items := []map[string]any{}
	names, hours := f["item_name"], f["item_hours"]
	for i := range min(len(names), maxRows) {
		if strings.TrimSpace(names[i]) == "" {
			continue
		}
		h := ""
		if i < len(hours) {
			h = strings.TrimSpace(hours[i])
		}
		items = append(items, map[string]any{"name": strings.TrimSpace(names[i]), "working_hours": h})
	}
	parts := []map[string]any{}
	pn, pc, pq := f["part_name"], f["part_code"], f["part_qty"]
	for i := range min(len(pn), maxRows) {
		if strings.TrimSpace(pn[i]) == "" {
			continue
		}
		p := map[string]any{"name": strings.TrimSpace(pn[i])}
		if i < len(pc) && strings.TrimSpace(pc[i]) != "" {
			p["code"] = strings.TrimSpace(pc[i])
		}
		if i < len(pq) {
			p["quantity"] = strings.TrimSpace(pq[i])
		}
		parts = append(parts, p)
	}
	a["items"], a["parts"] = items, parts
	return a
}

// maxRows is how many item and part rows the close form offers.
const maxRows = 8

// pages an action may return to.
var backPages = map[string]string{"now": "/", "job": "/job", "live": "/live", "box": "/box"}

// action runs one command from a form: audited first, then the agent's
// command handler, then back to the page with the outcome.
func (s *Server) action(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("action")
	build, ok := actionArgs[name]
	if !ok || slices.Contains(jobActions, name) && !s.opts.JobActions {
		s.errorPage(w, r, http.StatusNotFound, "error.no_action")
		return
	}
	back := backPages[r.PostForm.Get("back")]
	if back == "" {
		back = "/"
	}
	done := func(ok bool, text func(v *view) shown) {
		s.sessions.setFlash(sess, flash{OK: ok, text: text})
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
	if slices.Contains(confirmActions, name) && r.PostForm.Get("confirm") == "" {
		done(false, func(v *view) shown { return says(v.T("action.confirm_needed")) })
		return
	}
	args, err := json.Marshal(build(r.PostForm, sess.technician))
	if err != nil {
		done(false, func(v *view) shown { return shown{v.T("error.bad_form"), err.Error()} })
		return
	}
	if slices.Contains(backgroundActions, name) && s.backgroundRunning() {
		done(false, func(v *view) shown { return says(v.T("action.busy")) })
		return
	}
	if err := s.audit(r, sess, name, args); err != nil {
		s.log.Warn("bay screen: action not run, the audit record was not stored", "action", name, "err", err)
		done(false, func(v *view) shown {
			r := replyText(v.Lang, err)
			return shown{v.T("action.not_audited", "error", r.Text), r.Detail}
		})
		return
	}
	if slices.Contains(backgroundActions, name) {
		if !s.background(name, sess.technician, args) {
			done(false, func(v *view) shown { return says(v.T("action.busy")) })
			return
		}
		s.log.Info("bay screen: action started", "action", name, "technician", sess.technician)
		done(true, func(v *view) shown { return says(v.T("action.started", "action", v.T("cmd."+name))) })
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actionTimeout)
	defer cancel()
	res, err := s.agent.Command(ctx, name, args)
	if err != nil {
		s.log.Info("bay screen: action failed", "action", name, "technician", sess.technician, "err", err)
		done(false, func(v *view) shown { return failed(v.Lang, name, err) })
		return
	}
	s.log.Info("bay screen: action", "action", name, "technician", sess.technician)
	done(true, func(v *view) shown {
		return says(v.T("action.done", "action", v.T("cmd."+name), "result", resultText(v, res)))
	})
}

// replyText is an error as a reply on the MQTT topic would give it to a
// person: its code's message in the reader's language, with the error
// itself as the detail where the code alone does not say enough.
func replyText(l i18n.Lang, err error) shown {
	rep := uplink.ErrorReply("", err)
	msg := rep.Message[l]
	if msg == "" {
		return shown{Text: i18n.Text(l, "reply."+string(uplink.CodeInternal)), Detail: err.Error()}
	}
	if rep.Code == uplink.CodeBadArgument || rep.Code == uplink.CodeInternal || rep.Code == uplink.CodeVehicleError || rep.Code == uplink.CodeAnalyzerError {
		return shown{Text: msg, Detail: err.Error()}
	}
	return says(msg)
}

// failed says that the command name failed with err.
func failed(l i18n.Lang, name string, err error) shown {
	r := replyText(l, err)
	return shown{i18n.Text(l, "web.action.failed", "action", i18n.Text(l, "web.cmd."+name), "error", r.Text), r.Detail}
}

// resultText summarises a command's result for the flash message.
func resultText(v *view, res any) string {
	b, err := json.Marshal(res)
	if err != nil {
		return ""
	}
	var r struct {
		Kind  string `json:"kind"`
		Phase string `json:"phase"`
		Job   string `json:"job"`
		Stage string `json:"stage"`
	}
	if json.Unmarshal(b, &r) != nil || r.Kind == "" {
		return ""
	}
	out := v.T("kind." + r.Kind)
	if r.Phase != "" {
		out += " · " + v.T("phase."+r.Phase)
	}
	if r.Stage != "" {
		out += " · " + v.T("clear."+r.Stage)
	}
	if r.Job != "" {
		out += " · " + r.Job
	}
	return out
}

// audit stores an audit record for an action of the session.
func (s *Server) audit(r *http.Request, sess *session, action string, args json.RawMessage) error {
	a := Audit{Via: "screen", Technician: sess.technician, Session: sess.short(), Remote: clientAddr(r), Action: action, Args: args}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := s.agent.Audit(ctx, a); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// bgRun is the action the page runs in the background (backgroundActions),
// while it runs and after: the Job page shows it.
type bgRun struct {
	Action, Technician string
	Started            time.Time
	Done               bool
	Err                error
}

// backgroundRunning reports whether a background action runs.
func (s *Server) backgroundRunning() bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	return s.bg != nil && !s.bg.Done
}

// background starts the command in a goroutine the server owns (Run waits
// for it and cancels it when the screen stops); false when one runs
// already.
func (s *Server) background(name, tech string, args json.RawMessage) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bg != nil && !s.bg.Done {
		return false
	}
	run := &bgRun{Action: name, Technician: tech, Started: s.now()}
	s.bg = run
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		_, err := s.agent.Command(s.bgCtx, name, args)
		if err != nil {
			s.log.Info("bay screen: action failed", "action", name, "technician", tech, "err", err)
		} else {
			s.log.Info("bay screen: action done", "action", name, "technician", tech)
		}
		s.bgMu.Lock()
		run.Done, run.Err = true, err
		s.bgMu.Unlock()
		s.feed.changed(topicJob)
	}()
	s.feed.changed(topicJob)
	return true
}

// lastBackground returns a copy of the background action, nil if none ran.
func (s *Server) lastBackground() *bgRun {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bg == nil {
		return nil
	}
	c := *s.bg
	return &c
}
