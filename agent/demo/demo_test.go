package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/analyzer"
)

const testData = "../../testdata"

// TestDemo runs the demo as `make demo` does and checks what it shows:
// the car failed with P0420 and high HC/CO, and after the repair the codes
// are gone, HC and CO are down, and the record chain verifies.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), &out, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	text := out.String()
	for _, re := range []string{
		`stored DTCs +P0420, P0171, P0700 +none\n`,
		`MIL +on +off\n`,
		`HC ppm +180 / 110 +45 / 20\n`,
		`CO %vol +1\.2 / 0\.9 +0\.25 / 0\.1\n`,
		`verdict +FAIL: CO, HC +PASS\n`,
		`verdict: Two-speed idle test: FAIL \(limit set a\): high idle CO 0\.9% above the limit 0\.3%; high idle HC 110 ppm above the limit 50 ppm; idle CO 1\.2% above the limit 0\.6%; idle HC 180 ppm above the limit 80 ppm\.`,
		`verdict: Two-speed idle test: PASS \(limit set a\)\.`,
		`guided through: instrument check, engine warm-up, preconditioning, high idle, idle, done\n`,
		`readiness incomplete +Catalyst +Catalyst, `,
		`cleared: acknowledged by ECUs 7E8, 7E9, technician T007, reason: catalytic converter`,
		`P0420 +Catalyst System Efficiency Below Threshold`,
		`"costlistcode": "S-\d{8}-0001"`,
		`"test_no": "330106202603140012"`,
		`\n  verified: 11 records from bay-01`,
		`receiver   11 records verified and stored once, chain complete through seq 11, no gaps, 0 quarantined`,
		`job        J-DEMO-0001: uploaded after 1 attempt\(s\)`,
		`reply      \{"code":"1","status":"新增成功"\}\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output lacks %q", re)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}

	// The same, from the result rather than the text.
	c := &res.Closed
	before, after := c.LastScan(job.PhaseBeforeRepair), c.LastScan(job.PhaseAfterRepair)
	if before == nil || after == nil {
		t.Fatalf("scans: before %v, after %v", before, after)
	}
	if !before.Snapshot.MIL || before.Snapshot.DTCs.Stored == 0 || after.Snapshot.MIL || after.Snapshot.DTCs.Stored != 0 {
		t.Errorf("MIL/stored DTCs before %v/%d, after %v/%d", before.Snapshot.MIL, before.Snapshot.DTCs.Stored, after.Snapshot.MIL, after.Snapshot.DTCs.Stored)
	}
	// The two-speed idle test ran before and after the repair: the dirty
	// car failed on CO and HC at both speeds, the repaired one passed.
	tb, ta := c.LastTest(job.PhaseBeforeRepair), c.LastTest(job.PhaseAfterRepair)
	if tb == nil || ta == nil || len(c.Tests) != 2 {
		t.Fatalf("emission tests: %d, before %v, after %v", len(c.Tests), tb, ta)
	}
	if tb.Test.Verdict.Result != emission.Fail || len(tb.Test.Verdict.Failures) != 4 || ta.Test.Verdict.Result != emission.Pass {
		t.Errorf("verdicts: before %+v, after %+v", tb.Test.Verdict, ta.Test.Verdict)
	}
	for i := range tb.Test.Modes {
		for _, q := range []string{analyzer.QuantityHC, analyzer.QuantityCO} {
			b, _ := tb.Test.Modes[i].Average(q)
			a, _ := ta.Test.Modes[i].Average(q)
			if !(b > a) {
				t.Errorf("%s %s: before %v, after %v: want it lower after the repair", tb.Test.Modes[i].Mode, q, b, a)
			}
		}
	}
	if !res.Report.OK() || !res.Report.SignaturesChecked || res.Report.Records != len(res.Records) {
		t.Errorf("verification:\n%s", res.Report)
	}
	// The receiver stored every record once and uploaded the job.
	if u := res.Upload; u == nil || u.Job.State != "uploaded" || u.Device.Stored != int64(len(res.Records)) || !u.Device.Complete {
		t.Errorf("upload %+v", res.Upload)
	}
}

// TestDemoOutsideBrokerJSON runs the demo against a broker it did not
// start (TLS, its CA given as CAFile) with JSON output and a given state
// directory. The job rebuilt from the records gives exactly the upload the
// agent's own closed job file gives; a receiver that misses a record of
// the job notices.
func TestDemoOutsideBrokerJSON(t *testing.T) {
	dir := t.TempDir()
	brk, err := embedbroker.Start(embedbroker.Options{CAFile: filepath.Join(dir, "ca.crt"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	state := filepath.Join(dir, "state")
	var out bytes.Buffer
	res, err := Run(context.Background(), &out, Options{
		Broker: brk.URL(), CAFile: brk.CAFile, JSON: true, StateDir: state, DataDir: testData, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	var doc struct {
		Records      []string        `json:"records"`
		PublicKey    json.RawMessage `json:"device_public_key"`
		Upload       healthrecord.Upload
		Verification json.RawMessage
		Verified     bool
		Provincial   Upload `json:"provincial_upload"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if doc.Provincial.Job.State != "uploaded" || !strings.Contains(doc.Provincial.Job.Reply, "新增成功") {
		t.Errorf("provincial_upload %+v", doc.Provincial)
	}
	if !doc.Verified || len(doc.Records) != len(res.Records) || doc.Upload.MStation == nil ||
		doc.Upload.MStation.TestNo != TestNo || len(doc.Upload.MStation.DTCClears) != 2 {
		t.Errorf("JSON document: verified %v, %d records (want %d), extension %+v", doc.Verified, len(doc.Records), len(res.Records), doc.Upload.MStation)
	}
	// The document holds what is needed to verify the records again.
	pub, dev, err := devicekey.ParsePublic(doc.PublicKey)
	if err != nil || dev != Device {
		t.Fatalf("device_public_key: %v (device %q)", err, dev)
	}
	again := record.Verify(strings.NewReader(strings.Join(doc.Records, "\n")), record.Keys{Device: pub})
	if !again.OK() || again.Records != len(res.Records) {
		t.Errorf("the records of the JSON document do not verify again:\n%s", again)
	}

	// The agent's own closed job file maps onto the same upload.
	own, err := job.ReadClosed(filepath.Join(state, "jobs"), JobID)
	if err != nil {
		t.Fatal(err)
	}
	export := func(c job.Closed) string {
		var b bytes.Buffer
		if err := healthrecord.Export(&b, c, healthrecord.Options{CompanyName: CompanyName}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got, want := export(res.Closed), export(own); got != want {
		t.Errorf("upload from the records differs from the agent's closed job:\n got %s\nwant %s", got, want)
	}

}

// TestDemoKeepRunning: with KeepRunning the demo stays up after the job,
// says how to watch it, and stops cleanly when its context ends.
func TestDemoKeepRunning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The screen's line ends the set-up and the keep-running sections.
	w := &watchWriter{want: "for this run)\n", count: 2, seen: make(chan struct{}), then: func() {}}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, w, Options{KeepRunning: true, DataDir: testData, Logger: testLogger(t)})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Run returned before ctx ended: %v\n%s", err, w.String())
	case <-w.seen:
	}
	checkScreen(t, w.String())
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := w.String()
	for _, s := range []string{"mosquitto_sub -v -t 'bayagent/330106000123456/bay-01/#' -h 127.0.0.1 -p ", "--cafile ", "\nstopping\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// watchWriter collects output and calls then once want has been written.
type watchWriter struct {
	want  string
	count int // how many times want must have been written (0 is 1)
	seen  chan struct{}
	then  func()

	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Count(w.buf.String(), w.want) >= max(w.count, 1) {
		w.once.Do(func() { close(w.seen); w.then() })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestDemoErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		o    Options
		want error
		msg  string
	}{
		{"no data", Options{DataDir: t.TempDir()}, ErrNoData, "vehicles/petrol-p0420.yaml"},
		{"broker unreachable", Options{Broker: "tcp://" + closed, DataDir: testData}, nil, "connect to tcp://" + closed},
		{"bad CA file", Options{Broker: "ssl://" + closed, CAFile: filepath.Join(t.TempDir(), "none.crt"), DataDir: testData}, nil, "--ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tc.o.Timeout = 10 * time.Second
			_, err := Run(ctx, io.Discard, tc.o)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Run: %v; want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

// testLogger sends the agent's and the broker's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkScreen signs in to the bay screen with the address and one-time PIN
// the demo printed; a wrong PIN is refused.
func checkScreen(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`screen +(http://127\.0\.0\.1:[0-9]+) .*PIN ([0-9]{6});`).FindAllStringSubmatch(out, -1)
	if len(m) != 2 || m[0][1] != m[1][1] || m[0][2] != m[1][2] {
		t.Fatalf("screen address and PIN not printed twice the same:\n%s", out)
	}
	url, pin := m[1][1], m[1][2]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(pin string) int {
		resp, err := c.Get(url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if csrf == nil {
			t.Fatalf("login page without a token:\n%s", page)
		}
		resp, err = c.PostForm(url+"/login", neturl.Values{"csrf": {string(csrf[1])}, "technician": {"T007"}, "pin": {pin}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong := "000000"
	if pin == wrong {
		wrong = "999999"
	}
	if code := login(wrong); code != http.StatusUnauthorized {
		t.Errorf("wrong PIN: HTTP %d", code)
	}
	if code := login(pin); code != http.StatusSeeOther {
		t.Errorf("the printed PIN: HTTP %d", code)
	}
}
