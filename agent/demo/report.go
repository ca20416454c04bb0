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
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// printer writes the demo's report. In JSON mode it stays silent until
// received, which writes the one JSON document.
type printer struct {
	w    io.Writer
	json bool
	err  error    // the first write error
	doc  *jsonDoc // the --json document, written by uploaded
}

func newPrinter(w io.Writer, asJSON bool) *printer { return &printer{w: w, json: asJSON} }

func (p *printer) printf(format string, a ...any) {
	if p.json || p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, a...)
}

func (p *printer) line(s string) { p.printf("%s\n", s) }

func (p *printer) section(title string) { p.printf("\n== %s\n\n", title) }

func (p *printer) setup(brk *embedbroker.Broker, brokerURL, analyzerDev string, cfg *config.Config) {
	p.line("Bayagent demo: one emission repair at an M station, end to end, on this machine.")
	p.section("Set-up")
	if brk != nil {
		p.printf("  %-10s embedded (mochi-mqtt), TLS on %s, certificate from a CA made for this run\n", "broker", brk.Addr)
	} else {
		p.printf("  %-10s %s (outside broker)\n", "broker", brokerURL)
	}
	p.printf("  %-10s simulated %s on the in-process CAN bus %s\n", "vehicle", vehicleProfile, cfg.Vehicle.Interface)
	p.printf("  %-10s simulated NHA-506 on %s: %s, then %s\n", "analyzer", analyzerDev, readingsBefore, readingsAfter)
	p.printf("  %-10s device %s of shop %s, state in %s\n", "agent", cfg.Device.ID, cfg.Device.Shop, cfg.Device.StateDir)
}

// screen prints the bay screen's address and the one-time PIN of this
// run.
func (p *printer) screen(url, pin string) {
	p.printf("  %-10s %s  (sign in with any technician id, e.g. T007, and PIN %s; one-time, for this run)\n", "screen", url, pin)
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
	p.section(fmt.Sprintf("What the health-record system received: %d records on %s", len(res.Records), t.Records))
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
		parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
	}
	p.printf("  %s\n", strings.Join(parts, ", "))

	p.section("Before and after the repair (job " + res.Closed.ID + ", rebuilt from the records)")
	p.comparison(&res.Closed)

	p.section("Health-record upload form of the closed job (healthrecord.Export, shared API)")
	var up bytes.Buffer
	if err := healthrecord.Export(&up, res.Closed, healthrecord.Options{
		CompanyName: CompanyName, Dialect: healthrecord.Shared{OmitExtension: true},
	}); err != nil {
		return err
	}
	p.printf("%s", up.String())
	p.line("  (the x_bayagent_mstation extension with the before/after findings above is left out here; --json shows it)")

	p.section("Verification of the record chain")
	pubInfo := ""
	if data, err := os.ReadFile(keyFile); err == nil {
		if pub, _, err := devicekey.ParsePublic(data); err == nil {
			pubInfo = " (key " + devicekey.Fingerprint(pub) + ")"
		}
	}
	p.printf("  record.Verify with the device's public key %s%s:\n", keyFile, pubInfo)
	for _, l := range strings.Split(strings.TrimRight(res.Report.String(), "\n"), "\n") {
		p.printf("  %s\n", l)
	}
	if res.Report.OK() {
		p.printf("  verified: %d records from %s, complete, in order, hash-chained and signed by the device key\n", res.Report.Records, Device)
	} else {
		p.line("  NOT verified: see the problems above")
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
	p.section("Upload to the provincial health-record system (simulated lcipprodatarest), through bayreceiver")
	if u == nil {
		p.line("  no upload: see the error below")
		return p.err
	}
	d := u.Device
	gaps := "no gaps"
	if d.Missing > 0 {
		gaps = fmt.Sprintf("%d records missing", d.Missing)
	}
	p.printf("  %-10s %d records verified and stored once, chain complete through seq %d, %s, %d quarantined\n",
		"receiver", d.Stored, d.VerifiedThrough, gaps, len(d.Quarantined))
	p.printf("  %-10s %s: %s after %d attempt(s) (rebuilt from its records with job.FromRecords)\n", "job", u.Job.Job, u.Job.State, u.Job.Attempts)
	p.printf("  %-10s POST %s\n", "sent to", u.URL)
	p.printf("  %-10s %d access token(s) from lcipprogetaccesstoken for company %s\n", "token", c.Tokens, Shop)
	if u.Job.State == "uploaded" {
		p.printf("  %-10s %s\n", "reply", u.Job.Reply)
	} else {
		p.printf("  %-10s %s (%s)\n", "refused", u.Job.LastError, u.Job.Reply)
	}
	return p.err
}

func (p *printer) keepRunning(brk *embedbroker.Broker, brokerURL string, t uplink.Topics, dir string) {
	p.section("Still running (--keep-running): Ctrl-C stops broker, simulators and agent")
	p.printf("  broker   %s\n", brokerURL)
	p.printf("  topics   %s  %s (retained)  %s  %s  %s\n", t.Records, t.Status, t.Cmd, t.Reply, t.Live)
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
	p.printf("  watch    %s\n", sub)
	p.printf("  command  %s\n", pub)
	p.printf("  state    %s\n", dir)
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
	p.row("", "BEFORE REPAIR", "AFTER REPAIR")
	p.line("  OBD")
	snap := func(s *job.ScanBody, f func(*scan.Snapshot) string) string {
		if s == nil {
			return "(no scan)"
		}
		return f(&s.Snapshot)
	}
	both := func(label string, f func(*scan.Snapshot) string) {
		p.row("    "+label, snap(before, f), snap(after, f))
	}
	both("MIL", func(s *scan.Snapshot) string { return onOff(s.MIL) })
	both("stored DTCs", func(s *scan.Snapshot) string { return codeList(s, func(e *scan.ECU) []obd.DTC { return e.Stored }) })
	both("pending DTCs", func(s *scan.Snapshot) string { return codeList(s, func(e *scan.ECU) []obd.DTC { return e.Pending }) })
	both("permanent DTCs", func(s *scan.Snapshot) string { return codeList(s, func(e *scan.ECU) []obd.DTC { return e.Permanent }) })
	both("readiness incomplete", incomplete)
	both("distance since clear", func(s *scan.Snapshot) string { return optUnit(s.DistanceSinceClear, "km") })
	both("warm-ups since clear", func(s *scan.Snapshot) string { return optUnit(s.WarmupsSinceClear, "") })
	both("inspector flags", func(s *scan.Snapshot) string {
		var fl []string
		for _, f := range s.Flags {
			fl = append(fl, f.Code)
		}
		return listOrNone(fl)
	})

	tb, ta := c.LastTest(job.PhaseBeforeRepair), c.LastTest(job.PhaseAfterRepair)
	model := "analyzer"
	if tb != nil {
		model = tb.Test.Instrument.Model + ", two-speed idle test, limit set " + tb.Test.LimitSetName
	}
	p.printf("  Exhaust (%s): averages at idle / high idle\n", model)
	for _, q := range []struct{ name, label string }{
		{analyzer.QuantityHC, "HC ppm"},
		{analyzer.QuantityCO, "CO %vol"},
		{analyzer.QuantityCO2, "CO2 %vol"},
		{analyzer.QuantityO2, "O2 %vol"},
		{analyzer.QuantityNO, "NO ppm"},
		{analyzer.QuantityLambda, "lambda"},
		{analyzer.QuantityRPM, "engine rpm"},
	} {
		p.row("    "+q.label, averages(tb, q.name), averages(ta, q.name))
	}
	p.row("    verdict", verdict(tb), verdict(ta))
	p.row("    seconds sampled", samples(tb), samples(ta))

	p.line("  DTC clear")
	if len(c.Clears) == 0 {
		p.line("    none")
	}
	for _, cl := range c.Clears {
		ecus := ""
		if len(cl.ECUs) > 0 {
			var s []string
			for _, e := range cl.ECUs {
				s = append(s, e.String())
			}
			ecus = " by ECUs " + strings.Join(s, ", ")
		}
		p.printf("    %s  %s: %s%s, technician %s, reason: %s\n", cl.At.Local().Format("15:04:05"), cl.Stage, stageText(cl.Stage), ecus, cl.Technician, cl.Reason)
	}

	p.line("  DTC descriptions")
	for _, d := range allDTCs(before, after) {
		p.printf("    %-6s %s\n", d.Code, d.Description)
	}
	p.line("")
	p.line("  After repair is the same simulated car right after the technician's clear: the non-continuous")
	p.line("  monitors restart as incomplete and the permanent P0420 stays until the catalyst monitor passes")
	p.line("  on a drive cycle, as on a real car. The analyzer simulator measured " + readingsBefore + "'s exhaust")
	p.line("  before the repair and " + readingsAfter + "'s after it, at the engine speed the simulated technician")
	p.line("  held as the agent guided; the limits are the built-in defaults, marked unverified.")
}

func stageText(stage string) string {
	switch stage {
	case job.ClearRequested:
		return "stored before touching the car"
	case job.ClearDone:
		return "acknowledged"
	}
	return "failed"
}

// codeList lists the DTC codes of every ECU, each once.
func codeList(s *scan.Snapshot, of func(*scan.ECU) []obd.DTC) string {
	var codes []string
	for i := range s.ECUs {
		for _, d := range of(&s.ECUs[i]) {
			if !slices.Contains(codes, d.Code) {
				codes = append(codes, d.Code)
			}
		}
	}
	return listOrNone(codes)
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

func incomplete(s *scan.Snapshot) string {
	var names []string
	for _, m := range s.Readiness {
		if m.Code == obd.MonitorNotComplete {
			names = append(names, strings.ReplaceAll(m.Name, "_", " "))
		}
	}
	return listOrNone(names)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
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
func averages(t *job.EmissionTestBody, name string) string {
	if t == nil {
		return "(no test)"
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
func verdict(t *job.EmissionTestBody) string {
	if t == nil {
		return "(no test)"
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
	if len(parts) == 0 {
		return strings.ToUpper(v.Result)
	}
	return strings.ToUpper(v.Result) + ": " + strings.Join(parts, ", ")
}

func samples(t *job.EmissionTestBody) string {
	if t == nil {
		return "-"
	}
	return strconv.Itoa(len(t.Test.Samples))
}
