package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/i18n/i18ntest"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/web"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

const testPIN = "418027"

// stubAgent is the agent as the screen sees it: it records the commands
// and audits it gets, in order.
type stubAgent struct {
	mu       sync.Mutex
	calls    []string // "audit:<action>" and "cmd:<name> <args>"
	cmdErr   error
	auditErr error
	status   map[string]any
	open     *job.Job
	// testDone, when set, holds run_emission_test until it gets the
	// test's outcome; testHeld then gets a value as each one is held.
	testDone chan error
	testHeld chan struct{}
}

func (a *stubAgent) Command(ctx context.Context, name string, args json.RawMessage) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "cmd:"+name+" "+string(args))
	if name == command.RunEmissionTest && a.testDone != nil {
		done, held := a.testDone, a.testHeld
		a.mu.Unlock()
		if held != nil {
			held <- struct{}{}
		}
		defer a.mu.Lock()
		select {
		case err := <-done:
			return map[string]any{"kind": "emission_test"}, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a.cmdErr != nil {
		return nil, a.cmdErr
	}
	return map[string]any{"kind": "scan", "stored": true, "phase": "intake"}, nil
}

func (a *stubAgent) Status() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]any{"device": "bay-01", "shop": "330106000123456"}
	for k, v := range a.status {
		out[k] = v
	}
	return out
}

func (a *stubAgent) OpenJob() (job.Job, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open == nil {
		return job.Job{}, false
	}
	return *a.open, true
}

func (a *stubAgent) ClosedJob(id string) (job.Closed, error) {
	return job.Closed{}, fmt.Errorf("%w %q", job.ErrUnknownJob, id)
}

func (a *stubAgent) Audit(_ context.Context, au web.Audit) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.auditErr != nil {
		return a.auditErr
	}
	a.calls = append(a.calls, "audit:"+au.Action+" "+au.Technician)
	return nil
}

func (a *stubAgent) log() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

type fixture struct {
	t     testing.TB
	srv   *web.Server
	ts    *httptest.Server
	agent *stubAgent
	pin   string // the PIN file
	now   time.Time
	mu    sync.Mutex
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t testing.TB, setPIN bool, mod func(*web.Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, agent: &stubAgent{}, now: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	f.pin = filepath.Join(t.TempDir(), "screen.pin")
	if setPIN {
		if err := web.WritePINFile(f.pin, testPIN, 1000); err != nil {
			t.Fatal(err)
		}
	}
	o := web.Options{Addr: "127.0.0.1:0", PINFile: f.pin, Now: f.clock, JobActions: true}
	if mod != nil {
		mod(&o)
	}
	srv, err := web.New(o, f.agent)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// browser is a client with its own cookies that does not follow
// redirects, so that each answer can be checked.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) get(c *http.Client, path string, hdr ...string) (int, string, http.Header) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.ts.URL+path, nil)
	return f.send(c, req, hdr)
}

func (f *fixture) post(c *http.Client, path string, form url.Values, hdr ...string) (int, string, http.Header) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.send(c, req, hdr)
}

// send sends req with the headers hdr (name, value, ...) and returns the
// answer's status, body and headers.
func (f *fixture) send(c *http.Client, req *http.Request, hdr []string) (int, string, http.Header) {
	f.t.Helper()
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// login signs in as tech with pin and returns the status and the page
// after it.
func (f *fixture) login(c *http.Client, tech, pin string) (int, string) {
	f.t.Helper()
	_, page, _ := f.get(c, "/login")
	code, body, _ := f.post(c, "/login", url.Values{"csrf": {csrfOf(f.t, page)}, "technician": {tech}, "pin": {pin}, "next": {"/job"}})
	return code, body
}

func (f *fixture) loggedIn(tech string) (*http.Client, string) {
	f.t.Helper()
	c := f.browser()
	if code, body := f.login(c, tech, testPIN); code != http.StatusSeeOther {
		f.t.Fatalf("login: %d\n%s", code, body)
	}
	_, page, _ := f.get(c, "/")
	return c, csrfOf(f.t, page)
}

func TestLogin(t *testing.T) {
	f := newFixture(t, true, nil)
	c := f.browser()
	code, _, hdr := f.get(c, "/job")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/login?next=%2Fjob" {
		t.Fatalf("page without a session: %d %s", code, hdr.Get("Location"))
	}
	if code, body := f.login(c, "T007", "000000"); code != http.StatusUnauthorized || !strings.Contains(body, i18n.Text(i18n.Chinese, "web.login.wrong_pin")) {
		t.Fatalf("wrong PIN: %d\n%s", code, body)
	}
	if code, _, _ := f.get(c, "/"); code != http.StatusSeeOther {
		t.Fatalf("a wrong PIN gave a session: %d", code)
	}
	code, _ = f.login(c, "T007", testPIN)
	if code != http.StatusSeeOther {
		t.Fatalf("right PIN: %d", code)
	}
	code, page, _ := f.get(c, "/")
	if code != http.StatusOK || !strings.Contains(page, `data-feed="/events?page=now"`) {
		t.Fatalf("now page: %d\n%s", code, page)
	}
	if got := f.agent.log(); len(got) != 1 || got[0] != "audit:login T007" {
		t.Errorf("calls %q, want the login audited", got)
	}
	for _, ck := range c.Jar.Cookies(mustURL(f.ts.URL)) {
		if ck.Name == "bay_session" && strings.Contains(ck.Value, testPIN) {
			t.Error("the PIN is in the cookie")
		}
	}
	b, _ := os.ReadFile(f.pin)
	if strings.Contains(string(b), testPIN) {
		t.Error("the PIN file holds the PIN")
	}
	// Logout ends the session.
	csrf := csrfOf(t, page)
	if code, _, _ := f.post(c, "/logout", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := f.get(c, "/"); code != http.StatusSeeOther {
		t.Fatalf("page after logout: %d", code)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestCookieFlags(t *testing.T) {
	f := newFixture(t, true, nil)
	c := f.browser()
	_, page, _ := f.get(c, "/login")
	_, _, hdr := f.post(c, "/login", url.Values{"csrf": {csrfOf(t, page)}, "technician": {"T007"}, "pin": {testPIN}})
	found := false
	for _, line := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(line, "bay_session=") && !strings.HasPrefix(line, "bay_session=;") {
			found = true
			for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
				if !strings.Contains(line, want) {
					t.Errorf("session cookie %q lacks %s", line, want)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie: %q", hdr.Values("Set-Cookie"))
	}
}

func TestNoDefaultPIN(t *testing.T) {
	f := newFixture(t, false, nil)
	c := f.browser()
	_, page, _ := f.get(c, "/login")
	if !strings.Contains(page, "bayagent screen pin") {
		t.Errorf("the login page does not say how to set a PIN:\n%s", page)
	}
	for _, pin := range []string{"", "0000", "123456", "admin", "password"} {
		if code, _ := f.login(c, "T007", pin); code == http.StatusSeeOther {
			t.Fatalf("PIN %q logged in without a PIN set", pin)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t, true, nil)
	c := f.browser()
	for i := range 5 {
		if code, _ := f.login(c, "T007", fmt.Sprintf("99990%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	code, body := f.login(c, "T007", "999906")
	if code != http.StatusUnauthorized {
		t.Fatalf("sixth wrong attempt: %d", code)
	}
	// Locked out now: even the right PIN is not checked.
	code, body = f.login(c, "T007", testPIN)
	if code != http.StatusTooManyRequests || !strings.Contains(body, "30") {
		t.Fatalf("locked out: %d\n%s", code, body)
	}
	f.advance(31 * time.Second)
	if code, _ := f.login(c, "T007", testPIN); code != http.StatusSeeOther {
		t.Fatalf("after the lock: %d", code)
	}
}

func TestActionNeedsSessionAndCSRF(t *testing.T) {
	f := newFixture(t, true, nil)
	anon := f.browser()
	if code, _, _ := f.post(anon, "/do/start_scan", url.Values{}); code != http.StatusUnauthorized {
		t.Errorf("action without a session: %d", code)
	}
	if code, _, _ := f.get(anon, "/events?page=now"); code != http.StatusUnauthorized {
		t.Errorf("events without a session: %d", code)
	}
	c, csrf := f.loggedIn("T007")
	if code, _, _ := f.post(c, "/do/start_scan", url.Values{}); code != http.StatusForbidden {
		t.Errorf("action without a CSRF token: %d", code)
	}
	bad := []byte(csrf)
	bad[0] ^= 1
	if code, _, _ := f.post(c, "/do/start_scan", url.Values{"csrf": {string(bad)}}); code != http.StatusForbidden {
		t.Errorf("action with a bad CSRF token: %d", code)
	}
	// Another session's token is not this one's.
	_, other := f.loggedIn("T008")
	if code, _, _ := f.post(c, "/do/start_scan", url.Values{"csrf": {other}}); code != http.StatusForbidden {
		t.Errorf("action with another session's token: %d", code)
	}
	// A cross-site form post is refused before the token is looked at.
	if code, _, _ := f.post(c, "/do/start_scan", url.Values{"csrf": {csrf}}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-site post: %d", code)
	}
	for _, call := range f.agent.log() {
		if strings.HasPrefix(call, "cmd:") {
			t.Fatalf("a refused action ran: %q", f.agent.log())
		}
	}
	code, _, hdr := f.post(c, "/do/start_scan", url.Values{"csrf": {csrf}, "back": {"now"}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("action: %d %s", code, hdr.Get("Location"))
	}
	got := f.agent.log()
	if want := []string{"audit:login T007", "audit:login T008", "audit:start_scan T007", "cmd:start_scan {}"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q, want %q", got, want)
	}
	_, page, _ := f.get(c, "/")
	if !strings.Contains(page, `class="flash ok"`) {
		t.Errorf("no success message after the action:\n%s", page)
	}
}

func TestActionArgsCarryTheSessionsTechnician(t *testing.T) {
	f := newFixture(t, true, nil)
	c, csrf := f.loggedIn("张工")
	f.post(c, "/do/clear_dtcs", url.Values{"csrf": {csrf}, "reason": {"catalyst replaced"}, "technician": {"T999"}, "confirm": {"1"}})
	f.post(c, "/do/add_note", url.Values{"csrf": {csrf}, "text": {"<b>hi</b>"}, "repair_started": {"1"}})
	got := strings.Join(f.agent.log(), "\n")
	for _, want := range []string{
		`cmd:clear_dtcs {"reason":"catalyst replaced","technician":"张工"}`,
		`cmd:add_note {"author":"张工","repair_started":true,"text":"\u003cb\u003ehi\u003c/b\u003e"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("calls lack %s:\n%s", want, got)
		}
	}
	// Clearing without the confirmation box runs nothing.
	before := len(f.agent.log())
	f.post(c, "/do/clear_dtcs", url.Values{"csrf": {csrf}, "reason": {"x"}})
	if len(f.agent.log()) != before {
		t.Errorf("an unconfirmed clear ran: %q", f.agent.log()[before:])
	}
}

func TestAuditFirst(t *testing.T) {
	f := newFixture(t, true, nil)
	c, csrf := f.loggedIn("T007")
	f.agent.auditErr = outbox.ErrFull
	f.post(c, "/do/start_scan", url.Values{"csrf": {csrf}})
	for _, call := range f.agent.log() {
		if strings.HasPrefix(call, "cmd:") {
			t.Fatalf("an action ran without its audit record: %q", f.agent.log())
		}
	}
	_, page, _ := f.get(c, "/")
	if !strings.Contains(page, `class="flash err"`) {
		t.Errorf("no error shown:\n%s", page)
	}
}

func TestErrorReplyInReadersLanguage(t *testing.T) {
	f := newFixture(t, true, nil)
	c, csrf := f.loggedIn("T007")
	f.agent.cmdErr = uplink.WithCode(uplink.CodeNoOpenJob, job.ErrNoJob)
	f.post(c, "/do/take_reading", url.Values{"csrf": {csrf}, "back": {"job"}})
	_, page, _ := f.get(c, "/job", "Accept-Language", "en-US,en;q=0.9")
	if !strings.Contains(page, i18n.Text(i18n.English, "reply.no_open_job")) {
		t.Errorf("English page lacks the reply's message:\n%s", page)
	}
	f.post(c, "/do/take_reading", url.Values{"csrf": {csrf}, "back": {"job"}})
	_, page, _ = f.get(c, "/job", "Accept-Language", "zh-CN,zh;q=0.9")
	if !strings.Contains(page, i18n.Text(i18n.Chinese, "reply.no_open_job")) {
		t.Errorf("Chinese page lacks the reply's message:\n%s", page)
	}
}

func TestJobActionsOff(t *testing.T) {
	f := newFixture(t, true, func(o *web.Options) { o.JobActions = false })
	c, csrf := f.loggedIn("T007")
	if code, _, _ := f.post(c, "/do/open_job", url.Values{"csrf": {csrf}, "job_id": {"J-1"}}); code != http.StatusNotFound {
		t.Errorf("open_job with job actions off: %d", code)
	}
	_, page, _ := f.get(c, "/job")
	if strings.Contains(page, `action="/do/open_job"`) {
		t.Error("the open form shows with job actions off")
	}
}

func TestLanguage(t *testing.T) {
	f := newFixture(t, true, nil)
	c, _ := f.loggedIn("T007")
	for _, tc := range []struct {
		accept string
		lang   i18n.Lang
	}{{"zh-CN,zh;q=0.9,en;q=0.8", i18n.Chinese}, {"en-GB,en;q=0.9", i18n.English}, {"fr-FR", i18n.Chinese}, {"", i18n.Chinese}} {
		_, page, _ := f.get(c, "/", "Accept-Language", tc.accept)
		if !strings.Contains(page, `<html lang="`+string(tc.lang)+`">`) || !strings.Contains(page, i18n.Text(tc.lang, "web.now.no_scan")) {
			t.Errorf("Accept-Language %q: want %s page", tc.accept, tc.lang)
		}
	}
	// The switch overrides the browser.
	code, _, hdr := f.get(c, "/lang/en?next=/box")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/box" {
		t.Fatalf("switch: %d %s", code, hdr.Get("Location"))
	}
	_, page, _ := f.get(c, "/box", "Accept-Language", "zh-CN")
	if !strings.Contains(page, i18n.Text(i18n.English, "web.box.title")) {
		t.Errorf("switched to English, got:\n%s", page)
	}
	// The switch never sends the browser off the box.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example"} {
		_, _, hdr := f.get(c, "/lang/zh-CN?next="+url.QueryEscape(next))
		if hdr.Get("Location") != "/" {
			t.Errorf("next %q redirected to %q", next, hdr.Get("Location"))
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, true, nil)
	_, _, hdr := f.get(f.browser(), "/login")
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", hdr)
	}
}

// scanRecord is a stored scan record of the golden p0420 snapshot.
func scanRecord(t testing.TB, seq uint64) record.Record {
	t.Helper()
	snap, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "scan-petrol-p0420.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"at":"2026-12-03T08:00:00Z","bay":"bay1","phase":"intake","snapshot":%s}`, snap)
	return record.Record{Seq: seq, Kind: record.KindScan, Time: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC), Body: json.RawMessage(body)}
}

func TestNowShowsScan(t *testing.T) {
	f := newFixture(t, true, nil)
	c, _ := f.loggedIn("T007")
	f.srv.Record(scanRecord(t, 42))
	_, page, _ := f.get(c, "/", "Accept-Language", "zh-CN")
	for _, want := range []string{
		"P0420", "P0171", "P0300", "P0700", // the codes
		i18n.Text(i18n.Chinese, "findings.verdict.fail"),
		i18n.Text(i18n.Chinese, "findings.monitor.catalyst"),
		i18n.Text(i18n.Chinese, "findings.or_more", "value", "255"), // warm-ups since clear
		`data-verdict="fail"`, "记录号 42",
		zhDTC(t, "P0420"),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("Now page lacks %q", want)
		}
	}
	if k := rawKey.FindString(page); k != "" {
		t.Errorf("message %s missing from the catalogue", k)
	}
	if n := len(page); n > 100<<10 {
		t.Errorf("Now page is %d bytes, want under 100 KB", n)
	}
}

func TestEventsStream(t *testing.T) {
	f := newFixture(t, true, nil)
	c, _ := f.loggedIn("T007")
	req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/events?page=now", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data: "):
				data.WriteString(line[6:] + "\n")
			case line == "" && data.Len() > 0:
				events <- data.String()
				data.Reset()
			}
		}
	}()
	first := <-events
	if !strings.Contains(first, i18n.Text(i18n.Chinese, "web.now.no_scan")) {
		t.Fatalf("first event:\n%s", first)
	}
	f.srv.Record(scanRecord(t, 7))
	select {
	case ev := <-events:
		if !strings.Contains(ev, "P0420") {
			t.Fatalf("update lacks the scan:\n%s", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no update after a stored scan record")
	}
}

func TestNoteIsEscaped(t *testing.T) {
	f := newFixture(t, true, nil)
	f.agent.open = &job.Job{Bay: "bay1", Opening: job.Opening{ID: "J-1", Type: job.TypeRepair, Plate: "浙A12345", MileageKM: 1, Complaint: "<script>alert(1)</script>", Technician: "T007"},
		Events: 2, Notes: []job.NoteBody{{N: 2, Author: "T007", Text: `"><img src=x onerror=alert(1)>`}}}
	c, _ := f.loggedIn("T007")
	_, page, _ := f.get(c, "/job")
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Errorf("job text not escaped:\n%s", page)
	}
	_, page, _ = f.get(c, "/report/J-1")
	if !strings.Contains(page, "J-1") || strings.Contains(page, "<img src=x") {
		t.Errorf("report:\n%s", page)
	}
}

func TestPIN(t *testing.T) {
	for _, bad := range []string{"", "12345", "111111", "123456", "987654", "abc", "short1"} {
		if err := web.CheckPIN(bad); !errors.Is(err, web.ErrWeakPIN) {
			t.Errorf("CheckPIN(%q) = %v", bad, err)
		}
	}
	for _, good := range []string{"418027", "20261203", "correct horse"} {
		if err := web.CheckPIN(good); err != nil {
			t.Errorf("CheckPIN(%q) = %v", good, err)
		}
	}
	for range 50 {
		if p := web.RandomPIN(6); web.CheckPIN(p) != nil || len(p) != 6 {
			t.Fatalf("RandomPIN gave %q", p)
		}
	}
	h1, _ := web.HashPIN(testPIN, 1000)
	h2, _ := web.HashPIN(testPIN, 1000)
	if h1 == h2 || strings.Contains(h1, testPIN) {
		t.Errorf("hashes %q %q: want salted, without the PIN", h1, h2)
	}
	path := filepath.Join(t.TempDir(), "pin")
	if err := web.WritePINFile(path, testPIN, 1000); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("PIN file mode %v %v", st.Mode(), err)
	}
}

func TestDamagedPINFile(t *testing.T) {
	f := newFixture(t, false, nil)
	if err := os.WriteFile(f.pin, []byte("pbkdf2-sha256$12$x$y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.login(f.browser(), "T007", testPIN); code != http.StatusInternalServerError {
		t.Errorf("damaged PIN file: %d", code)
	}
}

func zhDTC(t testing.TB, code string) string {
	desc, known := obd.DescribeDTCIn(code, "zh-CN")
	if !known {
		t.Fatalf("no Chinese description of %s", code)
	}
	return desc
}

// rawKey matches a catalogue key left in a page: a message missing from
// the catalogue.
var rawKey = regexp.MustCompile(`\b(findings|web|reply|agent|emission)\.[a-z0-9_]+\.[a-z0-9_.]+\b`)

// TestSeed: records from before the start show on Now and in the job's
// events, and do not count as stored since the start.
func TestSeed(t *testing.T) {
	f := newFixture(t, true, nil)
	c, _ := f.loggedIn("T007")
	f.srv.Seed(scanRecord(t, 77))
	_, page, _ := f.get(c, "/", "Accept-Language", "en")
	if !strings.Contains(page, "record 77") {
		t.Errorf("Now lacks the seeded scan:\n%s", page)
	}
	_, box, _ := f.get(c, "/box", "Accept-Language", "en")
	if !regexp.MustCompile(`since the screen started</th><td>0<`).MatchString(box) {
		t.Errorf("seeded records counted as stored:\n%s", box)
	}
}

// TestEmissionTestInBackground: an emission test started from the page
// runs while the page returns at once (it takes minutes); the Job page
// shows it starting, a second one is refused before anything is recorded,
// and when the agent refuses the test the Job page says why.
func TestEmissionTestInBackground(t *testing.T) {
	f := newFixture(t, true, nil)
	f.agent.open = &job.Job{Bay: "bay1", Opening: job.Opening{ID: "J-1", Type: job.TypeEmissionRepair, Plate: "浙A12345", MileageKM: 1, Complaint: "CO", Technician: "T007"}, Events: 1}
	f.agent.testDone, f.agent.testHeld = make(chan error), make(chan struct{}, 1)
	c, csrf := f.loggedIn("T007")
	// The test form is there when the box has an analyzer, with its state.
	if _, page, _ := f.get(c, "/job"); strings.Contains(page, `action="/do/run_emission_test"`) {
		t.Error("an emission test offered without an analyzer")
	}
	f.agent.mu.Lock()
	f.agent.status = map[string]any{"analyzer": emission.InstrumentState{Instrument: analyzer.InstrumentID{Model: "NHA-506"}, ZeroDue: true}}
	f.agent.mu.Unlock()
	if _, page, _ := f.get(c, "/job", "Accept-Language", "zh-CN"); !strings.Contains(page, `action="/do/run_emission_test"`) ||
		!strings.Contains(page, "NHA-506") || !strings.Contains(page, i18n.Text(i18n.Chinese, "web.analyzer.zero_due")) {
		t.Errorf("the Job page lacks the test form or the analyzer's state:\n%s", page)
	}
	form := url.Values{"csrf": {csrf}, "back": {"job"}, "method": {"two_speed_idle"}, "phase": {"before_repair"}}
	if code, _, hdr := f.post(c, "/do/run_emission_test", form, "Accept-Language", "zh-CN"); code != http.StatusSeeOther || hdr.Get("Location") != "/job" {
		t.Fatalf("start: %d %s", code, hdr.Get("Location"))
	}
	_, page, _ := f.get(c, "/job", "Accept-Language", "zh-CN")
	started := i18n.Text(i18n.Chinese, "web.action.started", "action", i18n.Text(i18n.Chinese, "web.cmd.run_emission_test"))
	if !strings.Contains(page, started) || !strings.Contains(page, `data-test-step="starting"`) {
		t.Errorf("the Job page while the test starts lacks %q or the starting panel:\n%s", started, page)
	}
	// A second test while one runs: refused, not recorded, not run. (The
	// first reaches the agent from the page's background goroutine: it is
	// waited for, so that its own call is not taken for the second's.)
	select {
	case <-f.agent.testHeld:
	case <-time.After(10 * time.Second):
		t.Fatal("the test started from the page never reached the agent")
	}
	before := len(f.agent.log())
	f.post(c, "/do/run_emission_test", form)
	if got := f.agent.log()[before:]; len(got) != 0 {
		t.Errorf("a second test while one runs: %q", got)
	}
	if _, page, _ := f.get(c, "/job", "Accept-Language", "en"); !strings.Contains(page, i18n.Text(i18n.English, "web.action.busy")) {
		t.Errorf("the second test is not refused:\n%s", page)
	}
	wantCalls := []string{"audit:login T007", "audit:run_emission_test T007",
		`cmd:run_emission_test {"method":"two_speed_idle","phase":"before_repair","technician":"T007"}`}
	if got := f.agent.log(); strings.Join(got, "|") != strings.Join(wantCalls, "|") {
		t.Errorf("calls %q, want %q", got, wantCalls)
	}

	// The agent refuses it: the Job page, following the event stream, says why.
	stream := f.stream(c, "/events?page=job", "Accept-Language", "zh-CN")
	f.agent.testDone <- errors.New("the analyzer does not answer")
	want := i18n.Text(i18n.Chinese, "web.action.failed", "action", i18n.Text(i18n.Chinese, "web.cmd.run_emission_test"), "error", "")
	stream.waitFor(t, "data-test-error")
	if _, page, _ := f.get(c, "/job", "Accept-Language", "zh-CN"); !strings.Contains(page, "data-test-error") || !strings.Contains(page, want) {
		t.Errorf("the refused test is not explained (%q):\n%s", want, page)
	}
	// Another test may start now.
	f.post(c, "/do/run_emission_test", form)
	f.agent.testDone <- nil
	if n := strings.Count(strings.Join(f.agent.log(), "|"), "cmd:run_emission_test"); n != 2 {
		t.Errorf("%d tests run, want 2", n)
	}
}

// eventStream follows a page's event stream.
type eventStream struct{ events chan string }

// stream opens the event stream at path for the client; it is closed at
// the end of the test.
func (f *fixture) stream(c *http.Client, path string, hdr ...string) *eventStream {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.ts.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		f.t.Fatal(err)
	}
	es := &eventStream{events: make(chan string, 64)}
	go func() {
		defer resp.Body.Close()
		defer close(es.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data: "):
				data.WriteString(line[6:] + "\n")
			case line == "" && data.Len() > 0:
				es.events <- data.String()
				data.Reset()
			}
		}
	}()
	return es
}

// waitFor waits for an event holding want.
func (es *eventStream) waitFor(t testing.TB, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				t.Fatalf("the event stream ended before %q", want)
			}
			if strings.Contains(ev, want) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event with %q", want)
		}
	}
}

// TestNowShowsTruck: a J1939 truck in SCR inducement on Now, in Chinese:
// the inducement raised as a failing finding with what to do, the amber
// lamp, the codes with their SPN and FMI described in Chinese, the
// controllers and the OBD standard by their Chinese names.
func TestNowShowsTruck(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "scan-diesel-truck-j1939.json"))
	if err != nil {
		t.Fatal(err)
	}
	var snap map[string]any
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	at := snap["ecus"].([]any)[1].(map[string]any) // 03D, the aftertreatment controller
	at["lamps"].(map[string]any)["amber_warning"] = "on"
	at["stored"] = append(at["stored"].([]any), map[string]any{"code": "SPN 5246 FMI 0", "j1939": map[string]any{"spn": 5246, "fmi": 0, "occurrences": 1}})
	snapJSON, _ := json.Marshal(snap)
	body := fmt.Sprintf(`{"at":"2026-12-03T08:00:00Z","bay":"bay1","phase":"intake","snapshot":%s}`, snapJSON)
	f := newFixture(t, true, nil)
	c, _ := f.loggedIn("T007")
	f.srv.Record(record.Record{Seq: 9, Kind: record.KindScan, Time: f.clock(), Body: json.RawMessage(body)})
	_, page, _ := f.get(c, "/", "Accept-Language", "zh-CN")
	zh := func(key string, args ...any) string { return i18n.Text(i18n.Chinese, key, args...) }
	for _, want := range []string{
		`data-verdict="fail"`,
		html.EscapeString(zh("findings.scr_inducement", "dtcs", "SPN 5246 FMI 0", "ecus", "03D")),
		html.EscapeString(zh("findings.scr_inducement.do")),
		html.EscapeString(zh("findings.amber_warning_lamp", "ecus", "03D")),
		"SPN 5246 FMI 0", html.EscapeString(j1939.DescribeIn(5246, 0, "zh-CN")), html.EscapeString(j1939.DescribeIn(3226, 0, "zh-CN")),
		html.EscapeString(zh("findings.ecu.j1939.61")), html.EscapeString(zh("findings.enum.obd_standard.43")),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the truck's Now lacks %q", want)
		}
	}
	if k := rawKey.FindString(page); k != "" {
		t.Errorf("message %s missing from the catalogue", k)
	}
}

// TestPagesInChinese: every page a technician reads, with an error on
// each of them (the Box page's last error and broker error, a failed
// action's flash, a failed DTC clear and analyzer zero on the Job page and
// in the printable report), shows no English in Chinese: each text comes
// from the catalogue, and the system's own error detail beside it is
// marked lang="en". In English the same pages show the English texts.
func TestPagesInChinese(t *testing.T) {
	f := newFixture(t, true, nil)
	var sc job.ScanBody
	if err := json.Unmarshal(scanRecord(t, 42).Body, &sc); err != nil {
		t.Fatal(err)
	}
	sc.N, sc.Phase = 2, job.PhaseBeforeRepair
	f.agent.open = &job.Job{Bay: "bay1", Opening: job.Opening{ID: "J-1", Type: job.TypeEmissionRepair, Plate: "浙A12345", MileageKM: 1, Complaint: "CO", Technician: "T007"},
		Events: 4, Scans: []job.ScanBody{sc}, RepairStarted: true,
		Clears: []job.DTCClearBody{
			{N: 3, At: f.now, Technician: "T007", Reason: "O2", Stage: job.ClearRequested},
			{N: 4, At: f.now, Technician: "T007", Reason: "O2", Stage: job.ClearFailed, Error: "obd: no response from the engine ECU"},
		}}
	lastErr := web.Problem{Message: i18n.M("agent.vehicle_interface", "iface", "can:can0"), Detail: "canbus: can0: the interface went down"}
	brokerErr := web.Problem{Message: i18n.M("agent.uplink.connect"), Detail: "dial tcp 10.0.0.2:8883: connection refused by peer"}
	f.agent.status = map[string]any{
		"last_error": lastErr, "broker_error": brokerErr, "broker_connected": false, "fault": true,
		"open_job": "J-1", "job_phase": job.PhaseAfterRepair, "outbox_depth": 3,
		"analyzer": emission.InstrumentState{Instrument: analyzer.InstrumentID{Model: "NHA-506"}, Mode: "ready",
			LastZero: &emission.Outcome{At: f.now, Error: "analyzer: zero failed: drift above limit"}},
	}
	f.agent.cmdErr = uplink.WithCode(uplink.CodeVehicleError, errors.New("obd: no response from the engine ECU"))
	c, csrf := f.loggedIn("T007")
	for _, l := range i18n.Langs() {
		accept := "Accept-Language"
		f.post(c, "/do/start_scan", url.Values{"csrf": {csrf}, "back": {"box"}}, accept, string(l))
		pages := map[string]string{}
		for _, path := range []string{"/box", "/", "/job", "/live", "/report/J-1", "/report"} {
			code, page, _ := f.get(c, path, accept, string(l))
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d", l, path, code)
			}
			if k := rawKey.FindString(page); k != "" {
				t.Errorf("%s %s: message %s missing from the catalogue", l, path, k)
			}
			pages[path] = page
		}
		// The errors, in the reader's language, with their detail.
		box := pages["/box"]
		for _, want := range []string{
			html.EscapeString(lastErr.Message.In(l)), html.EscapeString(brokerErr.Message.In(l)),
			`<span class="detail" lang="en">(` + lastErr.Detail + `)</span>`,
			html.EscapeString(i18n.Text(l, "web.phase.after_repair")),
			html.EscapeString(i18n.Text(l, "web.action.failed", "action", i18n.Text(l, "web.cmd.start_scan"), "error", i18n.Text(l, "reply.vehicle_error"))),
		} {
			if !strings.Contains(box, want) {
				t.Errorf("%s: the Box page lacks %q:\n%s", l, want, box)
			}
		}
		if !strings.Contains(pages["/job"], `lang="en">(obd: no response from the engine ECU)`) || !strings.Contains(pages["/report/J-1"], `lang="en">(obd: no response from the engine ECU)`) {
			t.Errorf("%s: the failed clear's error is not shown as its detail", l)
		}
		if l != i18n.Chinese {
			continue
		}
		for path, page := range pages {
			if m := i18ntest.EnglishInPage(page); m != "" {
				t.Errorf("English on the Chinese %s page: %q", path, m)
			}
		}
	}
}
