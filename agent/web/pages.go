package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// pageTopics are the updates each page's live part follows.
var pageTopics = map[string]topic{"now": topicNow, "job": topicJob, "live": topicLive, "box": topicBox}

// page serves one of the four pages: the layout around its live part.
func (s *Server) page(name string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, sess *session) {
		v := s.sessionView(r, sess, name)
		v.Flash = s.sessions.takeFlash(sess)
		render(w, http.StatusOK, name, v)
	}
}

// sessionView is a view with the page's data for a logged-in reader.
func (s *Server) sessionView(r *http.Request, sess *session, name string) *view {
	v := s.baseView(r, name)
	v.CSRF, v.Technician = sess.csrf, sess.technician
	switch name {
	case "now":
		v.Data = s.nowData(v.Lang)
	case "job":
		v.Data = s.jobData(v.Lang)
	case "live":
		v.Data = s.liveData(v.Lang)
	case "box":
		v.Data = s.boxData(v.Lang)
	}
	return v
}

// nowData is the Now page's.
type nowData struct {
	Connected bool
	Protocol  string
	Since     time.Time
	Job       string // the open job's id
	JobPhase  string
	Scan      *scanView
}

// scanView is a snapshot as the pages show it, with its findings.
type scanView struct {
	Seq      uint64
	At       time.Time
	Job      string
	Phase    string
	Snap     *scan.Snapshot
	Standard string // the OBD standard in the reader's language
	Result   findings.Result
	Findings []findingRow
	DTCs     []dtcRow
	Monitors []monitorRow
	Live     []valueRow
	Counters []valueRow
}

type findingRow struct {
	Effect, Severity string
	Text, Action     string
}

type dtcRow struct {
	Code, Kind, ECU, ECUName, Description string
}

type monitorRow struct {
	Label    string
	Complete bool
}

type valueRow struct {
	Label, Value string
	Detail       string // the system's error, untranslated (see Problem)
}

func (s *Server) nowData(l i18n.Lang) nowData {
	st := s.agent.Status()
	d := nowData{}
	d.Connected, _ = st["vehicle_connected"].(bool)
	d.Protocol, _ = st["vehicle_protocol"].(string)
	d.Since, _ = st["vehicle_since"].(time.Time)
	d.Job, _ = st["open_job"].(string)
	if p, ok := st["job_phase"]; ok {
		d.JobPhase = fmt.Sprint(p)
	}
	if e := s.feed.scan(); e != nil {
		expected := ""
		if j, ok := s.agent.OpenJob(); ok && j.ID == e.Job {
			expected = j.VIN
		}
		d.Scan = s.scanView(&e.Body.Snapshot, e.Body.Findings, l, expected)
		d.Scan.Seq, d.Scan.At, d.Scan.Job, d.Scan.Phase = e.Seq, e.Time, e.Job, string(e.Body.Phase)
	}
	return d
}

// scanView shows a snapshot with the findings its record carries (stored),
// or when it carries none, those of the screen's rules.
func (s *Server) scanView(snap *scan.Snapshot, stored *findings.Result, l i18n.Lang, expectedVIN string) *scanView {
	v := &scanView{Snap: snap, Standard: findings.OBDStandardText(snap.OBDStandard, l)}
	if stored != nil {
		v.Result = *stored
	} else {
		v.Result = findings.Evaluate(snap, s.rules, expectedVIN)
	}
	for _, f := range v.Result.Findings {
		v.Findings = append(v.Findings, findingRow{Effect: string(f.Effect), Severity: string(f.Severity), Text: f.Text(l), Action: f.Action(l)})
	}
	for _, e := range snap.ECUs {
		for _, k := range []struct {
			kind string
			dtcs []obd.DTC
		}{{"stored", e.Stored}, {"pending", e.Pending}, {"permanent", e.Permanent}, {"previous", e.Previous}} {
			for _, d := range k.dtcs {
				v.DTCs = append(v.DTCs, dtcRow{Code: d.Code, Kind: k.kind, ECU: e.Address.String(), ECUName: findings.ECUName(e.Name, l), Description: findings.DTCText(d, l)})
			}
		}
	}
	for _, m := range snap.Readiness {
		if m.Supported {
			v.Monitors = append(v.Monitors, monitorRow{Label: findings.MonitorLabel(m.Name, l), Complete: m.Complete})
		}
	}
	for _, val := range findings.KeyValues(snap) {
		v.Live = append(v.Live, valueRow{Label: findings.ValueLabel(val, l), Value: findings.ValueText(val, l)})
	}
	for _, c := range findings.SnapshotCounters(snap) {
		v.Counters = append(v.Counters, valueRow{Label: findings.CounterLabel(c.Name, l), Value: c.Text(l)})
	}
	return v
}

// jobData is the Job page's.
type jobData struct {
	Open     bool
	Job      job.Job
	Phase    string
	Events   []eventRow
	Compare  *comparison
	Readings []readingRow
	Tests    []testRow
	Phases   []string // the phases a scan or reading may still take
	// The emission test: the one running (from the status), the page's
	// own while the agent has not taken it up or when it was refused, the
	// analyzer's state, and the methods with the one the vehicle needs.
	Progress *progressView
	Run      *runView
	Analyzer *instrumentView
	Methods  []string
	Method   string
}

// eventRow is one event of a job, in order.
type eventRow struct {
	N       int
	Seq     uint64
	At      time.Time
	Kind    string
	Phase   string
	Summary string
	Detail  string // the system's error, untranslated
}

// comparison sets the first scan before the repair beside the last one
// after it.
type comparison struct {
	Before, After *scanView
	Rows          []compareRow
}

type compareRow struct {
	Label, Before, After string
	Better               bool
}

// readingRow is one emission reading.
type readingRow struct {
	N          int
	At         time.Time
	Phase      string
	Method     string
	Instrument string
	Values     []valueRow
}

func (s *Server) jobData(l i18n.Lang) jobData {
	j, ok := s.agent.OpenJob()
	if !ok {
		return jobData{}
	}
	d := jobData{Open: true, Job: j, Phase: string(j.Phase())}
	d.Events = s.jobEvents(j, l)
	d.Compare = s.compare(&j, l)
	d.Readings = readings(j.Readings, l)
	d.Tests = tests(j.Tests, l)
	st := s.agent.Status()
	d.Progress = progress(st, l)
	d.Run = s.testRun(l, d.Progress != nil)
	d.Analyzer = analyzerState(st, l)
	d.Methods = emission.Methods()
	d.Method = emission.TwoSpeedIdle
	if sc := j.LastScan(job.PhaseIntake, job.PhaseBeforeRepair, job.PhaseAfterRepair); sc != nil && sc.Snapshot.Ignition == obd.IgnitionCompression {
		d.Method = emission.FreeAcceleration
	}
	if j.RepairStarted {
		d.Phases = []string{string(job.PhaseAfterRepair)}
	} else {
		d.Phases = []string{string(job.PhaseBeforeRepair), string(job.PhaseAfterRepair)}
	}
	return d
}

// jobEvents lists a job's events in order with the seq numbers of their
// records (as far as this agent saw them stored).
func (s *Server) jobEvents(j job.Job, l i18n.Lang) []eventRow {
	seqs := map[int]uint64{}
	for _, r := range s.feed.records(j.ID) {
		if r.N > 0 {
			seqs[r.N] = r.Seq
		}
	}
	rows := []eventRow{{N: 1, At: j.OpenedAt, Kind: record.KindJobOpen, Summary: j.Complaint}}
	for _, sc := range j.Scans {
		sum := fmt.Sprintf("MIL %s · %d/%d/%d", onOff(sc.Snapshot.MIL, l), sc.Snapshot.DTCs.Stored, sc.Snapshot.DTCs.Pending, sc.Snapshot.DTCs.Permanent)
		rows = append(rows, eventRow{N: sc.N, At: sc.At, Kind: record.KindScan, Phase: string(sc.Phase), Summary: sum})
	}
	for _, r := range j.Readings {
		rows = append(rows, eventRow{N: r.N, At: r.At, Kind: record.KindEmission, Phase: string(r.Phase), Summary: findings.MethodText(r.Reading.Method, l)})
	}
	for _, t := range j.Tests {
		sum := methodText(t.Test.Method, l) + " · " + i18n.Text(l, "web.test."+t.Test.Verdict.Result)
		rows = append(rows, eventRow{N: t.N, At: t.At, Kind: record.KindEmissionTest, Phase: string(t.Phase), Summary: sum})
	}
	for _, c := range j.Clears {
		sum := i18n.Text(l, "web.clear."+c.Stage) + " · " + c.Technician + " · " + c.Reason
		rows = append(rows, eventRow{N: c.N, At: c.At, Kind: record.KindDTCClear, Summary: sum, Detail: c.Error})
	}
	for _, n := range j.Notes {
		rows = append(rows, eventRow{N: n.N, At: n.At, Kind: record.KindNote, Summary: n.Author + ": " + n.Text})
	}
	slices.SortFunc(rows, func(a, b eventRow) int { return cmp.Compare(a.N, b.N) })
	for i := range rows {
		rows[i].Seq = seqs[rows[i].N]
	}
	return rows
}

func onOff(on bool, l i18n.Lang) string {
	if on {
		return i18n.Text(l, "web.on")
	}
	return i18n.Text(l, "web.off")
}

// compare puts the first scan before the repair (or at intake) beside the
// last scan after it.
func (s *Server) compare(j *job.Job, l i18n.Lang) *comparison {
	var before, after *job.ScanBody
	for i := range j.Scans {
		sc := &j.Scans[i]
		switch sc.Phase {
		case job.PhaseIntake, job.PhaseBeforeRepair:
			if before == nil {
				before = sc
			}
		case job.PhaseAfterRepair:
			after = sc
		}
	}
	tb, ta := j.LastTest(job.PhaseBeforeRepair), j.LastTest(job.PhaseAfterRepair)
	if before == nil && after == nil && tb == nil && ta == nil {
		return nil
	}
	c := &comparison{}
	if before != nil {
		c.Before = s.scanView(&before.Snapshot, before.Findings, l, j.VIN)
	}
	if after != nil {
		c.After = s.scanView(&after.Snapshot, after.Findings, l, j.VIN)
	}
	get := func(v *scanView, f func(*scanView) string) string {
		if v == nil {
			return "-"
		}
		return f(v)
	}
	incomplete := func(v *scanView) int {
		n := 0
		for _, m := range v.Monitors {
			if !m.Complete {
				n++
			}
		}
		return n
	}
	rows := []struct {
		key  string
		f    func(*scanView) string
		less func(b, a *scanView) bool // after is better
	}{
		{"verdict", func(v *scanView) string { return findings.VerdictShort(v.Result.Verdict, l) },
			func(b, a *scanView) bool {
				return a.Result.Verdict == findings.Pass && b.Result.Verdict != findings.Pass
			}},
		{"mil", func(v *scanView) string { return onOff(v.Snap.MIL, l) }, func(b, a *scanView) bool { return b.Snap.MIL && !a.Snap.MIL }},
		{"stored", func(v *scanView) string { return fmt.Sprint(v.Snap.DTCs.Stored) },
			func(b, a *scanView) bool { return a.Snap.DTCs.Stored < b.Snap.DTCs.Stored }},
		{"pending", func(v *scanView) string { return fmt.Sprint(v.Snap.DTCs.Pending) },
			func(b, a *scanView) bool { return a.Snap.DTCs.Pending < b.Snap.DTCs.Pending }},
		{"permanent", func(v *scanView) string { return fmt.Sprint(v.Snap.DTCs.Permanent) },
			func(b, a *scanView) bool { return a.Snap.DTCs.Permanent < b.Snap.DTCs.Permanent }},
		{"incomplete", func(v *scanView) string { return fmt.Sprint(incomplete(v)) },
			func(b, a *scanView) bool { return incomplete(a) < incomplete(b) }},
	}
	for _, r := range rows {
		row := compareRow{Label: i18n.Text(l, "web.compare."+r.key), Before: get(c.Before, r.f), After: get(c.After, r.f)}
		row.Better = c.Before != nil && c.After != nil && r.less(c.Before, c.After)
		c.Rows = append(c.Rows, row)
	}
	if tb != nil || ta != nil {
		verdict := func(t *job.EmissionTestBody) string {
			if t == nil {
				return "-"
			}
			return i18n.Text(l, "web.test."+t.Test.Verdict.Result)
		}
		c.Rows = append(c.Rows, compareRow{Label: i18n.Text(l, "web.compare.emission_test"), Before: verdict(tb), After: verdict(ta),
			Better: tb != nil && ta != nil && tb.Test.Verdict.Result != emission.Pass && ta.Test.Verdict.Result == emission.Pass})
	}
	return c
}

func readings(rs []job.EmissionBody, l i18n.Lang) []readingRow {
	var out []readingRow
	for _, r := range rs {
		row := readingRow{N: r.N, At: r.At, Phase: string(r.Phase), Method: findings.MethodText(r.Reading.Method, l), Instrument: r.Reading.Instrument.Model}
		for _, q := range r.Reading.Values {
			row.Values = append(row.Values, valueRow{Label: quantityLabel(q, l), Value: quantityText(q)})
		}
		out = append(out, row)
	}
	return out
}

func quantityText(q analyzer.Quantity) string {
	return strings.TrimSpace(findings.FormatNumber(q.Value) + " " + q.Unit)
}

func quantityLabel(q analyzer.Quantity, l i18n.Lang) string {
	if e, ok := i18n.Lookup("findings.quantity." + q.Name); ok {
		return e.In(l)
	}
	return q.Name
}

// liveData is the Live page's.
type liveData struct {
	Running   bool
	Stopped   string
	Updated   time.Time
	Series    []seriesView
	Supported []pidChoice // what a feed may ask for: the last scan's PIDs
}

type seriesView struct {
	Label, ECU, Unit, Value string
	Points                  string // SVG polyline points
	Min, Max                string
}

type pidChoice struct {
	PID     string
	Label   string
	Checked bool
}

func (s *Server) liveData(l i18n.Lang) liveData {
	st := s.agent.Status()
	d := liveData{}
	d.Running, _ = st["live_feed"].(bool)
	series, at, stopped := s.feed.liveState()
	d.Updated, d.Stopped = at, stopped
	for _, ls := range series {
		d.Series = append(d.Series, chart(ls, l))
	}
	if e := s.feed.scan(); e != nil {
		seen := map[string]bool{}
		for _, ecu := range e.Body.Snapshot.ECUs {
			for _, p := range ecu.SupportedPIDs {
				if seen[p] {
					continue
				}
				seen[p] = true
				label := p
				var pid obd.PID
				if _, err := fmt.Sscanf(p, "%02X", &pid); err == nil {
					if def, ok := obd.LookupPID(pid); ok {
						label = p + " " + findings.ValueLabel(obd.Value{Name: def.Name, Label: def.Label}, l)
						if def.Name == "monitor_status" || def.Name == "freeze_dtc" {
							continue
						}
					}
					d.Supported = append(d.Supported, pidChoice{PID: p, Label: label, Checked: pid == 0x0C || pid == 0x0D || pid == 0x05})
				}
			}
		}
		slices.SortFunc(d.Supported, func(a, b pidChoice) int { return cmp.Compare(a.PID, b.PID) })
	}
	return d
}

// chart draws a series as the points of an SVG polyline in a 300x60 box.
func chart(ls liveSeries, l i18n.Lang) seriesView {
	v := seriesView{Label: findings.ValueLabel(obd.Value{Name: ls.Name, Label: ls.Label}, l), ECU: ls.ECU.String(), Unit: ls.Unit}
	if len(ls.Points) == 0 {
		return v
	}
	last := ls.Points[len(ls.Points)-1]
	v.Value = findings.FormatNumber(last.V)
	lo, hi := ls.Points[0].V, ls.Points[0].V
	for _, p := range ls.Points {
		lo, hi = min(lo, p.V), max(hi, p.V)
	}
	v.Min, v.Max = findings.FormatNumber(lo), findings.FormatNumber(hi)
	span := hi - lo
	if span == 0 {
		span = 1
	}
	var b strings.Builder
	n := len(ls.Points)
	for i, p := range ls.Points {
		x := 300.0
		if n > 1 {
			x = float64(i) * 300 / float64(maxLivePoints-1)
			x += 300 - float64(n-1)*300/float64(maxLivePoints-1) // right-aligned
		}
		y := 58 - (p.V-lo)/span*56
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	v.Points = strings.TrimSpace(b.String())
	return v
}

// boxData is the Box page's: the status, labelled.
type boxData struct {
	Rows     []valueRow
	Analyzer *instrumentView
	Sessions int
	Stored   int
	Clock    time.Time
	Zone     string
}

// boxFields are the status members the Box page shows, in order.
var boxFields = []string{
	"device", "bay", "version", "broker_connected", "broker_since", "last_upload", "broker_error",
	"outbox_depth", "outbox_bytes", "outbox_max_bytes", "outbox_oldest_age_s", "records_stored",
	"vehicle_connected", "vehicle_protocol", "open_job", "job_phase", "live_feed", "fault", "last_error",
	"clock_synced",
}

func (s *Server) boxData(l i18n.Lang) boxData {
	st := s.agent.Status()
	d := boxData{Sessions: s.sessions.count(), Stored: s.feed.storedCount(), Clock: s.now(), Analyzer: analyzerState(st, l)}
	d.Zone, _ = d.Clock.Local().Zone()
	for _, k := range boxFields {
		v, ok := st[k]
		if !ok {
			continue
		}
		row := valueRow{Label: k}
		switch x := v.(type) {
		case Problem:
			row.Value, row.Detail = x.Message.In(l), x.Detail
		case job.Phase:
			row.Value = i18n.Text(l, "web.phase."+string(x))
		default:
			row.Value = statusValue(v)
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

func statusValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.Local().Format("2006-01-02 15:04:05")
	case bool:
		if x {
			return "✔"
		}
		return "✘"
	case float64:
		return findings.FormatNumber(x)
	}
	return fmt.Sprint(v)
}

// reportData is the printable report's.
type reportData struct {
	Job      job.Job
	Closed   *job.Closed
	Compare  *comparison
	Events   []eventRow
	Readings []readingRow
	Tests    []testRow
	Device   string
	Shop     string
	Company  string
	Printed  time.Time
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("job")
	v := s.sessionView(r, sess, "report")
	d := reportData{Printed: s.now()}
	st := s.agent.Status()
	d.Device, _ = st["device"].(string)
	d.Shop, _ = st["shop"].(string)
	d.Company, _ = st["company_name"].(string)
	if j, ok := s.agent.OpenJob(); ok && j.ID == id {
		d.Job = j
	} else {
		c, err := s.agent.ClosedJob(id)
		if errors.Is(err, job.ErrUnknownJob) || err != nil {
			s.errorPage(w, r, http.StatusNotFound, "error.no_job")
			return
		}
		d.Job, d.Closed = c.Job, &c
	}
	d.Compare = s.compare(&d.Job, v.Lang)
	d.Events = s.jobEvents(d.Job, v.Lang)
	if d.Closed != nil {
		n := d.Job.Events
		seq := uint64(0)
		for _, r := range s.feed.records(id) {
			if r.Kind == record.KindJobClose {
				seq = r.Seq
			}
		}
		d.Events = append(d.Events, eventRow{N: n, Seq: seq, At: d.Closed.ClosedAt, Kind: record.KindJobClose, Summary: d.Closed.Settlement.SettlementNo})
	}
	d.Readings = readings(d.Job.Readings, v.Lang)
	d.Tests = tests(d.Job.Tests, v.Lang)
	v.Data = d
	render(w, http.StatusOK, "report", v)
}

// reportIndex lists the jobs this agent saw, for their reports.
func (s *Server) reportIndex(w http.ResponseWriter, r *http.Request, sess *session) {
	v := s.sessionView(r, sess, "reports")
	ids := s.feed.recentJobs()
	if j, ok := s.agent.OpenJob(); ok && !slices.Contains(ids, j.ID) {
		ids = append([]string{j.ID}, ids...)
	}
	v.Data = ids
	render(w, http.StatusOK, "reports", v)
}
