package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/i18n"
)

// maxFormBytes bounds a form post (a close_job with its items is the
// largest).
const maxFormBytes = 64 << 10

// routes builds the screen's handler: security headers and the
// cross-origin check around everything, a session around every page.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{file}", s.static)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /lang/{lang}", s.setLang)
	mux.HandleFunc("POST /logout", s.authed(s.logout))
	mux.HandleFunc("GET /{$}", s.authed(s.page("now")))
	mux.HandleFunc("GET /job", s.authed(s.page("job")))
	mux.HandleFunc("GET /live", s.authed(s.page("live")))
	mux.HandleFunc("GET /box", s.authed(s.page("box")))
	mux.HandleFunc("GET /report", s.authed(s.reportIndex))
	mux.HandleFunc("GET /report/{job...}", s.authed(s.report))
	mux.HandleFunc("GET /events", s.authed(s.events))
	mux.HandleFunc("POST /do/{action}", s.authed(s.action))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("bay screen: cross-origin request refused", "remote", clientAddr(r), "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		s.errorPage(w, r, http.StatusForbidden, "error.cross_origin")
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders: nothing from outside, no framing, no sniffing, no
// referrer, no caching of pages.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddr is the browser's IP address (the screen is reached directly
// on the shop's LAN; no proxy header is trusted).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// lang is the reader's language: the switch's cookie, else the browser's
// Accept-Language, else the configured default.
func (s *Server) lang(r *http.Request) i18n.Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, err := i18n.ParseLang(c.Value); err == nil {
			return l
		}
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"), s.opts.Lang)
}

func other(l i18n.Lang) i18n.Lang {
	if l == i18n.Chinese {
		return i18n.English
	}
	return i18n.Chinese
}

func (s *Server) baseView(r *http.Request, page string) *view {
	l := s.lang(r)
	return &view{Lang: l, Other: other(l), Page: page, JobActions: s.opts.JobActions, Now: s.now()}
}

func (s *Server) secure() bool { return s.opts.CertFile != "" }

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode,
	})
}

// setLang is the language switch: it keeps the choice in a cookie and
// goes back to the page it came from.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l, err := i18n.ParseLang(r.PathValue("lang"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	s.setCookie(w, langCookie, string(l), 365*24*time.Hour)
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// localPath returns p when it is a path on this screen, else "/": a
// redirect never leaves the box.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return u.RequestURI()
}

// authed wraps a handler that needs a session. A page without one goes to
// the login (and back after it); an event stream or a POST is refused.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.sessions.get(r)
		if sess == nil {
			if r.Method == http.MethodGet && r.URL.Path != "/events" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "error.no_session")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, http.StatusBadRequest, "error.bad_form")
				return
			}
			if !validCSRF(sess.csrf, r.PostForm.Get("csrf")) {
				s.log.Warn("bay screen: action refused, bad CSRF token", "remote", clientAddr(r), "path", r.URL.Path, "technician", sess.technician)
				s.errorPage(w, r, http.StatusForbidden, "error.csrf")
				return
			}
		}
		h(w, r, sess)
	}
}

// errorPage answers a refused request with a short page in the reader's
// language (key is under "web.").
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := s.baseView(r, "error")
	v.Data = key
	render(w, status, "error", v)
}

// loginData is the login page's.
type loginData struct {
	Next       string
	Technician string
	Error      string // message key under web.
	Retry      int    // seconds, for a rate-limited client
	NoPIN      bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.sessions.get(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginData{Next: localPath(r.URL.Query().Get("next"))})
}

// renderLogin shows the login form with a fresh login CSRF token (a
// cookie the form must repeat: there is no session to hold it yet).
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	v := s.baseView(r, "login")
	v.CSRF = newToken()
	s.setCookie(w, loginCookie, v.CSRF, time.Hour)
	if _, err := readPINFile(s.opts.PINFile); errors.Is(err, ErrNoPIN) {
		d.NoPIN = true
	}
	v.Data = d
	render(w, status, "login", v)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_form")
		return
	}
	ip := clientAddr(r)
	tech := strings.TrimSpace(r.PostForm.Get("technician"))
	d := loginData{Next: localPath(r.PostForm.Get("next")), Technician: tech}
	c, err := r.Cookie(loginCookie)
	if err != nil || !validCSRF(c.Value, r.PostForm.Get("csrf")) {
		s.log.Warn("bay screen: login refused, bad CSRF token", "remote", ip)
		d.Error = "login.expired"
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	if ok, wait := s.limit.allow(ip); !ok {
		secs := int(wait.Round(time.Second) / time.Second)
		s.log.Warn("bay screen: login refused, too many failed attempts", "remote", ip, "retry_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error, d.Retry = "login.too_many", secs
		s.renderLogin(w, r, http.StatusTooManyRequests, d)
		return
	}
	if err := check.ValidTechnician(tech); err != nil {
		d.Error = "login.bad_technician"
		s.renderLogin(w, r, http.StatusBadRequest, d)
		return
	}
	ok, err := s.checkPIN(r.Context(), r.PostForm.Get("pin"))
	switch {
	case errors.Is(err, ErrNoPIN):
		d.Error = "login.no_pin"
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	case err != nil:
		s.log.Error("bay screen: cannot check the PIN", "err", err)
		d.Error = "login.pin_file"
		s.renderLogin(w, r, http.StatusInternalServerError, d)
		return
	case !ok:
		s.limit.failed(ip)
		s.log.Warn("bay screen: wrong PIN", "remote", ip, "technician", tech)
		d.Error = "login.wrong_pin"
		s.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	s.limit.succeeded(ip)
	sess, token := s.sessions.create(tech)
	s.setCookie(w, sessionCookie, token, s.opts.SessionTTL)
	s.setCookie(w, loginCookie, "", -time.Second)
	s.log.Info("bay screen: login", "remote", ip, "technician", tech, "session", sess.short())
	if err := s.audit(r, sess, "login", nil); err != nil {
		s.log.Warn("bay screen: login not audited", "err", err)
	}
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// checkPIN verifies pin against the PIN file, one check at a time.
func (s *Server) checkPIN(ctx context.Context, pin string) (bool, error) {
	select {
	case s.pinCheck <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.pinCheck }()
	h, err := readPINFile(s.opts.PINFile)
	if err != nil {
		return false, err
	}
	return h.verify(pin), nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.audit(r, sess, "logout", nil); err != nil {
		s.log.Warn("bay screen: logout not audited", "err", err)
	}
	s.sessions.remove(sess)
	s.setCookie(w, sessionCookie, "", -time.Second)
	s.log.Info("bay screen: logout", "technician", sess.technician, "session", sess.short())
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
