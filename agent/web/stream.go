package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"
)

// Event stream timing: a comment keeps idle connections (and proxies)
// open; the Box page's ages are refreshed now and then.
const (
	heartbeat   = 25 * time.Second
	boxRefresh  = 5 * time.Second
	retryMillis = 2000
)

// events streams one page's live part: rendered again, in the reader's
// language, each time what the page shows changes. The first event is sent
// at once, so a page that reconnects catches up. When the session ends the
// stream says "logout" and closes.
func (s *Server) events(w http.ResponseWriter, r *http.Request, sess *session) {
	page := r.URL.Query().Get("page")
	t, ok := pageTopics[page]
	if !ok {
		http.Error(w, "unknown page", http.StatusNotFound)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: " + strconv.Itoa(retryMillis) + "\n\n")); err != nil {
		return
	}
	sub := s.feed.subscribe(t)
	defer s.feed.unsubscribe(sub)
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	var refresh <-chan time.Time
	if page == "box" {
		tk := time.NewTicker(boxRefresh)
		defer tk.Stop()
		refresh = tk.C
	}
	send := func() bool {
		if s.sessions.get(r) == nil {
			writeEvent(w, "logout", "")
			rc.Flush()
			return false
		}
		v := s.sessionView(r, sess, page)
		html, err := renderString(page+"-live", v)
		if err != nil {
			s.log.Error("bay screen: render", "page", page, "err", err)
			return false
		}
		if writeEvent(w, "update", html) != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.feed.closed:
			return
		case <-sub.ch:
			if !send() {
				return
			}
		case <-refresh:
			if !send() {
				return
			}
		case <-beat.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// static serves the embedded stylesheet and script, cached by content.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("file"))
	b, err := assets.ReadFile("assets/" + name)
	typ := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}[path.Ext(name)]
	if err != nil || typ == "" {
		http.NotFound(w, r)
		return
	}
	etag := staticETag(name, b)
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

var etags sync.Map

func staticETag(name string, b []byte) string {
	if e, ok := etags.Load(name); ok {
		return e.(string)
	}
	sum := sha256.Sum256(b)
	e := `"` + hex.EncodeToString(sum[:8]) + `"`
	etags.Store(name, e)
	return e
}
