// Package clock tells how far the box's wall clock can be trusted.
//
// It says whether the clock is synchronised, which boot it belongs to, and the
// time since boot.
//
// A Raspberry Pi has no real-time clock. Until NTP synchronises it, its
// wall clock starts from the last time saved at shutdown (fake-hwclock, or
// systemd-timesyncd's /var/lib/systemd/timesync/clock) and can be hours or
// weeks behind. A record stamped then carries a wrong time, so every record
// also carries a [Reading]'s state: synchronised or not, the boot id and
// the monotonic time since boot. Once the clock is synchronised, a
// clock_sync record gives the wall and monotonic time of that moment, and a
// receiver corrects each earlier record of the same boot:
//
//	corrected = sync.Wall - (sync.Mono - record.Mono)
//
// Records of a boot that ended before its clock was synchronised cannot be
// corrected, only flagged.
//
// # Synchronised
//
// The clock counts as synchronised when the kernel says so (adjtimex: the
// state is not TIME_ERROR and STA_UNSYNC is clear, which ntpd, chrony and
// systemd-timesyncd arrange once they have set the clock) or when
// systemd-timesyncd's flag file /run/systemd/timesync/synchronized exists
// (created at its first successful synchronisation). The time-sync.target
// of systemd is not used: it is reached too early unless
// systemd-time-wait-sync is enabled.
//
// # Boot and monotonic time
//
// The boot id is the kernel's random id of the running boot
// (/proc/sys/kernel/random/boot_id); the monotonic time is CLOCK_BOOTTIME,
// which counts from boot, never jumps when the wall clock is set, and keeps
// counting through a suspend. On a system without them the boot is "" and
// the time 0, and such records cannot be corrected.
package clock

import (
	"errors"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultSyncFile   = "/run/systemd/timesync/synchronized"
	DefaultBootIDFile = "/proc/sys/kernel/random/boot_id"
)

// Reading is the wall clock and its state at one instant.
type Reading struct {
	Wall   time.Time     // the wall clock (UTC)
	Synced bool          // the wall clock was synchronised
	Boot   string        // the boot id; "" when unknown
	Mono   time.Duration // time since boot; 0 when unknown
}

// MonoMS returns Mono in whole milliseconds, as records carry it.
func (r Reading) MonoMS() int64 { return r.Mono.Milliseconds() }

// Options configures a Clock. The zero value reads the real system.
type Options struct {
	// SyncFile is systemd-timesyncd's flag file; "" means DefaultSyncFile.
	SyncFile string
	// BootIDFile holds the boot id; "" means DefaultBootIDFile.
	BootIDFile string
	// Kernel reports whether the kernel considers the clock synchronised;
	// nil means adjtimex (an error counts as not synchronised).
	Kernel func() (bool, error)
	// Wall reads the wall clock; nil means time.Now.
	Wall func() time.Time
	// Mono reads the time since boot; nil means CLOCK_BOOTTIME.
	Mono func() (time.Duration, error)
}

// Clock reads the wall clock with its state. Its methods are safe for
// concurrent use.
type Clock struct {
	opts Options

	bootOnce sync.Once
	boot     string
}

// New returns a Clock reading what opts say.
func New(opts Options) *Clock {
	if opts.SyncFile == "" {
		opts.SyncFile = DefaultSyncFile
	}
	if opts.BootIDFile == "" {
		opts.BootIDFile = DefaultBootIDFile
	}
	if opts.Kernel == nil {
		opts.Kernel = kernelSynced
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	if opts.Mono == nil {
		opts.Mono = bootTime
	}
	return &Clock{opts: opts}
}

// Read returns the wall clock, whether it is synchronised, the boot id and
// the time since boot.
func (c *Clock) Read() Reading {
	r := Reading{Boot: c.Boot()}
	if m, err := c.opts.Mono(); err == nil {
		r.Mono = m
	}
	r.Wall = c.opts.Wall().UTC()
	r.Synced = c.Synced()
	return r
}

// Synced reports whether the wall clock is synchronised (see the package
// doc).
func (c *Clock) Synced() bool {
	if ok, err := c.opts.Kernel(); err == nil && ok {
		return true
	}
	_, err := os.Stat(c.opts.SyncFile)
	return err == nil
}

// Boot returns the boot id, read once ("" when it cannot be read).
func (c *Clock) Boot() string {
	c.bootOnce.Do(func() {
		b, err := os.ReadFile(c.opts.BootIDFile)
		if err == nil {
			c.boot = cleanBoot(strings.TrimSpace(string(b)))
		}
	})
	return c.boot
}

// cleanBoot keeps a boot id that fits a record: at most 64 characters of
// lowercase hex and '-', else "".
func cleanBoot(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return ""
		}
	}
	return s
}

// errUnsupported: the system cannot tell.
var errUnsupported = errors.New("clock: not supported on this system")
