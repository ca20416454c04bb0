package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Cookie names.
const (
	sessionCookie = "bay_session"
	loginCookie   = "bay_login" // the login form's CSRF token, before a session exists
	langCookie    = "bay_lang"
)

// session is one logged-in browser.
type session struct {
	id         string // hex SHA-256 of the cookie token: what the server keeps
	technician string
	csrf       string
	created    time.Time
	expires    time.Time
	flash      *flash // the outcome of the last action, shown once
}

// short is the session's id as audit records name it: enough to tell the
// sessions of one day apart, useless to steal one.
func (s *session) short() string { return s.id[:12] }

// flash is a message for the next page the session sees, written in the
// language that page is read in.
type flash struct {
	OK   bool
	text func(*view) shown
}

// maxSessions bounds the sessions held: beyond it the oldest goes.
const maxSessions = 64

// sessions holds the logged-in browsers in memory: a restart logs
// everybody out, which is the safe side.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// create starts a session and returns it with the cookie token.
func (ss *sessions) create(technician string) (*session, string) {
	token := newToken()
	now := ss.now()
	s := &session{id: tokenID(token), technician: technician, csrf: newToken(), created: now, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.expire(now)
	for len(ss.byID) >= maxSessions {
		var oldest *session
		for _, x := range ss.byID {
			if oldest == nil || x.created.Before(oldest.created) {
				oldest = x
			}
		}
		delete(ss.byID, oldest.id)
	}
	ss.byID[s.id] = s
	return s, token
}

func (ss *sessions) expire(now time.Time) {
	for id, s := range ss.byID {
		if !now.Before(s.expires) {
			delete(ss.byID, id)
		}
	}
}

// get returns the session of the request's cookie, or nil.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 128 {
		return nil
	}
	id := tokenID(c.Value)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	if s == nil {
		return nil
	}
	if !ss.now().Before(s.expires) {
		delete(ss.byID, id)
		return nil
	}
	return s
}

func (ss *sessions) remove(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, s.id)
}

// setFlash leaves a message for the session's next page; takeFlash
// returns it once.
func (ss *sessions) setFlash(s *session, f flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = &f
}

func (ss *sessions) takeFlash(s *session) *flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// count returns the live sessions.
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.expire(ss.now())
	return len(ss.byID)
}

// validCSRF compares a form's token with the expected one in constant time.
func validCSRF(want, got string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
