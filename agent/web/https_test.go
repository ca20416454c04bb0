package web_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/web"
)

// TestHTTPS: with the box's certificate the screen serves HTTPS only, and
// its cookies are Secure.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := mosquittotest.NewCA(t, dir, "box-ca")
	cert, key := ca.Issue(t, dir, "screen", "bay-01", true)
	f := newFixture(t, true, func(o *web.Options) { o.CertFile, o.KeyFile = cert, key })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-f.srv.Listening():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	base := f.srv.URL()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("URL %q", base)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = c.PostForm(base+"/login", url.Values{"csrf": {csrfOf(t, string(page))}, "technician": {"T007"}, "pin": {testPIN}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over HTTPS: %s", resp.Status)
	}
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "bay_session=") && !strings.Contains(line, "Secure") {
			t.Errorf("session cookie over HTTPS without Secure: %s", line)
		}
	}
	// Plain HTTP on the same port is not served.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get(strings.Replace(base, "https://", "http://", 1) + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served the login page")
		}
	}
}

// TestSessionExpires: a login lasts Options.SessionTTL; then pages go back
// to the login and the event stream says logout.
func TestSessionExpires(t *testing.T) {
	f := newFixture(t, true, func(o *web.Options) { o.SessionTTL = time.Hour })
	c, csrf := f.loggedIn("T007")
	f.advance(59 * time.Minute)
	if code, _, _ := f.get(c, "/box"); code != http.StatusOK {
		t.Fatalf("before expiry: %d", code)
	}
	f.advance(2 * time.Minute)
	if code, _, hdr := f.get(c, "/box"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Fatalf("after expiry: %d %s", code, hdr.Get("Location"))
	}
	if code, _, _ := f.post(c, "/do/start_scan", url.Values{"csrf": {csrf}}); code != http.StatusUnauthorized {
		t.Errorf("action after expiry: %d", code)
	}
}

// FuzzActionForm: whatever a form holds, an action never crashes the
// screen and the command gets one JSON object (or nothing runs).
func FuzzActionForm(f *testing.F) {
	for _, s := range []string{
		"text=hello&repair_started=1",
		"reason=x&confirm=1",
		"pid=0C&pid=0D&rate_hz=5&duration_s=60",
		"rate_hz=NaN&duration_s=1e999&pid=",
		"job_id=J-1&type=repair&plate=%E6%B5%99A1&mileage_km=-1&vin=%00",
		"settlement_no=S&item_name=a&item_name=b&item_hours=1.5&part_name=p&part_qty=x&confirm=1",
		"%zz=1&&&=",
	} {
		f.Add("add_note", s)
		f.Add("close_job", s)
		f.Add("live_start", s)
	}
	fx := newFixture(f, true, nil)
	c, csrf := fx.loggedIn("T007")
	c.Timeout = 10 * time.Second
	f.Fuzz(func(t *testing.T, action, form string) {
		req, _ := http.NewRequest(http.MethodPost, fx.ts.URL+"/do/"+url.PathEscape(action), strings.NewReader("csrf="+csrf+"&"+form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("action %q form %q: %v", action, form, err)
		}
		io.Copy(io.Discard, resp.Body) // so that the connection is used again
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("action %q form %q: %s", action, form, resp.Status)
		}
		for _, call := range fx.agent.log() {
			if args, ok := strings.CutPrefix(call, "cmd:"); ok {
				_, js, _ := strings.Cut(args, " ")
				if !strings.HasPrefix(js, "{") || !strings.HasSuffix(js, "}") {
					t.Fatalf("command args %q are not an object", js)
				}
			}
		}
	})
}
