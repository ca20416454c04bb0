package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// printer writes the demo's report in the reader's language (the "demo."
// messages of package i18n). In JSON mode it stays silent until received,
// which writes the one JSON document.
type printer struct {
	w    io.Writer
	lang i18n.Lang
	json bool
	err  error    // the first write error
	doc  *jsonDoc // the --json document, written by uploaded
}

func newPrinter(w io.Writer, l i18n.Lang, asJSON bool) *printer {
	return &printer{w: w, lang: l, json: asJSON}
}

// t is the message "demo."+key in the reader's language.
func (p *printer) t(key string, args ...any) string { return i18n.Text(p.lang, "demo."+key, args...) }

// in is a message of any area in the reader's language.
func (p *printer) in(key string, args ...any) string { return i18n.Text(p.lang, key, args...) }

// item prints one labelled line of a section.
func (p *printer) item(label, text string) { p.printf("  %-10s %s\n", p.t("label."+label), text) }

func (p *printer) printf(format string, a ...any) {
	if p.json || p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, a...)
}

func (p *printer) line(s string) { p.printf("%s\n", s) }

func (p *printer) section(title string) { p.printf("\n== %s\n\n", title) }

func (p *printer) setup(brk *embedbroker.Broker, brokerURL, analyzerDev string, cfg *config.Config) {
	p.line(p.t("title"))
	p.section(p.t("section.setup"))
	if brk != nil {
		p.item("broker", p.t("setup.broker_embedded", "addr", brk.Addr))
	} else {
		p.item("broker", p.t("setup.broker_outside", "url", brokerURL))
	}
	p.item("vehicle", p.t("setup.vehicle", "profile", vehicleProfile, "iface", cfg.Vehicle.Interface))
	p.item("analyzer", p.t("setup.analyzer", "dev", analyzerDev, "before", readingsBefore, "after", readingsAfter))
	p.item("agent", p.t("setup.agent", "device", cfg.Device.ID, "shop", cfg.Device.Shop, "dir", cfg.Device.StateDir))
}

// screen prints the bay screen's address and the one-time PIN of this
// run.
func (p *printer) screen(url, pin string) {
	p.item("screen", p.t("setup.screen", "url", url, "pin", pin))
}

// step prints one step of the script: the command, what it said, what came
// back.
func (p *printer) step(cmd, what, outcome string) {
	if what != "" {
		what += " "
	}
	p.printf("  %-17s %s-> %s\n", cmd, what, outcome)
}

// received prints what the health-record side received.
func (p *printer) received(res *Result, t uplink.Topics, keyFile string, lines [][]byte) error {
	if p.json {
		return p.receivedJSON(res, keyFile, lines)
	}
	p.section(p.t("section.received", "n", len(res.Records), "topic", t.Records))
	kinds := map[string]int{}
	var order []string
	for _, r := range res.Records {
		if kinds[r.Kind] == 0 {
			order = append(order, r.Kind)
		}
		kinds[r.Kind]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, p.t("received.kind", "n", kinds[k], "kind", p.in("web.kind."+k)))
	}
	p.printf("  %s\n", strings.Join(parts, ", "))

	p.section(p.t("section.compare", "job", res.Closed.ID))
	p.comparison(&res.Closed)

	p.section(p.t("section.upload"))
	var up bytes.Buffer
	if err := healthrecord.Export(&up, res.Closed, healthrecord.Options{
		CompanyName: CompanyName, Dialect: healthrecord.Shared{OmitExtension: true},
	}); err != nil {
		return err
	}
	p.printf("%s", up.String())
	p.line(p.t("upload.extension_left_out"))

	p.section(p.t("section.verify"))
	pubInfo := ""
	if data, err := os.ReadFile(keyFile); err == nil {
		if pub, _, err := devicekey.ParsePublic(data); err == nil {
			pubInfo = p.t("verify.key", "fingerprint", devicekey.Fingerprint(pub))
		}
	}
	p.printf("  %s\n", p.t("verify.with_key", "file", keyFile, "key", pubInfo))
	for _, l := range strings.Split(strings.TrimRight(res.Report.Text(p.lang), "\n"), "\n") {
		p.printf("  %s\n", l)
	}
	if res.Report.OK() {
		p.printf("  %s\n", p.t("verify.ok", "n", res.Report.Records, "device", Device))
	} else {
		p.printf("  %s\n", p.t("verify.failed"))
	}
	return p.err
}

// receivedJSON writes one JSON document: the records received, each as
// its wire line in a JSON string (byte-exact, so it verifies again), the
// device's public key, the upload form with the M-station extension, and
// the verification report.
func (p *printer) receivedJSON(res *Result, keyFile string, lines [][]byte) error {
	var up bytes.Buffer
	if err := healthrecord.Export(&up, res.Closed, healthrecord.Options{CompanyName: CompanyName}); err != nil {
		return err
	}
	pub, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	recs := make([]string, len(lines))
	for i, l := range lines {
		recs[i] = string(l)
	}
	p.doc = &jsonDoc{recs, pub, up.Bytes(), res.Report.MarshalJSONIndent(), res.Report.OK(), nil}
	return nil
}

// jsonDoc is the --json output, written once the upload is known.
type jsonDoc struct {
	Records      []string        `json:"records"`
	PublicKey    json.RawMessage `json:"device_public_key"`
	Upload       json.RawMessage `json:"upload"`
	Verification json.RawMessage `json:"verification"`
	Verified     bool            `json:"verified"`
	Provincial   *Upload         `json:"provincial_upload"`
}

// uploaded prints what the receiving side did: the receiver's view of the
// chain and the job's upload to the simulated provincial system, with its
// reply. In JSON mode it writes the one JSON document.
func (p *printer) uploaded(u *Upload, c provsim.Counts) error {
	if p.json {
		if p.doc == nil {
			return p.err
		}
		p.doc.Provincial = u
		enc := json.NewEncoder(p.w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(p.doc)
	}
	p.section(p.t("section.provincial"))
	if u == nil {
		p.printf("  %s\n", p.t("provincial.none"))
		return p.err
	}
	d := u.Device
	gaps := p.t("provincial.gaps_none")
	if d.Missing > 0 {
		gaps = p.t("provincial.gaps", "n", d.Missing)
	}
	p.item("receiver", p.t("provincial.receiver", "stored", d.Stored, "through", d.VerifiedThrough, "gaps", gaps, "quarantined", len(d.Quarantined)))
	state := string(u.Job.State)
	if e, ok := i18n.Lookup("demo.provincial.state." + state); ok {
		state = e.In(p.lang)
	}
	p.item("job", p.t("provincial.job", "job", u.Job.Job, "state", state, "attempts", u.Job.Attempts))
	p.item("sent_to", "POST "+u.URL)
	p.item("token", p.t("provincial.token", "n", c.Tokens, "shop", Shop))
	if u.Job.State == "uploaded" {
		p.item("reply", u.Job.Reply)
	} else {
		// The receiver's error and the provincial system's reply, as they are.
		p.item("refused", u.Job.LastError+" ("+u.Job.Reply+")")
	}
	return p.err
}

func (p *printer) keepRunning(brk *embedbroker.Broker, brokerURL string, t uplink.Topics, dir string) {
	p.section(p.t("section.running"))
	p.item("broker", brokerURL)
	p.item("topics", fmt.Sprintf("%s  %s (%s)  %s  %s  %s", t.Records, t.Status, p.t("label.retained"), t.Cmd, t.Reply, t.Live))
	sub := "mosquitto_sub -v -t '" + t.Root + "/#'"
	// live_start changes nothing, so it needs no signature; commands that
	// change the car or a job must be signed by the operator key.
	pub := "mosquitto_pub -t '" + t.Cmd + `' -m '{"id":"1","cmd":"live_start","args":{"pids":["0C","0D"]}}'`
	if brk != nil {
		host, port := splitHostPort(brk.Addr)
		conn := fmt.Sprintf(" -h %s -p %s --cafile %s", host, port, brk.CAFile)
		sub += conn
		pub += conn
	}
	p.item("watch", sub)
	p.item("command", pub)
	p.item("state", dir)
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

// Column widths of the comparison.
const (
	labelW = 26
	colW   = 34
)

func (p *printer) row(label, before, after string) {
	p.printf("  %-*s %-*s %s\n", labelW, label, colW, before, after)
}

// comparison prints the before/after table of a closed emission repair.
func (p *printer) comparison(c *job.Closed) {
	before := c.LastScan(job.PhaseBeforeRepair)
	if before == nil {
		before = c.LastScan(job.PhaseIntake)
	}
	after := c.LastScan(job.PhaseAfterRepair)
	none := p.t("compare.none")
	p.row("", p.t("compare.before"), p.t("compare.after"))
	p.line("  " + p.t("compare.obd"))
	snap := func(s *job.ScanBody, f func(*scan.Snapshot) string) string {
		if s == nil {
			return p.t("compare.no_scan")
		}
		return f(&s.Snapshot)
	}
	both := func(key string, f func(*scan.Snapshot) string) {
		p.row("    "+p.t("compare."+key), snap(before, f), snap(after, f))
	}
	both("mil", func(s *scan.Snapshot) string { return onOff(s.MIL, p.lang) })
	both("stored", func(s *scan.Snapshot) string {
		return codeList(s, none, func(e *scan.ECU) []obd.DTC { return e.Stored })
	})
	both("pending", func(s *scan.Snapshot) string {
		return codeList(s, none, func(e *scan.ECU) []obd.DTC { return e.Pending })
	})
	both("permanent", func(s *scan.Snapshot) string {
		return codeList(s, none, func(e *scan.ECU) []obd.DTC { return e.Permanent })
	})
	both("incomplete", func(s *scan.Snapshot) string { return incomplete(s, p.lang, none) })
	both("distance", func(s *scan.Snapshot) string { return optUnit(s.DistanceSinceClear, "km") })
	both("warmups", func(s *scan.Snapshot) string { return optUnit(s.WarmupsSinceClear, "") })
	both("flags", func(s *scan.Snapshot) string {
		var fl []string
		for _, f := range s.Flags {
			fl = append(fl, f.Code)
		}
		return listOrNone(fl, none)
	})

	tb, ta := c.LastTest(job.PhaseBeforeRepair), c.LastTest(job.PhaseAfterRepair)
	model := p.t("compare.analyzer")
	if tb != nil {
		model = p.t("compare.exhaust_test", "model", tb.Test.Instrument.Model, "set", tb.Test.LimitSetName)
	}
	p.printf("  %s\n", p.t("compare.exhaust", "instrument", model))
	noTest := p.t("compare.no_test")
	for _, q := range []struct{ name, label string }{
		{analyzer.QuantityHC, "HC ppm"},
		{analyzer.QuantityCO, "CO %vol"},
		{analyzer.QuantityCO2, "CO2 %vol"},
		{analyzer.QuantityO2, "O2 %vol"},
		{analyzer.QuantityNO, "NO ppm"},
		{analyzer.QuantityLambda, "lambda"},
		{analyzer.QuantityRPM, p.t("compare.engine_rpm")},
	} {
		p.row("    "+q.label, averages(tb, q.name, noTest), averages(ta, q.name, noTest))
	}
	p.row("    "+p.t("compare.verdict"), p.verdict(tb), p.verdict(ta))
	p.row("    "+p.t("compare.seconds"), samples(tb), samples(ta))

	p.line("  " + p.t("compare.clear"))
	if len(c.Clears) == 0 {
		p.line("    " + none)
	}
	for _, cl := range c.Clears {
		ecus := ""
		if len(cl.ECUs) > 0 {
			var s []string
			for _, e := range cl.ECUs {
				s = append(s, e.String())
			}
			ecus = p.t("compare.clear_ecus", "ecus", strings.Join(s, ", "))
		}
		p.printf("    %s\n", p.t("compare.clear_line", "time", cl.At.Local().Format("15:04:05"), "stage", p.in("web.clear."+cl.Stage),
			"what", p.stageText(cl.Stage), "ecus", ecus, "technician", cl.Technician, "reason", cl.Reason))
	}

	p.line("  " + p.t("compare.descriptions"))
	for _, d := range allDTCs(before, after) {
		p.printf("    %-6s %s\n", d.Code, findings.DTCText(d, p.lang))
	}
	p.line("")
	p.line(p.t("compare.explain", "before", readingsBefore, "after", readingsAfter))
}

func (p *printer) stageText(stage string) string {
	switch stage {
	case job.ClearRequested:
		return p.t("compare.clear_requested")
	case job.ClearDone:
		return p.t("compare.clear_done")
	}
	return p.t("compare.clear_failed")
}

// codeList lists the DTC codes of every ECU, each once.
func codeList(s *scan.Snapshot, none string, of func(*scan.ECU) []obd.DTC) string {
	var codes []string
	for i := range s.ECUs {
		for _, d := range of(&s.ECUs[i]) {
			if !slices.Contains(codes, d.Code) {
				codes = append(codes, d.Code)
			}
		}
	}
	return listOrNone(codes, none)
}

// allDTCs lists every code of both scans, each once, in order of
// appearance.
func allDTCs(scans ...*job.ScanBody) []obd.DTC {
	var out []obd.DTC
	seen := map[string]bool{}
	for _, sc := range scans {
		if sc == nil {
			continue
		}
		for _, e := range sc.Snapshot.ECUs {
			for _, l := range [][]obd.DTC{e.Stored, e.Pending, e.Permanent} {
				for _, d := range l {
					if !seen[d.Code] {
						seen[d.Code] = true
						out = append(out, d)
					}
				}
			}
		}
	}
	return out
}

func incomplete(s *scan.Snapshot, l i18n.Lang, none string) string {
	var names []string
	for _, m := range s.Readiness {
		if m.Code == obd.MonitorNotComplete {
			names = append(names, findings.MonitorLabel(m.Name, l))
		}
	}
	return listOrNone(names, none)
}

func listOrNone(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

func optUnit(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	s := strconv.FormatFloat(*v, 'f', -1, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// averages joins one quantity's averages of a two-speed idle test, idle
// first: "180 / 110".
func averages(t *job.EmissionTestBody, name, noTest string) string {
	if t == nil {
		return noTest
	}
	var out []string
	for _, mode := range []string{emission.StepIdle, emission.StepHighIdle} {
		i := slices.IndexFunc(t.Test.Modes, func(m emission.ModeResult) bool { return m.Mode == mode })
		if i < 0 {
			out = append(out, "-")
			continue
		}
		v, ok := t.Test.Modes[i].Average(name)
		if !ok {
			out = append(out, "-")
			continue
		}
		prec := -1
		if name == analyzer.QuantityLambda {
			prec = 2
		}
		out = append(out, strconv.FormatFloat(v, 'f', prec, 64))
	}
	return strings.Join(out, " / ")
}

// verdict is a test's verdict, with what failed.
func (p *printer) verdict(t *job.EmissionTestBody) string {
	if t == nil {
		return p.t("compare.no_test")
	}
	v := t.Test.Verdict
	var parts []string
	for _, f := range v.Failures {
		if q := strings.ToUpper(f.Quantity); !slices.Contains(parts, q) {
			parts = append(parts, q)
		}
	}
	if v.Reason != "" {
		parts = append(parts, v.Reason)
	}
	result := p.t("verdict." + v.Result)
	if len(parts) == 0 {
		return result
	}
	return result + ": " + strings.Join(parts, ", ")
}

func samples(t *job.EmissionTestBody) string {
	if t == nil {
		return "-"
	}
	return strconv.Itoa(len(t.Test.Samples))
}
