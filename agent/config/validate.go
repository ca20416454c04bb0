package config

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/elm327"
)

// Allowed values of the enumerated settings.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// Validate checks the configuration and returns nil or every problem found,
// each a *FieldError naming the key (and its line when the Config came from
// Parse) and the allowed values, joined with errors.Join.
//
// The uplink settings are checked by the uplink package's own validation
// (uplink.New), one setting at a time so that each problem names its key.
// That includes reading uplink.ca_file, cert_file and key_file and looking
// up the variable uplink.password_env names: a missing certificate or
// password is reported here, before the agent starts.
func (c *Config) Validate() error { return c.validate(strconv.IntSize == 32) }

// Warnings lists settings that are valid but unsafe outside development,
// for the agent to log at start.
func (c *Config) Warnings() []string {
	var w []string
	if c.Uplink.InsecureSkipVerify {
		w = append(w, "uplink.insecure_skip_verify is on: the broker's certificate is not verified, anyone on the network path can receive the records (development only)")
	}
	if c.Uplink.AllowPlaintext && strings.HasPrefix(strings.ToLower(c.Uplink.Broker), "tcp:") {
		w = append(w, "uplink.broker is plain tcp://: records and the password travel unencrypted (development only)")
	}
	w = append(w, c.screenWarnings()...)
	if c.Uplink.SkipWriteProbe {
		w = append(w, "uplink.skip_write_probe is on: if the broker's ACL drops this device's publishes, records are lost without notice")
	}
	return w
}

type validator struct {
	c    *Config
	errs []error
}

func (v *validator) bad(field, format string, a ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Line: v.c.line(field), Msg: fmt.Sprintf(format, a...), kind: ErrInvalid})
}

// checks runs validators of package check, the rules commands and jobs
// share, and reports their problems under the configuration's keys.
func (v *validator) checks(run func(p *check.Problems)) {
	var p check.Problems
	run(&p)
	for _, fe := range p {
		v.bad(fe.Field, "%s", fe.Problem)
	}
}

func (v *validator) wrap(field, msg string, err error) {
	v.errs = append(v.errs, &FieldError{Field: field, Line: v.c.line(field), Msg: msg, Err: err, kind: ErrInvalid})
}

func (c *Config) validate(bits32 bool) error {
	v := &validator{c: c}
	v.device()
	v.vehicle()
	v.analyzer()
	v.bayio()
	v.outbox(bits32)
	v.uplink()
	// The command's limits are the ceiling: a box may only lower them.
	v.rangeInt("live.max_rate_hz", c.Live.MaxRateHz, 1, int(command.MaxLiveRateHz))
	v.rangeDur("live.max_duration", c.Live.MaxDuration, time.Second, command.MaxLiveDuration)
	v.rangeInt("healthrecord.part_name_max", c.HealthRecord.PartNameMax, 1, 1000)
	v.screen()
	v.oneOf("log.level", c.Log.Level, logLevels)
	v.oneOf("log.format", c.Log.Format, logFormats)
	return errors.Join(v.errs...)
}

func (v *validator) device() {
	d := v.c.Device
	switch {
	case d.ID == "":
		v.bad("device.id", "required: this box's id, 1 to 64 characters from A-Z a-z 0-9 . _ - (e.g. bay3-pi)")
	case record.ValidDevice(d.ID) != nil:
		v.wrap("device.id", "want 1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit", record.ValidDevice(d.ID))
	}
	switch {
	case d.Shop == "":
		v.bad("device.shop", "required: the shop's 15-digit company code in the health-record system (quote it: \"440300123456789\")")
	case len(d.Shop) != 15 || strings.Trim(d.Shop, "0123456789") != "" || record.ValidShop(d.Shop) != nil:
		v.bad("device.shop", "want the shop's 15-digit company code in the health-record system, got %q", d.Shop)
	}
	v.text("device.company_name", d.CompanyName, 200)
	if d.Bay != "" { // the same rule as a command's "bay"
		v.checks(func(p *check.Problems) { check.Bay(p, "device.bay", d.Bay) })
	}
	v.absPath("device.state_dir", d.StateDir)
	v.absPath("device.key_file", d.KeyFile)
}

func (v *validator) vehicle() {
	ve := v.c.Vehicle
	const examples = "e.g. can:can0 or elm327:/dev/ttyUSB0@38400"
	scheme, rest, ok := strings.Cut(ve.Interface, ":")
	switch {
	case ve.Interface == "":
		v.bad("vehicle.interface", "required: the vehicle interface (%s; schemes %s)", examples, vehicle.Schemes())
	case vehicle.Hint(ve.Interface) != "":
		v.bad("vehicle.interface", "%q has no scheme: did you mean %s? (schemes %s)", ve.Interface, vehicle.Hint(ve.Interface), vehicle.Schemes())
	case !ok:
		v.bad("vehicle.interface", "want SCHEME:ADDRESS (%s), got %q (schemes %s)", examples, ve.Interface, vehicle.Schemes())
	case !slices.ContainsFunc(vehicle.Addresses(), func(a vehicle.Address) bool { return a.Scheme == scheme }):
		v.bad("vehicle.interface", "unknown scheme %q (want %s)", scheme, vehicle.Schemes())
	case rest == "":
		v.bad("vehicle.interface", "%q names no interface after the scheme (%s)", ve.Interface, examples)
	case scheme == "elm327":
		if _, _, err := elm327.ParseSpec(rest); err != nil {
			v.wrap("vehicle.interface", "want elm327:DEVICE[@BAUD], e.g. elm327:/dev/ttyUSB0@38400", err)
		}
	case scheme == "can" && (len(rest) > 15 || strings.ContainsAny(rest, "/: \t")):
		v.bad("vehicle.interface", "want can:IFACE with a network interface name of at most 15 characters, e.g. can:can0, got %q", ve.Interface)
	}
	switch ve.IDBits {
	case 0, 11, 29:
	default:
		v.bad("vehicle.id_bits", "want 0 (detect), 11 or 29, got %d", ve.IDBits)
	}
	if !slices.Contains(vehicle.Protocols(), ve.Protocol) {
		v.bad("vehicle.protocol", "unknown protocol %q (want %s)", ve.Protocol, strings.Join(vehicle.Protocols(), ", "))
	} else if ve.Protocol == "j1939" {
		if scheme == "elm327" {
			v.bad("vehicle.protocol", "j1939 needs a CAN interface (can:, udp:, mem: or replay:); the elm327 driver speaks OBD-II only")
		}
		if ve.IDBits == 11 {
			v.bad("vehicle.id_bits", "J1939 uses 29-bit identifiers: want 0 or 29 with protocol j1939, got 11")
		}
	}
	v.rangeDur("vehicle.p2", ve.P2, 10*time.Millisecond, 5*time.Second)
	v.rangeDur("vehicle.detect_interval", ve.DetectInterval, 100*time.Millisecond, time.Minute)
}

func (v *validator) analyzer() {
	a := v.c.Analyzer
	if a.Interface != "" {
		addr, err := analyzer.ParseAddress(a.Interface)
		if err != nil {
			v.wrap("analyzer.interface", "want DRIVER:DEVICE[@BAUD], e.g. nha506:/dev/ttyUSB1 or nht6:/dev/ttyUSB1", err)
		} else if names := driverNames(); !slices.Contains(names, addr.Driver) {
			v.bad("analyzer.interface", "unknown driver %q (want %s)", addr.Driver, strings.Join(names, ", "))
		}
	}
	if a.Method != "" {
		if !slices.Contains(analyzer.Methods(), a.Method) {
			v.bad("analyzer.method", "unknown method %q (want %s, or empty for the driver's default)", a.Method, strings.Join(analyzer.Methods(), ", "))
		} else if a.Interface == "" {
			v.bad("analyzer.method", "set but analyzer.interface is empty (no analyzer to use it)")
		}
	}
	if a.Procedures != "" {
		if _, err := emission.LoadConfigFile(a.Procedures); err != nil {
			v.wrap("analyzer.procedures", "the emission test procedures file", err)
		}
	}
}

func driverNames() []string {
	var names []string
	for _, d := range analyzer.Builtin() {
		names = append(names, d.Name)
	}
	return names
}

func (v *validator) bayio() {
	b := v.c.BayIO
	used := map[string]string{}
	for _, p := range []struct{ field, pin string }{
		{"bayio.button", b.Button}, {"bayio.ready", b.Ready}, {"bayio.vehicle", b.Vehicle},
		{"bayio.stored", b.Stored}, {"bayio.offline", b.Offline}, {"bayio.fault", b.Fault},
		{"bayio.buzzer", b.Buzzer},
	} {
		if p.pin == "" {
			continue
		}
		if len(p.pin) > 32 || strings.Trim(p.pin, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") != "" {
			v.bad(p.field, "want a GPIO pin name such as GPIO17 (letters, digits, _ - .), got %q", p.pin)
			continue
		}
		if other, dup := used[p.pin]; dup {
			v.bad(p.field, "pin %s is already used by %s", p.pin, other)
			continue
		}
		used[p.pin] = p.field
	}
}

func (v *validator) outbox(bits32 bool) {
	o := v.c.Outbox
	v.absPath("outbox.path", o.Path)
	switch {
	case o.MaxBytes < 1<<20:
		v.bad("outbox.max_bytes", "want at least 1MiB, got %s", o.MaxBytes)
	case bits32 && o.MaxBytes > MaxBytes32:
		v.bad("outbox.max_bytes", "want at most %s on a 32-bit system, got %s: bbolt maps the whole outbox file into the agent's memory (under 3 GiB of address space on 32-bit ARM, and the mapping grows in doubling steps) and the file grows beyond the stored records, so a larger bound would fail to map long before the outbox is full (default %s)", MaxBytes32, o.MaxBytes, DefaultMaxBytes)
	}
	if o.ArchiveMaxAge < 0 {
		v.bad("outbox.archive_max_age", "want a duration of 0 (no limit) or more, got %s", o.ArchiveMaxAge)
	}
}

// nopQueue and nopCommander let Validate run uplink.New, which only checks
// the options and never calls them.
type nopQueue struct{}

func (nopQueue) Next(ctx context.Context, _ uint64, _ int) ([]uplink.Item, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (nopQueue) Ack(...uint64) error             { return nil }
func (nopQueue) Quarantine(uint64, string) error { return nil }

type nopCommander struct{}

func (nopCommander) Lane(string) string { return "" }

func (nopCommander) Command(context.Context, string, json.RawMessage) (any, error) {
	return nil, uplink.ErrUnknownCommand
}

func (v *validator) uplink() {
	u := v.c.Uplink
	if u.QoS != 1 {
		v.bad("uplink.qos", "want 1, got %d: records are published at QoS 1 (at least once) and leave the outbox only when the broker acknowledged them", u.QoS)
	}
	names := map[string]bool{}
	for i, k := range u.CommandKeys {
		field := fmt.Sprintf("uplink.command_keys[%d]", i)
		if k.Name == "" || len(k.Name) > 64 || strings.ContainsAny(k.Name, " \t\n\"") {
			v.bad(field+".name", "want 1 to 64 characters without spaces or quotes, got %q", k.Name)
		} else if names[k.Name] {
			v.bad(field+".name", "the name %q is given twice", k.Name)
		}
		names[k.Name] = true
		if b, err := base64.StdEncoding.Strict().DecodeString(k.PublicKey); err != nil || len(b) != ed25519.PublicKeySize {
			v.bad(field+".public_key", "want an ed25519 public key in standard base64 (44 characters), got %q", k.PublicKey)
		}
	}
	if u.MaxPayload < 0 || u.MaxPayload > math.MaxInt32 {
		v.bad("uplink.max_payload", "want 0 (the MQTT maximum) up to %d bytes, got %s", uplink.MaxPacket, u.MaxPayload)
		u.MaxPayload = 0
	}
	check := func(o uplink.Options) error {
		_, err := uplink.New(o, nopQueue{}, nopCommander{}, nil)
		return err
	}
	// Each setting is checked alone on a valid base, so that each problem
	// names its key; the files are checked against the real broker URL
	// when that one is valid (a tcp:// broker takes no certificates).
	base := uplink.Options{Broker: "ssl://localhost", Shop: "0", Device: "d", LookupEnv: v.c.lookupEnv}
	failed := false
	probe := func(field string, set func(*uplink.Options)) {
		o := base
		set(&o)
		if err := check(o); err != nil {
			failed = true
			v.wrap(field, "", err)
		}
	}
	if u.Broker == "" {
		failed = true
		v.bad("uplink.broker", "required: the health-record system's MQTT broker, e.g. ssl://records.example.org:8883 (ssl://, tls:// or mqtts://; tcp:// only with allow_plaintext)")
	} else {
		probe("uplink.broker", func(o *uplink.Options) { o.Broker, o.AllowPlaintext = u.Broker, u.AllowPlaintext })
		if !failed {
			base.Broker, base.AllowPlaintext = u.Broker, u.AllowPlaintext
		}
	}
	probe("uplink.topic_prefix", func(o *uplink.Options) { o.Prefix = u.TopicPrefix })
	probe("uplink.client_id", func(o *uplink.Options) { o.ClientID = u.ClientID })
	probe("uplink.keepalive", func(o *uplink.Options) { o.KeepAlive = u.KeepAlive.D() })
	probe("uplink.inflight", func(o *uplink.Options) { o.InFlight = u.InFlight })
	probe("uplink.max_payload", func(o *uplink.Options) { o.MaxPayload = int(u.MaxPayload) })
	probe("uplink.password_env", func(o *uplink.Options) { o.Username, o.PasswordEnv = u.Username, u.PasswordEnv })
	probe("uplink.ca_file", func(o *uplink.Options) { o.CAFile = u.CAFile })
	probe("uplink.cert_file", func(o *uplink.Options) { o.CertFile, o.KeyFile = u.CertFile, u.KeyFile })
	if failed || record.ValidDevice(v.c.Device.ID) != nil || record.ValidShop(v.c.Device.Shop) != nil {
		return
	}
	// Every setting passed alone; check them together.
	if err := check(v.c.UplinkOptions()); err != nil {
		v.wrap("uplink", "", err)
	}
}

func (v *validator) rangeInt(field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.bad(field, "want %d to %d, got %d", lo, hi, n)
	}
}

func (v *validator) rangeDur(field string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		v.bad(field, "want %v to %v, got %v", lo, hi, d)
	}
}

func (v *validator) oneOf(field, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.bad(field, "unknown value %q (want %s)", s, strings.Join(allowed, ", "))
	}
}

func (v *validator) absPath(field, p string) {
	switch {
	case p == "":
		v.bad(field, "required: an absolute path")
	case !filepath.IsAbs(p) || strings.ContainsRune(p, 0):
		v.bad(field, "want an absolute path, got %q", p)
	}
}

// text checks a free-text setting: valid UTF-8 without control characters,
// at most maxRunes characters.
func (v *validator) text(field, s string, maxRunes int) {
	switch {
	case !utf8.ValidString(s):
		v.bad(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > maxRunes:
		v.bad(field, "want at most %d characters, got %d", maxRunes, utf8.RuneCountInString(s))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.bad(field, "must not contain control characters, got %q", s)
	}
}
