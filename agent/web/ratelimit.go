package web

import (
	"sync"
	"time"
)

// Login rate limits. A client (by IP address) may fail loginFreeTries
// times; each failure after that locks it out for a period that doubles
// from loginLockBase up to loginLockMax, and a success clears its count.
// Beside that, at most loginGlobalFails failures per loginGlobalWindow are
// accepted from all clients together, so that many addresses cannot share
// the guessing: a 6-digit PIN then takes weeks to find.
const (
	loginFreeTries    = 5
	loginLockBase     = 30 * time.Second
	loginLockMax      = 15 * time.Minute
	loginGlobalFails  = 30
	loginGlobalWindow = 10 * time.Minute
	maxLimiterClients = 4096
)

// limiter counts failed logins.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*clientFails
	global  []time.Time // failure times within the window
}

type clientFails struct {
	fails int
	until time.Time // locked out until
	last  time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, clients: map[string]*clientFails{}}
}

// allow reports whether a login attempt from client may be checked now,
// and if not, how long until it may.
func (l *limiter) allow(client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.trim(now)
	if c := l.clients[client]; c != nil && now.Before(c.until) {
		return false, c.until.Sub(now)
	}
	if len(l.global) >= loginGlobalFails {
		return false, l.global[0].Add(loginGlobalWindow).Sub(now)
	}
	return true, 0
}

// failed records a failed attempt.
func (l *limiter) failed(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.global = append(l.global, now)
	c := l.clients[client]
	if c == nil {
		if len(l.clients) >= maxLimiterClients {
			l.evict()
		}
		c = &clientFails{}
		l.clients[client] = c
	}
	c.fails++
	c.last = now
	if over := c.fails - loginFreeTries; over > 0 {
		lock := loginLockBase << min(over-1, 10)
		c.until = now.Add(min(lock, loginLockMax))
	}
}

// succeeded clears the client's failures (the global count stays).
func (l *limiter) succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
}

func (l *limiter) trim(now time.Time) {
	i := 0
	for i < len(l.global) && now.Sub(l.global[i]) >= loginGlobalWindow {
		i++
	}
	l.global = l.global[i:]
}

// evict drops the client whose last failure is oldest.
func (l *limiter) evict() {
	var oldest string
	var t time.Time
	for k, c := range l.clients {
		if oldest == "" || c.last.Before(t) {
			oldest, t = k, c.last
		}
	}
	delete(l.clients, oldest)
}
