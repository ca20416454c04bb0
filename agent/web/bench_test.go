package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bayagent/bayagent/agent/internal/browsertest"
)

// BenchmarkNowPage measures the bay screen's Now page with the P0420 car
// on it: the bytes a phone downloads (the page, and the stylesheet and
// script it loads once), the server's render of the page's live part, and
// in headless Chromium the time from a stored scan record (Server.Record,
// which the agent calls right after the outbox commit) to the page showing
// it, beside the time the same page takes for a change that carries no new
// scan (Server.Changed: render and push only).
//
//	go test -run '^$' -bench BenchmarkNowPage -benchtime 20x ./agent/web
func BenchmarkNowPage(b *testing.B) {
	f := newFixture(b, true, nil)
	c, _ := f.loggedIn("T007")
	f.srv.Record(scanRecord(b, 1))

	pageBytes, nowBytes := 0, 0
	for _, p := range []string{"/", "/static/app.css", "/static/app.js"} {
		code, body, _ := f.get(c, p, "Accept-Language", "zh-CN")
		if code != http.StatusOK {
			b.Fatalf("%s: %d", p, code)
		}
		if p == "/" {
			nowBytes = len(body)
		}
		pageBytes += len(body)
	}

	ctx := browsertest.New(b, browsertest.Options{AcceptLanguage: "zh-CN"})
	// The browser signs in with the session of the client above.
	for _, ck := range c.Jar.Cookies(mustURL(f.ts.URL)) {
		js, _ := json.Marshal(ck.Name + "=" + ck.Value + "; path=/")
		if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/login"), chromedp.Evaluate[chromedp.Void](`document.cookie = `+string(js))); err != nil {
			b.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live [data-verdict]`))); err != nil {
		b.Fatal(err)
	}
	waitSeq := func(seq uint64) float64 {
		js := fmt.Sprintf(`document.getElementById('live').textContent.includes('记录号 %d') && Number(document.getElementById('live').dataset.updated)`, seq)
		v, err := chromedp.Run(ctx, chromedp.Poll[float64](js, chromedp.WithPollingInterval(time.Millisecond)))
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	var toPage, changed, render time.Duration
	seq := uint64(1)
	for b.Loop() {
		seq++
		start := time.Now()
		f.srv.Record(scanRecord(b, seq))
		shown := waitSeq(seq)
		toPage += time.UnixMilli(int64(shown)).Sub(start.Truncate(time.Millisecond))

		// The baseline: a change with nothing new, pushed the same way.
		before, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`Number(document.getElementById('live').dataset.updated)`))
		start = time.Now()
		f.srv.Changed()
		v, err := chromedp.Run(ctx, chromedp.Poll[float64](fmt.Sprintf(`Number(document.getElementById('live').dataset.updated) > %f && Number(document.getElementById('live').dataset.updated)`, before),
			chromedp.WithPollingInterval(time.Millisecond)))
		if err != nil {
			b.Fatal(err)
		}
		changed += time.UnixMilli(int64(v)).Sub(start.Truncate(time.Millisecond))

		start = time.Now()
		code, body, _ := f.get(c, "/", "Accept-Language", "zh-CN")
		render += time.Since(start)
		if code != http.StatusOK || !strings.Contains(body, fmt.Sprintf("记录号 %d", seq)) {
			b.Fatalf("page %d", code)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(nowBytes), "now-bytes")
	b.ReportMetric(float64(pageBytes), "first-load-bytes")
	b.ReportMetric(float64(toPage.Microseconds())/1000/n, "scan-to-page-ms")
	b.ReportMetric(float64(changed.Microseconds())/1000/n, "push-only-ms")
	b.ReportMetric(float64(render.Microseconds())/1000/n, "get-now-ms")
}
