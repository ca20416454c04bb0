package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/emission/techsim"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/browsertest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/web"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/analyzer/analyzersim"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

const (
	bayShop   = "330106000123456"
	bayDevice = "bay-web"
	bay       = "bay1"
)

// bayBox is a whole bay for the browser: the agent with its screen on, a
// real Mosquitto, a simulated car on an in-process CAN bus (not plugged in
// until the test says so), a simulated NHA-506 on a pseudo-terminal
// measuring that car's exhaust at the speed the car runs, and a simulated
// technician at the pedal following the agent's guidance in emission tests
// (whose seconds are 20 ms). hold, when set, is called with the test's
// progress from the procedure's goroutine, which it may stop.
type bayBox struct {
	tech     *techsim.Technician
	hold     atomic.Pointer[func(emission.Progress)]
	agent    *agent.Agent
	url      string
	car      *obdsim.Vehicle
	bus      *canbus.MemBus
	unplug   func() error
	analyzer *analyzersim.Sim
	repaired *analyzersim.Readings
	records  *mosquittotest.Subscriber
	topics   uplink.Topics
}

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
}

func startBay(t *testing.T) *bayBox {
	t.Helper()
	b := &bayBox{topics: uplink.DeviceTopics("bayagent", bayShop, bayDevice)}
	broker := mosquittotest.Start(t, mosquittotest.Options{})
	b.records = mosquittotest.Subscribe(t, broker.PlainURL, b.topics.Records, mosquittotest.SubOptions{QoS: 1})

	prof, err := obdsim.Load(testdata("vehicles", "petrol-p0420.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b.car, err = obdsim.New(prof, obdsim.Options{}); err != nil {
		t.Fatal(err)
	}
	engine := b.car.ECUs()[0]
	b.tech = &techsim.Technician{Set: func(rpm float64) { engine.SetLive("engine_speed", rpm) }}

	before, err := analyzersim.LoadFile(testdata("analyzers", "nha506-p0420.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b.repaired, err = analyzersim.LoadFile(testdata("analyzers", "nha506-repaired.yaml")); err != nil {
		t.Fatal(err)
	}
	if b.analyzer, err = analyzersim.New(before, analyzersim.Options{Engine: analyzersim.EngineFunc(func() float64 {
		rpm, _ := engine.Live("engine_speed")
		return rpm
	})}); err != nil {
		t.Fatal(err)
	}
	dev, stopAnalyzer, err := analyzersim.ServePTY(context.Background(), b.analyzer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopAnalyzer() })
	hub := &canbus.MemHub{}
	b.bus = hub.Bus(bay)

	dir := t.TempDir()
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = bayDevice, bayShop, bay
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, config.DefaultKeyName)
	cfg.Outbox.Path = filepath.Join(dir, config.DefaultOutboxName)
	cfg.Vehicle.Interface = "mem:" + bay
	cfg.Vehicle.P2 = config.Duration(300 * time.Millisecond)
	cfg.Vehicle.DetectInterval = config.Duration(100 * time.Millisecond)
	cfg.Analyzer.Interface = "nha506:" + dev
	cfg.Analyzer.Method = analyzer.MethodTwoSpeedIdle
	// The standard's times, cut short; everything else is the default.
	cfg.Analyzer.Procedures = filepath.Join(dir, "procedures.yaml")
	if err := os.WriteFile(cfg.Analyzer.Procedures, []byte("two_speed_idle: {precondition_s: 4, settle_s: 2, measure_s: 5, reach_s: 40}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Uplink.Broker, cfg.Uplink.AllowPlaintext = broker.PlainURL, true
	cfg.Screen.Listen, cfg.Screen.JobActions = "127.0.0.1:0", true
	cfg.Screen.PINFile = filepath.Join(dir, config.DefaultPINName)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := web.WritePINFile(cfg.Screen.PINFile, testPIN, 1000); err != nil {
		t.Fatal(err)
	}
	guide := func(p emission.Progress) {
		b.tech.Guide(p)
		if h := b.hold.Load(); h != nil {
			(*h)(p)
		}
	}
	a, err := agent.New(cfg, agent.Deps{Version: "browser-test", Logger: agenttest.Logger(t), Hub: hub,
		Guide: guide, EmissionSecond: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
		if b.unplug != nil {
			b.unplug()
		}
	})
	select {
	case <-a.Screen().Listening():
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the bay screen does not listen")
	}
	b.url = a.Screen().URL()
	return b
}

func (b *bayBox) plugIn() { b.unplug = b.car.Start(context.Background(), b.bus) }

// do runs chromedp steps and fails the test on an error, with the page's
// text.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// act fills a form on the current page, submits it and returns the
// outcome the next page shows (its flash message): it fails the test
// unless the outcome is wantOK.
func act(t *testing.T, ctx context.Context, form string, fields map[string]string, checks []string, wantOK bool) string {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.flash').forEach(e => e.remove())`)}
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	for _, name := range checks {
		sel, _ := json.Marshal(form + ` [name="` + name + `"]`)
		steps = append(steps, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+string(sel)+`).checked = true`))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(form+" button")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	do(t, ctx, "submit "+form, steps...)
	class := get(t, ctx, "outcome", chromedp.AttributeValue(chromedp.CSS(".flash"), "class"))
	msg := text(t, ctx, ".flash")
	if strings.Contains(class.Value, "ok") != wantOK {
		t.Fatalf("%s: outcome %q (%s), want ok=%v", form, msg, class.Value, wantOK)
	}
	return msg
}

// TestBrowser drives the bay screen in a headless Chromium at phone width,
// with the whole bay behind it: sign-in (a wrong PIN first), the car
// plugged in and its scan appearing on Now without a reload, an emission
// repair job run from the page from opening to the printed report, the
// refusals (no session, a bad CSRF token), the pages in English and
// Chinese. Screenshots and the report's PDF are kept in
// artifacts/screens.
func TestBrowser(t *testing.T) {
	b := startBay(t)
	ctx := browsertest.New(t, browsertest.Options{AcceptLanguage: "en-US"})
	shot := func(name string) {
		t.Helper()
		browsertest.Screenshot(t, ctx, "screens", name)
		if k := rawKey.FindString(text(t, ctx, "body")); k != "" {
			t.Errorf("%s: message %s missing from the catalogue", name, k)
		}
	}

	// Sign in: a wrong PIN is refused, the right one lets in.
	do(t, ctx, "open the screen", chromedp.Navigate(b.url+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name="pin"]`)))
	shot("login-en")
	act(t, ctx, `form[action="/login"]`, map[string]string{"technician": "T007", "pin": "000000"}, nil, false)
	if msg := text(t, ctx, ".flash"); !strings.Contains(msg, i18n.Text(i18n.English, "web.login.wrong_pin")) {
		t.Errorf("wrong PIN message %q", msg)
	}
	do(t, ctx, "sign in",
		chromedp.SetValue(chromedp.CSS(`input[name="technician"]`), "T007"),
		chromedp.SetValue(chromedp.CSS(`input[name="pin"]`), testPIN),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`section#live[data-feed]`)))
	if got := text(t, ctx, "#live"); !strings.Contains(got, i18n.Text(i18n.English, "web.now.no_vehicle")) {
		t.Errorf("Now before the car: %q", got)
	}
	shot("now-empty-en")

	// The car is plugged in: its scan shows on Now by itself, pushed over
	// the event stream into the page that is open (the mark set on the
	// window survives: no reload), with the stored record's seq number.
	// How fast is measured in BenchmarkNowPage (scan-to-page-ms).
	do(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.bayMark = 'not reloaded'`))
	b.plugIn()
	do(t, ctx, "the scan appears", chromedp.WaitVisible(chromedp.CSS(`#live [data-verdict]`)))
	updated := get(t, ctx, "update time", chromedp.Evaluate[float64](`Number(document.getElementById('live').dataset.updated || 0)`))
	if mark := get(t, ctx, "the mark", chromedp.Evaluate[string](`window.bayMark || 'reloaded'`)); mark != "not reloaded" || updated == 0 {
		t.Errorf("the scan came by a reload (%s, pushed at %v), not by the event stream", mark, updated)
	}
	scanRec := waitKind(t, b, record.KindScan)
	if want := i18n.Text(i18n.English, "web.now.record", "seq", scanRec.Seq); !strings.Contains(text(t, ctx, "#live"), want) {
		t.Errorf("Now does not name the stored scan record (%q)", want)
	}
	var sb struct {
		Findings struct {
			Verdict string   `json:"verdict"`
			Reasons []string `json:"reasons"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(scanRec.Body, &sb); err != nil || sb.Findings.Verdict != "fail" || len(sb.Findings.Reasons) == 0 {
		t.Errorf("the scan record's findings: %+v %v", sb.Findings, err)
	}
	t.Logf("scan record %d sealed %s, on the page %.0f ms later", scanRec.Seq, scanRec.Time.Format(time.RFC3339Nano),
		updated-float64(scanRec.Time.UnixMilli()))
	now := text(t, ctx, "#live")
	for _, want := range []string{"P0420", b.car.VIN(), i18n.Text(i18n.English, "findings.verdict.fail")} {
		if !strings.Contains(now, want) {
			t.Errorf("Now lacks %q:\n%s", want, now)
		}
	}
	shot("now-en")

	// Chinese: the switch on the page.
	do(t, ctx, "switch to Chinese", chromedp.Click(chromedp.CSS(`a.lang`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="zh-CN"] [data-verdict]`)))
	now = text(t, ctx, "#live")
	for _, want := range []string{i18n.Text(i18n.Chinese, "findings.verdict.fail"), zhDTC(t, "P0420"), i18n.Text(i18n.Chinese, "findings.monitor.catalyst")} {
		if !strings.Contains(now, want) {
			t.Errorf("Chinese Now lacks %q:\n%s", want, now)
		}
	}
	shot("now-zh")

	// An emission repair, from opening the job to the report.
	do(t, ctx, "job page", chromedp.Navigate(b.url+"/job"), chromedp.WaitVisible(chromedp.CSS(`form[action="/do/open_job"]`)))
	act(t, ctx, `form[action="/do/open_job"]`, map[string]string{
		"job_id": "J-WEB-0001", "type": "emission_repair", "plate": "浙A12345", "mileage_km": "123457",
		"complaint": "双怠速检测 HC、CO 超标，故障灯亮", "test_no": "330106202603140012",
	}, nil, true)
	act(t, ctx, `form[action="/do/start_scan"]`, nil, nil, true)
	act(t, ctx, `form[action="/do/take_reading"]`, nil, nil, true)

	// The two-speed idle test before the repair, from the page: the page
	// returns at once and guides the technician (the test is held at high
	// idle while the page is looked at), then shows the verdict.
	atHighIdle, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	// A failure below must not leave the test held: the agent could not
	// stop, and the test would hang until the binary's timeout.
	t.Cleanup(letGo)
	hold := func(p emission.Progress) {
		if p.Step == emission.StepHighIdle && p.Phase == emission.PhaseMeasure {
			holdOnce.Do(func() { close(atHighIdle); <-release })
		}
	}
	b.hold.Store(&hold)
	act(t, ctx, `form[action="/do/run_emission_test"]`, nil, nil, true)
	select {
	case <-atHighIdle:
	case <-time.After(2 * time.Minute):
		t.Fatal("the emission test did not reach high idle")
	}
	do(t, ctx, "the test's progress", chromedp.WaitVisible(chromedp.CSS(`#live [data-test-step="high_idle"]`)))
	// Read the high-idle card itself, card and prompt in one step in the
	// page: a status refresh that crosses the progress may replace the
	// card (for a moment by the "starting" one) between two reads.
	card := get(t, ctx, "the high-idle card", chromedp.Poll[[]string](`(() => {
		const c = document.querySelector('#live [data-test-step="high_idle"]');
		const p = c && c.querySelector('.prompt');
		return c && p ? [c.innerText, p.innerText] : null;
	})()`))
	running, prompt := card[0], card[1]
	for _, want := range []string{i18n.Text(i18n.Chinese, "emission.step.high_idle"), "2300–2700 rpm"} {
		if !strings.Contains(running, want) {
			t.Errorf("the running test lacks %q:\n%s", want, running)
		}
	}
	if !hasHan(prompt) {
		t.Errorf("the prompt %q is not in Chinese", prompt)
	}
	shot("job-test-running-zh")
	b.hold.Store(nil)
	letGo()
	do(t, ctx, "the verdict before the repair", chromedp.WaitVisible(chromedp.CSS(`#live [data-test-verdict="fail"]`)))

	act(t, ctx, `form[action="/do/add_note"]`, map[string]string{"text": "更换三元催化器和前氧传感器"}, []string{"repair_started"}, true)
	shot("job-before-zh")
	act(t, ctx, `form[action="/do/clear_dtcs"]`, map[string]string{"reason": "催化器和前氧传感器已更换（P0420、P0171）"}, []string{"confirm"}, true)
	act(t, ctx, `form[action="/do/start_scan"]`, nil, nil, true)
	if err := b.analyzer.SetReadings(b.repaired); err != nil {
		t.Fatal(err)
	}
	act(t, ctx, `form[action="/do/run_emission_test"]`, nil, nil, true)
	do(t, ctx, "the verdict after the repair", chromedp.WaitVisible(chromedp.CSS(`#live [data-test-verdict="pass"]`)))
	job := text(t, ctx, "#live")
	for _, want := range []string{i18n.Text(i18n.Chinese, "web.job.compare"), i18n.Text(i18n.Chinese, "web.clear.cleared"),
		i18n.Text(i18n.Chinese, "web.compare.emission_test"), i18n.Text(i18n.Chinese, "web.test.fail"), i18n.Text(i18n.Chinese, "web.test.pass"),
		i18n.Text(i18n.Chinese, "web.analyzer.last_zero")} {
		if !strings.Contains(job, want) {
			t.Errorf("job page lacks %q:\n%s", want, job)
		}
	}
	shot("job-after-zh")

	// A bad CSRF token is refused and runs nothing.
	stored := len(b.records.Messages())
	do(t, ctx, "forge the token",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/do/start_scan"] input[name=csrf]').value = 'forged'`),
		chromedp.Click(chromedp.CSS(`form[action="/do/start_scan"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`body.page-error`)))
	if got := text(t, ctx, "h1"); got != i18n.Text(i18n.Chinese, "web.error.csrf") {
		t.Errorf("forged token: %q", got)
	}

	// Another phone without a session cannot act.
	other := browsertest.NewTab(t, ctx)
	do(t, other, "open the login page", chromedp.Navigate(b.url+"/login"))
	status := get(t, other, "post without a session",
		chromedp.Evaluate[int](`fetch('/do/start_scan', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=x&back=now'}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
	if status != 401 {
		t.Errorf("action without a session: HTTP %d", status)
	}

	// Live data with its chart.
	do(t, ctx, "live page", chromedp.Navigate(b.url+"/live"), chromedp.WaitVisible(chromedp.CSS(`form[action="/do/live_start"]`)))
	act(t, ctx, `form[action="/do/live_start"]`, map[string]string{"rate_hz": "5", "duration_s": "60"}, nil, true)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector('svg.chart polyline')?.getAttribute('points') || '').split(' ').length >= 5`)); err != nil {
		t.Fatalf("the chart did not fill: %v", err)
	}
	shot("live-zh")
	act(t, ctx, `form[action="/do/live_stop"]`, nil, nil, true)

	do(t, ctx, "box page", chromedp.Navigate(b.url+"/box"), chromedp.WaitVisible(chromedp.CSS(`#live table`)))
	shot("box-zh")

	// Close the job, then its printable report.
	do(t, ctx, "job page", chromedp.Navigate(b.url+"/job"), chromedp.WaitVisible(chromedp.CSS(`form[action="/do/close_job"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	act(t, ctx, `form[action="/do/close_job"]`, map[string]string{
		"settlement_no": "S-WEB-0001", "item_name": "更换三元催化器", "item_hours": "1.5",
		"part_name": "三元催化器", "part_code": "CAT-0420", "part_qty": "1",
	}, []string{"confirm"}, true) // the after-repair test passed: no override needed
	do(t, ctx, "report", chromedp.Navigate(b.url+"/report/J-WEB-0001"), chromedp.WaitVisible(chromedp.CSS(`article.report`)))
	report := text(t, ctx, "article.report")
	for _, want := range []string{"J-WEB-0001", "S-WEB-0001", "浙A12345", i18n.Text(i18n.Chinese, "web.report.clears"),
		i18n.Text(i18n.Chinese, "findings.verdict.fail"), "P0420", i18n.Text(i18n.Chinese, "web.job.tests"),
		i18n.Text(i18n.Chinese, "web.test.fail"), i18n.Text(i18n.Chinese, "web.test.pass")} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	shot("report-zh")
	pdf := get(t, ctx, "print the report", chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("print gave %d bytes that are not a PDF", len(pdf))
	}
	if err := os.WriteFile(filepath.Join(browsertest.Artifacts(t, "screens"), "report-zh.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}

	// The report lists the seq numbers of the records that back it, and
	// every page action is in the record stream as an audit record.
	recs := b.records.Messages()
	if len(recs) <= stored {
		t.Fatal("no records after the job")
	}
	audits := map[string]int{}
	for _, rec := range decodeAll(t, b) {
		if rec.Kind == record.KindAudit {
			var a struct {
				Action     string `json:"action"`
				Technician string `json:"technician"`
			}
			json.Unmarshal(rec.Body, &a)
			if a.Technician != "T007" {
				t.Errorf("audit by %q", a.Technician)
			}
			audits[a.Action]++
		}
		if rec.Job == "J-WEB-0001" && rec.Kind == record.KindJobClose && !strings.Contains(report, fmt.Sprint(rec.Seq)) {
			t.Errorf("the report does not name the job_close record %d", rec.Seq)
		}
	}
	for _, action := range []string{"login", "open_job", "start_scan", "take_reading", "run_emission_test", "add_note", "clear_dtcs", "live_start", "close_job"} {
		if audits[action] == 0 {
			t.Errorf("no audit record for %s (audits %v)", action, audits)
		}
	}
	// The forged post ran nothing: exactly the two page scans of the job.
	if audits["start_scan"] != 2 {
		t.Errorf("%d audited scans, want 2", audits["start_scan"])
	}
}

// waitKind waits for the first record of kind at the broker.
func waitKind(t *testing.T, b *bayBox, kind string) record.Record {
	t.Helper()
	var found record.Record
	b.records.WaitFor(30*time.Second, "a "+kind+" record", func(msgs []mosquittotest.Message) bool {
		for _, m := range msgs {
			if r, err := record.Decode(m.Payload); err == nil && r.Kind == kind {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func decodeAll(t *testing.T, b *bayBox) []record.Record {
	t.Helper()
	var out []record.Record
	for _, m := range b.records.Messages() {
		r, err := record.Decode(m.Payload)
		if err != nil {
			t.Fatalf("record at the broker: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func hasHan(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
}
