// Package browsertest starts a headless Chromium for the bay screen's browser tests.
//
// The browser is Debian's chromium (scripts/install-test-tools.sh installs
// it), driven with chromedp. It runs with the flags of a closed network:
// headless, no sandbox (tests run as root in CI), no GPU, no QUIC, no
// first-run, background networking, component updates or sync, and a
// fresh profile directory per test, so it talks to nothing but the test's
// loopback server. A missing chromium fails the test when CI=true and
// skips it otherwise (package testtool installs it first, as it does Mosquitto).
//
// Screenshots go to Artifacts(), kept after the test for people to look at.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/testtool"

	"github.com/chromedp/chromedp"
)

// Phone is the viewport of a phone held upright (CSS pixels).
var Phone = Viewport{Width: 390, Height: 844}

// Viewport is a browser window size in CSS pixels.
type Viewport struct{ Width, Height int }

// Options configures a browser.
type Options struct {
	// Viewport is the window size; zero means Phone.
	Viewport Viewport
	// AcceptLanguage is the language the browser asks for ("en-US" when
	// empty).
	AcceptLanguage string
}

// Path returns the chromium executable, or "" when none is installed.
func Path() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a browser for the test and returns a chromedp context with
// one tab; the browser is closed at the end of the test. Every action on
// the context is bounded by the test's deadline or five minutes.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	path := testtool.Need(t, "chromium", "browsertest: chromium", Path)
	if o.Viewport == (Viewport{}) {
		o.Viewport = Phone
	}
	if o.AcceptLanguage == "" {
		o.AcceptLanguage = "en-US"
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(o.Viewport.Width, o.Viewport.Height),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("accept-lang", o.AcceptLanguage),
		chromedp.Flag("lang", o.AcceptLanguage),
	}
	deadline := time.Now().Add(5 * time.Minute)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
	}
	base, cancelBase := context.WithDeadline(context.Background(), deadline)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelBase()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// NewTab returns a second tab in a fresh browser context of the same
// browser: no cookies, like another phone.
func NewTab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	return tab
}

// Artifacts returns the directory test artifacts are kept in:
// $BAYAGENT_ARTIFACTS, or artifacts/ at the top of the repository (found
// from the test's working directory).
func Artifacts(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("BAYAGENT_ARTIFACTS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "artifacts")
				break
			}
			if filepath.Dir(d) == d {
				dir = filepath.Join(wd, "artifacts")
				break
			}
		}
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot saves the whole page as artifacts/<sub>/<name>.png.
func Screenshot(t testing.TB, ctx context.Context, sub, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(Artifacts(t, sub), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
