package repeats

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	now := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	r := New(log, "vehicle interface elm327:/dev/ttyUSB0", time.Minute, func() time.Time { return now })
	gone := errors.New("open /dev/ttyUSB0: no such file or directory")
	for i := range 30 * 30 { // every 2 s for 30 minutes
		if i == 10 { // the same failure, another local port
			r.Fail(errors.New("open /dev/ttyUSB1: no such file or directory"))
		} else {
			r.Fail(gone)
		}
		now = now.Add(2 * time.Second)
	}
	r.Fail(errors.New("elm327: no ELM327 adapter answers")) // another failure: at once
	r.OK()
	r.OK() // nothing more
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+29+1+1 {
		t.Fatalf("%d lines for 901 failures over 30 minutes, want 32 (first, one a minute, the new error, recovered):\n%s", len(lines), buf.String())
	}
	for _, want := range []struct {
		i    int
		text string
	}{
		{0, `level=WARN msg="vehicle interface elm327:/dev/ttyUSB0" err="open /dev/ttyUSB0: no such file or directory"`},
		{1, `level=WARN msg="vehicle interface elm327:/dev/ttyUSB0 (still failing)" err="open /dev/ttyUSB0: no such file or directory" times=30 failing_since=2026-03-14T08:00:00Z`},
		{30, `level=WARN msg="vehicle interface elm327:/dev/ttyUSB0" err="elm327: no ELM327 adapter answers"`},
		{31, `level=INFO msg="vehicle interface elm327:/dev/ttyUSB0: working again" failures=901 after=30m0s`},
	} {
		if lines[want.i] != want.text {
			t.Errorf("line %d:\n got %s\nwant %s", want.i, lines[want.i], want.text)
		}
	}
}
