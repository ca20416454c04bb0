package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/uplink"
	"go.yaml.in/yaml/v3"
)

// boxEnv is the environment the firmware-config files reference, as
// /etc/bayagent/bayagent.env would hold it on a box.
var boxEnv = map[string]string{
	"BAYAGENT_DEVICE_ID":     "bay1-pi",
	"BAYAGENT_SHOP":          "440300123456789",
	"BAYAGENT_COMPANY_NAME":  "Example Auto Repair Co.",
	"BAYAGENT_BROKER":        "ssl://records.example.org:8883",
	"BAYAGENT_MQTT_USERNAME": "bay1",
	"BAYAGENT_MQTT_PASSWORD": "s3cr3t-pw",
	"BAYAGENT_COMMAND_KEY":   "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return ParseEnv(strings.NewReader(text), lookupIn(boxEnv))
}

// mustParse is parse of a file that must parse.
func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := parse(t, text)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

// mustValid is parse of a file that must parse and validate.
func mustValid(t *testing.T, text string) *Config {
	t.Helper()
	c := mustParse(t, text)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// problems splits a joined error into its FieldErrors.
func problems(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isField := err.(*FieldError); !isField {
			errs = j.Unwrap()
		}
	}
	var out []*FieldError
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("problem %v (%T) is not a *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func firmwareConfigs(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../firmware-config/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestFirmwareConfigs loads and validates every file in firmware-config/.
func TestFirmwareConfigs(t *testing.T) {
	files := firmwareConfigs(t)
	if len(files) < 3 {
		t.Fatalf("want at least 3 firmware configs, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseEnv(bytes.NewReader(data), lookupIn(boxEnv))
			if err != nil {
				t.Fatalf("parse:\n%v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("validate:\n%v", err)
			}
			if err := c.validate(true); err != nil {
				t.Fatalf("validate as on 32-bit ARM:\n%v", err)
			}
			if c.Device.ID != "bay1-pi" || c.Device.Shop != "440300123456789" || c.Uplink.Broker != boxEnv["BAYAGENT_BROKER"] {
				t.Errorf("environment not expanded: device %+v broker %q", c.Device, c.Uplink.Broker)
			}
			if c.Outbox.Path != "/var/lib/bayagent/outbox.db" || c.Device.KeyFile != "/var/lib/bayagent/device.key" {
				t.Errorf("derived paths: outbox %q key %q", c.Outbox.Path, c.Device.KeyFile)
			}
			if _, err := uplink.New(c.UplinkOptions(), nopQueue{}, nopCommander{}, nil); err != nil {
				t.Errorf("uplink.New refuses the options: %v", err)
			}
		})
	}
}

// TestFirmwareConfigContents pins what each supported setup must say.
func TestFirmwareConfigContents(t *testing.T) {
	for _, tc := range []struct {
		file                string
		vehicle, protocol   string
		idBits              int
		analyzer, method    string
		button              string
		logFormat, maxBytes string
	}{
		{"pi4-pican2-nha506.yaml", "can:can0", "auto", 0, "nha506:/dev/ttyUSB0", "two_speed_idle", "GPIO17", "text", "64MiB"},
		{"pi-usb-elm327.yaml", "elm327:/dev/ttyUSB0@38400", "auto", 0, "", "", "GPIO17", "text", "64MiB"},
		{"arm64-diesel-j1939-opacimeter.yaml", "can:can0", "j1939", 29, "nht6:/dev/ttyUSB1", "free_acceleration", "", "json", "256MiB"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../../firmware-config", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := ParseEnv(f, lookupIn(boxEnv))
			if err != nil {
				t.Fatal(err)
			}
			got := []any{c.Vehicle.Interface, c.Vehicle.Protocol, c.Vehicle.IDBits, c.Analyzer.Interface, c.Analyzer.Method, c.BayIO.Button, c.Log.Format, c.Outbox.MaxBytes.String()}
			want := []any{tc.vehicle, tc.protocol, tc.idBits, tc.analyzer, tc.method, tc.button, tc.logFormat, tc.maxBytes}
			if !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if c.Uplink.PasswordEnv != "BAYAGENT_MQTT_PASSWORD" {
				t.Errorf("password_env = %q", c.Uplink.PasswordEnv)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.Device.StateDir != "/var/lib/bayagent" || c.Outbox.Path != "/var/lib/bayagent/outbox.db" ||
		c.Device.KeyFile != "/var/lib/bayagent/device.key" || c.Outbox.MaxBytes != 64<<20 ||
		c.Vehicle.DetectInterval.D() != 2*time.Second || c.Vehicle.P2.D() != 50*time.Millisecond ||
		c.Uplink.QoS != 1 || c.Uplink.TopicPrefix != "bayagent" || c.Live.MaxRateHz != 10 ||
		c.Live.MaxDuration.D() != 10*time.Minute || c.HealthRecord.PartNameMax != 50 ||
		c.Log.Level != "info" || c.Log.Format != "text" || c.Vehicle.Protocol != "auto" {
		t.Errorf("defaults: %+v", c)
	}
	var fields []string
	for _, p := range problems(t, c.Validate()) {
		fields = append(fields, p.Field)
	}
	want := []string{"device.id", "device.shop", "vehicle.interface", "uplink.broker"}
	if !slices.Equal(fields, want) {
		t.Errorf("Default().Validate() problems in %v, want exactly the required settings %v", fields, want)
	}
}

// An empty file is the defaults; state_dir moves the derived paths.
func TestParseDefaultsAndDerived(t *testing.T) {
	c, err := parse(t, "")
	if err != nil || c.Outbox.Path != "/var/lib/bayagent/outbox.db" {
		t.Fatalf("empty file: %v %+v", err, c)
	}
	c, err = parse(t, "device:\n  state_dir: /data/ba\noutbox:\n  max_bytes:\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbox.Path != "/data/ba/outbox.db" || c.Device.KeyFile != "/data/ba/device.key" || c.Outbox.MaxBytes != DefaultMaxBytes {
		t.Errorf("derived: outbox %q key %q max %v", c.Outbox.Path, c.Device.KeyFile, c.Outbox.MaxBytes)
	}
	c, err = parse(t, "device:\n  state_dir: /data/ba\n  key_file: /etc/bayagent/k.pem\noutbox:\n  path: /mnt/ob.db\n")
	if err != nil || c.Outbox.Path != "/mnt/ob.db" || c.Device.KeyFile != "/etc/bayagent/k.pem" {
		t.Errorf("explicit paths: %v %q %q", err, c.Outbox.Path, c.Device.KeyFile)
	}
}

// valid is a minimal valid file; broken cases append to or replace it.
const valid = `
device:
  id: bay1-pi
  shop: "440300123456789"
vehicle:
  interface: can:can0
uplink:
  broker: ssl://records.example.org
`

func TestMinimalValid(t *testing.T) {
	c := mustValid(t, valid)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
}

// with returns the valid file with each given section replacing the
// section of the same name, or added after it.
func with(sections ...string) string {
	base := map[string]string{
		"device":  "device:\n  id: bay1-pi\n  shop: \"440300123456789\"\n",
		"vehicle": "vehicle:\n  interface: can:can0\n",
		"uplink":  "uplink:\n  broker: ssl://records.example.org\n",
	}
	var extra []string
	for _, s := range sections {
		name, _, _ := strings.Cut(s, ":")
		if _, ok := base[name]; ok {
			base[name] = s
		} else {
			extra = append(extra, s)
		}
	}
	return base["device"] + base["vehicle"] + base["uplink"] + strings.Join(extra, "")
}

type want struct {
	field string
	line  int
	text  string // the whole Error() text, or a part of it when partial
}

func TestBrokenConfigs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		partial bool // text is a substring (messages of another package)
		kind    error
		want    []want
	}{
		{name: "unknown vehicle scheme", yaml: with("vehicle:\n  interface: serial:/dev/ttyS0\n"), kind: ErrInvalid, want: []want{
			{"vehicle.interface", 5, `vehicle.interface (line 5): unknown scheme "serial" (want can:, elm327:, udp:, mem:, replay:)`}}},
		{name: "no scheme", yaml: with("vehicle:\n  interface: /dev/ttyUSB0\n"), kind: ErrInvalid, want: []want{
			{"vehicle.interface", 5, `vehicle.interface (line 5): "/dev/ttyUSB0" has no scheme: did you mean elm327:/dev/ttyUSB0? (schemes can:, elm327:, udp:, mem:, replay:)`}}},
		{name: "bad elm327 baud", yaml: with("vehicle:\n  interface: elm327:/dev/ttyUSB0@fast\n"), partial: true, kind: ErrInvalid, want: []want{
			{"vehicle.interface", 5, `vehicle.interface (line 5): want elm327:DEVICE[@BAUD], e.g. elm327:/dev/ttyUSB0@38400: `}}},
		{name: "long can name", yaml: with("vehicle:\n  interface: can:averyveryverylongname\n"), kind: ErrInvalid, want: []want{
			{"vehicle.interface", 5, `vehicle.interface (line 5): want can:IFACE with a network interface name of at most 15 characters, e.g. can:can0, got "can:averyveryverylongname"`}}},
		{name: "id bits and protocol", yaml: with("vehicle:\n  interface: can:can0\n  id_bits: 16\n  protocol: kwp2000\n"), kind: ErrInvalid, want: []want{
			{"vehicle.id_bits", 6, `vehicle.id_bits (line 6): want 0 (detect), 11 or 29, got 16`},
			{"vehicle.protocol", 7, `vehicle.protocol (line 7): unknown protocol "kwp2000" (want auto, iso15765, j1939)`}}},
		{name: "j1939 on elm327 with 11 bits", yaml: with("vehicle:\n  interface: elm327:/dev/ttyUSB0\n  id_bits: 11\n  protocol: j1939\n"), kind: ErrInvalid, want: []want{
			{"vehicle.protocol", 7, `vehicle.protocol (line 7): j1939 needs a CAN interface (can:, udp:, mem: or replay:); the elm327 driver speaks OBD-II only`},
			{"vehicle.id_bits", 6, `vehicle.id_bits (line 6): J1939 uses 29-bit identifiers: want 0 or 29 with protocol j1939, got 11`}}},
		{name: "durations out of range", yaml: with("vehicle:\n  interface: can:can0\n  p2: 1ms\n  detect_interval: 2h\n"), kind: ErrInvalid, want: []want{
			{"vehicle.p2", 6, `vehicle.p2 (line 6): want 10ms to 5s, got 1ms`},
			{"vehicle.detect_interval", 7, `vehicle.detect_interval (line 7): want 100ms to 1m0s, got 2h0m0s`}}},
		{name: "device id and shop", yaml: with("device:\n  id: bay 1\n  shop: 4403001234\n"), partial: true, kind: ErrInvalid, want: []want{
			{"device.id", 2, `device.id (line 2): want 1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit: record: invalid field: device "bay 1": character ' ' at offset 3 not allowed`},
			{"device.shop", 3, `device.shop (line 3): want the shop's 15-digit company code in the health-record system, got "4403001234"`}}},
		{name: "relative state dir", yaml: with("device:\n  id: bay1\n  shop: \"440300123456789\"\n  state_dir: var/lib/bayagent\n"), kind: ErrInvalid, want: []want{
			{"device.state_dir", 4, `device.state_dir (line 4): want an absolute path, got "var/lib/bayagent"`},
			{"device.key_file", 0, `device.key_file: want an absolute path, got "var/lib/bayagent/device.key"`},
			{"outbox.path", 0, `outbox.path: want an absolute path, got "var/lib/bayagent/outbox.db"`}}},
		{name: "analyzer", yaml: with("analyzer:\n  interface: nha999:/dev/ttyUSB1\n  method: lug_down\n"), kind: ErrInvalid, want: []want{
			{"analyzer.interface", 9, `analyzer.interface (line 9): unknown driver "nha999" (want nha506, fla502, nha503, nha503v, mqw511, nha501a, fla501, mqw50a, fga4100, nht6, mqy200, fty100)`},
			{"analyzer.method", 10, `analyzer.method (line 10): unknown method "lug_down" (want realtime, two_speed_idle, asm, free_acceleration, or empty for the driver's default)`}}},
		{name: "analyzer method without analyzer", yaml: with("analyzer:\n  method: asm\n"), kind: ErrInvalid, want: []want{
			{"analyzer.method", 9, `analyzer.method (line 9): set but analyzer.interface is empty (no analyzer to use it)`}}},
		{name: "bayio", yaml: with("bayio:\n  button: GPIO17\n  ready: GPIO17\n  fault: GPIO 4\n"), kind: ErrInvalid, want: []want{
			{"bayio.ready", 10, `bayio.ready (line 10): pin GPIO17 is already used by bayio.button`},
			{"bayio.fault", 11, `bayio.fault (line 11): want a GPIO pin name such as GPIO17 (letters, digits, _ - .), got "GPIO 4"`}}},
		{name: "outbox too small", yaml: with("outbox:\n  max_bytes: 1000\n"), kind: ErrInvalid, want: []want{
			{"outbox.max_bytes", 9, `outbox.max_bytes (line 9): want at least 1MiB, got 1000`}}},
		{name: "qos", yaml: with("uplink:\n  broker: ssl://records.example.org\n  qos: 2\n"), kind: ErrInvalid, want: []want{
			{"uplink.qos", 8, `uplink.qos (line 8): want 1, got 2: records are published at QoS 1 (at least once) and leave the outbox only when the broker acknowledged them`}}},
		{name: "broker required", yaml: with("uplink:\n  topic_prefix: bay\n"), kind: ErrInvalid, want: []want{
			{"uplink.broker", 0, `uplink.broker: required: the health-record system's MQTT broker, e.g. ssl://records.example.org:8883 (ssl://, tls:// or mqtts://; tcp:// only with allow_plaintext)`}}},
		{name: "plain broker", yaml: with("uplink:\n  broker: tcp://records.example.org\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.broker", 7, `uplink.broker (line 7): uplink: invalid options: broker URL tcp://records.example.org is plain text: use ssl:// or set allow_plaintext`}}},
		{name: "http broker", yaml: with("uplink:\n  broker: https://records.example.org\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.broker", 7, `broker URL must be ssl://, tls://, mqtts:// or tcp:// (tcp:// only with allow_plaintext) followed by host[:port]: got scheme "https"`}}},
		{name: "several uplink problems", yaml: with("uplink:\n  broker: ssl://b.example.org\n  topic_prefix: a/#\n  keepalive: 100ms\n  inflight: 20000\n  password_env: NOT_SET_ANYWHERE\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.topic_prefix", 8, `uplink.topic_prefix (line 8): uplink: invalid options: prefix must not contain the wildcards + or #: "a/#"`},
			{"uplink.keepalive", 9, `uplink.keepalive (line 9): uplink: invalid options: keep-alive must be at least 1s: 100ms`},
			{"uplink.inflight", 10, `uplink.inflight (line 10): uplink: invalid options: in-flight window must be between 1 and 10000: 20000`},
			{"uplink.password_env", 11, `uplink.password_env (line 11): uplink: invalid options: password_env NOT_SET_ANYWHERE is set but username is empty`}}},
		{name: "password env unset", yaml: with("uplink:\n  broker: ssl://b.example.org\n  username: u\n  password_env: NOT_SET_ANYWHERE\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.password_env", 9, `uplink.password_env (line 9): uplink: invalid options: password_env: environment variable NOT_SET_ANYWHERE is not set`}}},
		{name: "cert without key and missing ca", yaml: with("uplink:\n  broker: ssl://b.example.org\n  cert_file: /nonexistent/c.crt\n  ca_file: /nonexistent/ca.pem\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.ca_file", 9, `uplink.ca_file (line 9): uplink: invalid options: ca_file: open /nonexistent/ca.pem: no such file or directory`},
			{"uplink.cert_file", 8, `uplink.cert_file (line 8): uplink: invalid options: cert_file and key_file must be given together`}}},
		{name: "ca file with plain broker", yaml: with("uplink:\n  broker: tcp://localhost\n  allow_plaintext: true\n  ca_file: /etc/ssl/ca.pem\n"), partial: true, kind: uplink.ErrOptions, want: []want{
			{"uplink.ca_file", 9, `uplink.ca_file (line 9): uplink: invalid options: ca_file, cert_file and key_file need a TLS broker URL (ssl://), got tcp://`}}},
		{name: "live, health record and log", yaml: with("live:\n  max_rate_hz: 0\n  max_duration: 48h\nhealthrecord:\n  part_name_max: 5000\nlog:\n  level: verbose\n  format: xml\n"), kind: ErrInvalid, want: []want{
			{"live.max_rate_hz", 9, `live.max_rate_hz (line 9): want 1 to 10, got 0`},
			{"live.max_duration", 10, `live.max_duration (line 10): want 1s to 30m0s, got 48h0m0s`},
			{"healthrecord.part_name_max", 12, `healthrecord.part_name_max (line 12): want 1 to 1000, got 5000`},
			{"log.level", 14, `log.level (line 14): unknown value "verbose" (want debug, info, warn, error)`},
			{"log.format", 15, `log.format (line 15): unknown value "xml" (want text, json)`}}},
		{name: "company name with control character", yaml: with("device:\n  id: bay1\n  shop: \"440300123456789\"\n  company_name: \"A\\tB\"\n"), kind: ErrInvalid, want: []want{
			{"device.company_name", 4, `device.company_name (line 4): must not contain control characters, got "A\tB"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.yaml)
			err := c.Validate()
			got := problems(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Field != w.field || g.Line != w.line {
					t.Errorf("problem %d: field %q line %d, want %q line %d", i, g.Field, g.Line, w.field, w.line)
				}
				if tc.partial && !strings.Contains(g.Error(), w.text) || !tc.partial && g.Error() != w.text {
					t.Errorf("problem %d:\n got %s\nwant %s", i, g.Error(), w.text)
				}
				if !errors.Is(g, ErrInvalid) || !errors.Is(g, tc.kind) {
					t.Errorf("problem %d: %v does not match ErrInvalid and %v", i, g, tc.kind)
				}
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("joined error does not match ErrInvalid")
			}
		})
	}
}

func TestOutboxBoundOn32Bit(t *testing.T) {
	for _, tc := range []struct {
		size, shown string
		bits32      bool
		ok          bool
	}{
		{"512MiB", "", true, true},
		{"513MiB", "513MiB", true, false},
		{"1GB", "1000000000", true, false},
		{"1GB", "", false, true},
		{"8GiB", "", false, true},
	} {
		c := mustParse(t, with("outbox:\n  max_bytes: "+tc.size+"\n"))
		err := c.validate(tc.bits32)
		if (err == nil) != tc.ok {
			t.Errorf("%s on 32-bit=%v: %v", tc.size, tc.bits32, err)
		}
		if err != nil && !strings.Contains(err.Error(), "outbox.max_bytes (line 9): want at most 512MiB on a 32-bit system, got "+tc.shown+": bbolt maps the whole outbox file") {
			t.Errorf("message: %v", err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		kind error
		want []want
	}{
		{"unknown keys", "device:\n  id: x\n  shp: \"1\"\nvehicel:\n  interface: can:can0\n", ErrUnknownKey, []want{
			{"device.shp", 3, `device.shp (line 3): unknown key (keys of device: id, shop, company_name, bay, state_dir, key_file)`},
			{"vehicel", 4, `vehicel (line 4): unknown key (sections: device, vehicle, analyzer, bayio, outbox, uplink, live, healthrecord, screen, precheck, log)`}}},
		{"password in file", "uplink:\n  broker: ssl://x\n  password: hunter2\n", ErrSecret, []want{
			{"uplink.password", 3, `uplink.password (line 3): the password must not be in the configuration file: put it in an environment variable (for example in a systemd EnvironmentFile readable only by root) and give that variable's name in uplink.password_env`}}},
		{"unset variable", "device:\n  id: ${NOPE}\n  bay: ${BAYAGENT_SHOP}-${ALSO_NOPE}\n", ErrEnv, []want{
			{"device.id", 2, `device.id (line 2): config: environment variable: NOPE is not set (referenced as ${NOPE})`},
			{"device.bay", 3, `device.bay (line 3): config: environment variable: ALSO_NOPE is not set (referenced as ${ALSO_NOPE})`}}},
		{"bad variable syntax", "device:\n  id: ${1X}\n  bay: ab${CD\n", ErrEnv, []want{
			{"device.id", 2, `device.id (line 2): config: environment variable: bad variable name "1X" in ${...} (want letters, digits and _, not starting with a digit)`},
			{"device.bay", 3, `device.bay (line 3): config: environment variable: unterminated ${ in "ab${CD"`}}},
		{"wrong types", "vehicle:\n  id_bits: eleven\n  p2: 50\nuplink:\n  allow_plaintext: yes please\noutbox:\n  max_bytes: 64 parsecs\n", ErrInvalid, []want{
			{"vehicle.id_bits", 2, `vehicle.id_bits (line 2): want a whole number, got "eleven"`},
			{"vehicle.p2", 3, `vehicle.p2 (line 3): want a duration such as 2s, 500ms or 10m (units ns, us, ms, s, m, h), got "50"`},
			{"uplink.allow_plaintext", 5, `uplink.allow_plaintext (line 5): want true or false, got "yes please"`},
			{"outbox.max_bytes", 7, `outbox.max_bytes (line 7): want a size such as 64MiB, 1GB or 1048576 (units B, KB, MB, GB, KiB, MiB, GiB), got "64 parsecs"`}}},
		{"section not a mapping", "device: bay1\nbayio:\n  - GPIO17\n", ErrSyntax, []want{
			{"device", 1, `device (line 1): want a mapping of keys (id, shop, company_name, bay, state_dir, key_file), got a value`},
			{"bayio", 3, `bayio (line 3): want a mapping of keys (button, ready, vehicle, stored, offline, fault, buzzer, button_active_high), got a list`}}},
		{"value not scalar", "device:\n  id: [a, b]\n", ErrInvalid, []want{
			{"device.id", 2, `device.id (line 2): want a single value, got a list`}}},
		{"top level list", "- a\n- b\n", ErrSyntax, []want{
			{"", 1, `config (line 1): want a mapping of sections, got a list`}}},
		{"two documents", "device:\n  id: a\n---\ndevice:\n  id: b\n", ErrSyntax, []want{
			{"", 0, `config: want exactly one YAML document (remove the second "---")`}}},
		{"syntax", "device:\n  id: a\n bad\n", ErrSyntax, []want{
			{"", 0, `config: not valid YAML: yaml: line 2: did not find expected key`}}},
		{"duplicate key", "device:\n  id: a\n  id: b\n", ErrSyntax, []want{
			{"device.id", 3, `device.id (line 3): given twice (first at line 2)`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.yaml)
			if c != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want an error", c, err)
			}
			got := problems(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if got[i].Field != w.field || got[i].Line != w.line || got[i].Error() != w.text {
					t.Errorf("problem %d:\n got %q line %d: %s\nwant %q line %d: %s", i, got[i].Field, got[i].Line, got[i].Error(), w.field, w.line, w.text)
				}
				if !errors.Is(got[i], tc.kind) {
					t.Errorf("problem %d does not match %v", i, tc.kind)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := strings.Repeat("# padding\n", MaxFileBytes/10+1)
	_, err := parse(t, big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// Expanded values are text, never YAML: a variable cannot add keys, and
// typed keys read the expanded text.
func TestExpansion(t *testing.T) {
	env := map[string]string{
		"INJECT": "x\n  password: hunter2",
		"BITS":   "29",
		"SIZE":   "128MiB",
		"EMPTY":  "",
		"ON":     "true",
	}
	c, err := ParseEnv(strings.NewReader(`
device:
  bay: "${INJECT}"
  company_name: pre-${EMPTY}-$HOME-$${BITS}
vehicle:
  id_bits: ${BITS}
outbox:
  max_bytes: ${SIZE}
uplink:
  allow_plaintext: ${ON}
`), lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.Bay != env["INJECT"] || c.Uplink.AllowPlaintext != true || c.Vehicle.IDBits != 29 || c.Outbox.MaxBytes != 128<<20 {
		t.Errorf("got %+v", c)
	}
	if c.Device.CompanyName != "pre--$HOME-$29" {
		t.Errorf("company_name = %q", c.Device.CompanyName)
	}
	if _, err := Parse(strings.NewReader("device:\n  id: ${BAYAGENT_TEST_SURELY_UNSET_VAR}\n")); !errors.Is(err, ErrEnv) {
		t.Errorf("Parse reads the process environment: %v", err)
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"64MiB", 64 << 20, true},
		{"64 mib", 64 << 20, true},
		{"1GB", 1e9, true},
		{"512KiB", 512 << 10, true},
		{"10kb", 10000, true},
		{"7B", 7, true},
		{"2GiB", 2 << 30, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"99999999999999GiB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v ok=%v", tc.in, int64(got), err, int64(tc.want), tc.ok)
		}
	}
	for s, want := range map[Size]string{64 << 20: "64MiB", 1 << 30: "1GiB", 1000: "1000", 0: "0", 3 << 10: "3KiB"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int64(s), s.String(), want)
		}
	}
}

func TestLogValueHasNoSecrets(t *testing.T) {
	c := mustValid(t, with("uplink:\n  broker: ssl://records.example.org\n  username: ${BAYAGENT_MQTT_USERNAME}\n  password_env: BAYAGENT_MQTT_PASSWORD\n"))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{boxEnv["BAYAGENT_MQTT_PASSWORD"], `"username":"bay1"`} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q: %s", secret, out)
		}
	}
	for _, shown := range []string{`"password_env":"BAYAGENT_MQTT_PASSWORD"`, `"broker":"ssl://records.example.org"`, `"id":"bay1-pi"`, `"max_bytes":"64MiB"`, `"username":"(set)"`} {
		if !strings.Contains(out, shown) {
			t.Errorf("log lacks %s: %s", shown, out)
		}
	}
}

func TestWarnings(t *testing.T) {
	c := mustValid(t, with("uplink:\n  broker: tcp://localhost\n  allow_plaintext: true\n  insecure_skip_verify: true\n  skip_write_probe: true\n"))
	w := c.Warnings()
	if len(w) != 3 || !strings.HasPrefix(w[0], "uplink.insecure_skip_verify") || !strings.HasPrefix(w[1], "uplink.broker is plain") || !strings.HasPrefix(w[2], "uplink.skip_write_probe") {
		t.Errorf("warnings: %q", w)
	}
}

// With real certificate files, the uplink's check reads them and the
// options reach uplink.New unchanged.
func TestUplinkOptionsWithTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := mosquittotest.NewCA(t, dir, "ca")
	cert, key := ca.Issue(t, dir, "client", "bay1-pi", false)
	env := map[string]string{"CA": ca.File, "CERT": cert, "KEY": key, "PW": "pw"}
	c, err := ParseEnv(strings.NewReader(with("uplink:\n  broker: mqtts://b.example.org:9883\n  ca_file: ${CA}\n  cert_file: ${CERT}\n  key_file: ${KEY}\n  username: u\n  password_env: PW\n  client_id: box-1\n  topic_prefix: hr/v1\n  keepalive: 45s\n  inflight: 8\n  max_payload: 256KiB\n")), lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.UplinkOptions()
	if o.Broker != "mqtts://b.example.org:9883" || o.CAFile != ca.File || o.CertFile != cert || o.KeyFile != key ||
		o.Shop != "440300123456789" || o.Device != "bay1-pi" || o.ClientID != "box-1" || o.Prefix != "hr/v1" ||
		o.KeepAlive != 45*time.Second || o.InFlight != 8 || o.MaxPayload != 256<<10 || o.PasswordEnv != "PW" {
		t.Errorf("options: %+v", o)
	}
	if pw, ok := o.LookupEnv("PW"); !ok || pw != "pw" {
		t.Errorf("LookupEnv is not the parse environment")
	}
	// A file that holds no certificate is refused by the uplink's check.
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Uplink.CAFile = bad
	p := problems(t, c.Validate())
	if len(p) != 1 || p[0].Field != "uplink.ca_file" || !errors.Is(p[0], uplink.ErrOptions) {
		t.Errorf("bad CA file: %v", p)
	}
}

func TestOtherOptions(t *testing.T) {
	c := mustParse(t, with("vehicle:\n  interface: can:can0\n  id_bits: 29\n  p2: 100ms\n", "analyzer:\n  interface: nht6:/dev/ttyUSB1\n  method: free_acceleration\n", "outbox:\n  max_bytes: 32MiB\n", "log:\n  level: debug\n  format: json\n"))
	if v := c.VehicleOptions(); v.IDBits != 29 || v.P2 != 100*time.Millisecond {
		t.Errorf("vehicle options %+v", v)
	}
	if a := c.AnalyzerOptions(); a.Method != "free_acceleration" {
		t.Errorf("analyzer options %+v", a)
	}
	if o := c.OutboxOptions(); o.MaxBytes != 32<<20 {
		t.Errorf("outbox options %+v", o)
	}
	var buf bytes.Buffer
	slog.New(c.Log.NewHandler(&buf)).Debug("hello")
	if !strings.HasPrefix(buf.String(), `{"time":`) || !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Errorf("log handler wrote %q", buf.String())
	}
	for lvl, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := (Log{Level: lvl}).SlogLevel(); got != want {
			t.Errorf("%s: %v", lvl, got)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(valid), 0o640); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(good); err != nil || c.Device.ID != "bay1-pi" {
		t.Fatalf("Load: %v", err)
	}
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte(with("uplink:\n  broker: ssl://b\n  qos: 0\n")), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := Load(broken)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "uplink.qos (line 8)") {
		t.Errorf("Load(broken) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

// A configuration written out with yaml.Marshal (e.g. to show the
// effective settings) reads back the same.
func TestMarshalRoundTrip(t *testing.T) {
	c := mustParse(t, with("analyzer:\n  interface: nha506:/dev/ttyUSB0\n", "bayio:\n  button: GPIO17\n  button_active_high: true\n"))
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := parse(t, string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	back.lines, c.lines, back.lookupEnv, c.lookupEnv = nil, nil, nil, nil
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\n%+v\n%+v\n%s", back, c, out)
	}
	if !strings.Contains(string(out), "max_bytes: 64MiB") || !strings.Contains(string(out), "detect_interval: 2s") {
		t.Errorf("sizes and durations not written as text:\n%s", out)
	}
}

// TestBaySameRuleAsCommands: a device.bay that passes the configuration
// check is one every command accepts as its "bay", and one refused by the
// commands is refused here ("Bay 3" used to pass run --check and then
// make every open_job fail).
func TestBaySameRuleAsCommands(t *testing.T) {
	for _, bay := range []string{"3", "bay3", "B-3.left_1", "Bay 3", "工位3", "-3", strings.Repeat("b", 32), strings.Repeat("b", 33)} {
		c := mustParse(t, with("device:\n  id: bay1-pi\n  shop: \"440300123456789\"\n  bay: \""+bay+"\"\n"))
		cfgErr := c.Validate()
		args, _ := json.Marshal(map[string]string{"bay": bay})
		_, cmdErr := command.Decode(command.StartScan, args)
		if (cfgErr == nil) != (cmdErr == nil) {
			t.Errorf("bay %q: config check %v, command check %v", bay, cfgErr, cmdErr)
		}
		if cfgErr != nil && !strings.Contains(cfgErr.Error(), "device.bay") {
			t.Errorf("bay %q: %v does not name device.bay", bay, cfgErr)
		}
	}
}
