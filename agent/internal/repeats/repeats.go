// Package repeats logs a failure that keeps coming back once, then as a summary now and then.
//
// A vehicle interface that is unplugged fails at every detect interval, a
// broker that is down at every reconnection: logging each attempt buries
// the log (and wears the SD card) for days. A Logger logs the first
// failure, a different failure at once, the same failure again only as a
// summary every Every ("still failing: 1800 times since 08:00"), and one
// line when it stops. Two failures are the same when their texts differ
// only in numbers (a connection's local port, a count).
package repeats

import (
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultEvery is how often a failure that goes on is summarised.
const DefaultEvery = 10 * time.Minute

// Logger logs the failures of one activity. Its methods may be called
// from several goroutines.
type Logger struct {
	log   *slog.Logger
	msg   string
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	text   string    // the failure being repeated; "" while all is well
	count  int       // failures since the last line
	total  int       // failures since it started
	since  time.Time // when it started
	logged time.Time // when it was last logged
}

// New returns a Logger writing msg to log; every <= 0 means DefaultEvery,
// a nil now time.Now.
func New(log *slog.Logger, msg string, every time.Duration, now func() time.Time) *Logger {
	if every <= 0 {
		every = DefaultEvery
	}
	if now == nil {
		now = time.Now
	}
	return &Logger{log: log, msg: msg, every: every, now: now}
}

// Fail records one failure: logged when it differs from the last one (by
// its text), else counted and summarised once per Every.
func (r *Logger) Fail(err error, attrs ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	text := shape(err.Error())
	if text != r.text {
		if r.text == "" {
			r.since, r.total = now, 0
		}
		r.text, r.count, r.logged = text, 0, now
		r.total++
		r.log.Warn(r.msg, append([]any{"err", err}, attrs...)...)
		return
	}
	r.count++
	r.total++
	if now.Sub(r.logged) >= r.every {
		r.log.Warn(r.msg+" (still failing)", append([]any{"err", err, "times", r.count, "failing_since", r.since.UTC().Format(time.RFC3339)}, attrs...)...)
		r.count, r.logged = 0, now
	}
}

// OK records a success: after failures, one line says it recovered.
func (r *Logger) OK() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.text == "" {
		return
	}
	r.log.Info(r.msg+": working again", "failures", r.total, "after", r.now().Sub(r.since).Round(time.Second).String())
	r.text, r.count, r.total = "", 0, 0
}

// shape is text with every run of digits replaced by "#".
func shape(text string) string {
	var b strings.Builder
	digits := false
	for _, c := range text {
		if c >= '0' && c <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(c)
	}
	return b.String()
}
