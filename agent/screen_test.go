package agent_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/web"
)

// TestScreenAfterRestart: the bay screen of a restarted agent shows the
// last scan stored before the restart, with its record number.
func TestScreenAfterRestart(t *testing.T) {
	b := newBench(t)
	b.cfg.Screen.Listen = "127.0.0.1:0"
	b.cfg.Screen.PINFile = filepath.Join(b.cfg.Device.StateDir, config.DefaultPINName)
	if err := web.WritePINFile(b.cfg.Screen.PINFile, "418027", 1000); err != nil {
		t.Fatal(err)
	}
	b.start()
	unplug := b.plugIn("petrol-p0420")
	b.waitRecord(record.KindScan, nil)
	var seq uint64
	for _, r := range b.records(b.obs.Messages()) {
		if r.Kind == record.KindScan {
			seq = r.Seq
		}
	}
	b.stop()
	unplug()

	b.start()
	select {
	case <-b.agent.Screen().Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("the screen does not listen")
	}
	page := screenPage(t, b.agent.Screen().URL(), "418027", "/")
	if want := fmt.Sprintf("record %d", seq); !strings.Contains(page, want) || !strings.Contains(page, "P0420") {
		t.Errorf("Now after the restart lacks %q and P0420:\n%s", want, page)
	}
}

// screenPage signs in and returns one page, in English.
func screenPage(t *testing.T, base, pin, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(p string) string {
		req, _ := http.NewRequest(http.MethodGet, base+p, nil)
		req.Header.Set("Accept-Language", "en")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/login"))
	if m == nil {
		t.Fatal("no login form")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "technician": {"T007"}, "pin": {pin}, "next": {path}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return get(path)
}
