// Package config reads the agent's configuration file.
//
// It starts from the defaults, reads the YAML file, with ${VAR} references to
// environment variables expanded in values, then Validate reports every
// problem at once, each naming the key and the values it allows.
//
// # The file
//
// Every key is optional except device.id, device.shop, vehicle.interface and
// uplink.broker; an absent or empty key keeps its default. Unknown keys are
// errors (a typo must not silently fall back to a default). The
// firmware-config/ directory holds one commented file per supported board;
// this is the whole vocabulary with the defaults:
//
//	device:
//	  id: bay3-pi                 # required; 1-64 of A-Z a-z 0-9 . _ -, unique per box
//	  shop: "440300123456789"     # required; the 15-digit company code (quote it)
//	  company_name: ""            # the shop's registered name, for health records
//	  bay: ""                     # the bay's label, shown in the status
//	  state_dir: /var/lib/bayagent
//	  key_file: ""                # default <state_dir>/device.key; the agent generates it (0600)
//	vehicle:
//	  interface: can:can0         # can:IFACE | udp:GROUP:PORT | mem:NAME | replay:FILE | elm327:DEV[@BAUD]
//	  id_bits: 0                  # 0 (detect), 11 or 29 (CAN identifier length)
//	  protocol: auto              # auto | iso15765 | j1939
//	  p2: 50ms                    # ECU response window (10ms-5s)
//	  detect_interval: 2s         # how often to look for a plugged-in vehicle
//	analyzer:
//	  interface: ""               # none, or DRIVER:DEV[@BAUD], e.g. nha506:/dev/ttyUSB1
//	  method: ""                  # the driver's default, or realtime | two_speed_idle | asm | free_acceleration
//	bayio:                        # GPIO pin names (e.g. GPIO17); every one optional
//	  button: ""
//	  ready: ""                   # LED: agent running
//	  vehicle: ""                 # LED: vehicle connected
//	  stored: ""                  # LED: last record stored
//	  offline: ""                 # LED: broker unreachable
//	  fault: ""                   # LED: fault (outbox full, device error)
//	  buzzer: ""
//	  button_active_high: false   # false: the button pulls the line to ground (pull-up on)
//	outbox:
//	  path: ""                    # default <state_dir>/outbox.db
//	  max_bytes: 64MiB            # 1MiB and up; at most 512MiB on 32-bit ARM
//	  archive_max_bytes: 64MiB    # acknowledged records kept for resend (within max_bytes); 0 = none
//	  archive_max_age: 720h       # archived records sealed longer ago are dropped; 0 = no limit
//	uplink:
//	  broker: ssl://records.example.org:8883   # required; ssl:// tls:// mqtts://, tcp:// only with allow_plaintext
//	  topic_prefix: bayagent
//	  client_id: ""               # default bayagent-<shop>-<device id>
//	  ca_file: ""                 # PEM CAs for the broker; default the system roots
//	  cert_file: ""               # client certificate (mTLS), with key_file
//	  key_file: ""
//	  server_name: ""             # name checked in the broker's certificate; default the broker host
//	  username: ""
//	  password_env: ""            # NAME of the environment variable holding the password
//	  allow_plaintext: false      # development only
//	  insecure_skip_verify: false # development only
//	  skip_write_probe: false     # for brokers that do not let the device read its status topic
//	  qos: 1                      # records are always published at QoS 1
//	  keepalive: 30s
//	  inflight: 512               # records published and not yet acknowledged (1-10000)
//	  max_payload: 0              # largest record; 0 = the MQTT maximum; set to the broker's limit
//	  command_keys: []            # operator keys that must sign commands changing the vehicle or a job:
//	                              # - {name: ops-1, public_key: <base64 ed25519>}; none: commands need no signature
//	live:
//	  max_rate_hz: 10             # live feed samples per second (1-10)
//	  max_duration: 10m           # a live feed stops by itself after this (1s-30m)
//	healthrecord:
//	  part_name_max: 50           # part names are cut to this many characters (1-1000)
//	screen:                       # the bay screen (package web); off unless listen is set
//	  listen: ""                  # host:port, e.g. ":8080"
//	  cert_file: ""               # HTTPS with the box's certificate and key
//	  key_file: ""
//	  pin_file: ""                # default <state_dir>/screen.pin; set with `bayagent screen pin`
//	  lang: zh-CN                 # zh-CN | en, for browsers that ask for neither
//	  job_actions: false          # open, close and cancel jobs from the page
//	  session_ttl: 12h            # how long a login lasts (1m-168h)
//	precheck:                     # the I/M OBD pre-check (package findings): fail | not_ready | advise | off
//	  no_communication: fail
//	  mil_on: fail
//	  permanent_dtcs: not_ready
//	  readiness: not_ready
//	  readiness_allowed: 0        # incomplete monitors that still pass (0-16)
//	  readiness_exempt: ""        # monitors not counted, e.g. "evap, secondary_air"
//	  vin_mismatch: fail
//	  vin_missing: advise
//	  inducement: fail            # an active J1939 SCR inducement code
//	  inducement_spns: "5245, 5246"
//	  scr_spns: "1761, 3031, 3361, 3364, 4094, 4096, 4334, 4364, 5394"
//	log:
//	  level: info                 # debug | info | warn | error
//	  format: text                # text | json
//
// Durations are Go duration strings; sizes are integers (bytes) or carry a
// unit (see Size).
//
// # Environment variables
//
// A value may hold ${NAME} references (NAME is letters, digits and _, not
// starting with a digit), replaced by the variable's value before the value
// is read; an unset variable is an error. Only values are expanded, never
// keys or comments, and an expanded value is never parsed as YAML, so a
// variable cannot add keys. Other '$' characters are kept as they are.
//
// # Secrets
//
// The file never holds a secret. The MQTT password comes from the
// environment variable that uplink.password_env names (a "password" key is
// refused); keys and certificates are files named by their paths, read by
// the uplink when it starts. Config's LogValue logs the configuration
// without any secret.
package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"go.yaml.in/yaml/v3"
)

// Defaults.
const (
	DefaultStateDir       = "/var/lib/bayagent"
	DefaultKeyName        = "device.key"
	DefaultOutboxName     = "outbox.db"
	DefaultMaxBytes       = Size(64 << 20)
	DefaultArchiveBytes   = Size(64 << 20)
	DefaultArchiveAge     = Duration(30 * 24 * time.Hour)
	DefaultDetectInterval = Duration(2 * time.Second)
	DefaultP2             = Duration(50 * time.Millisecond)
	DefaultTopicPrefix    = "bayagent"
	DefaultKeepAlive      = Duration(30 * time.Second)
	DefaultInFlight       = 512
	DefaultLiveRateHz     = 10
	DefaultLiveDuration   = Duration(10 * time.Minute)
	DefaultPartNameMax    = 50
	// MaxFileBytes is the largest configuration file Parse reads.
	MaxFileBytes = 1 << 20
	// MaxBytes32 is the largest outbox.max_bytes accepted on 32-bit
	// systems (see Outbox.MaxBytes).
	MaxBytes32 = Size(512 << 20)
)

// Config is the agent's configuration. Build one with Default, Parse or
// Load; a Config from Parse remembers the line of every key so that
// Validate can point at it.
type Config struct {
	Device       Device       `yaml:"device"`
	Vehicle      Vehicle      `yaml:"vehicle"`
	Analyzer     Analyzer     `yaml:"analyzer"`
	BayIO        BayIO        `yaml:"bayio"`
	Outbox       Outbox       `yaml:"outbox"`
	Uplink       Uplink       `yaml:"uplink"`
	Live         Live         `yaml:"live"`
	HealthRecord HealthRecord `yaml:"healthrecord"`
	Screen       Screen       `yaml:"screen"`
	Precheck     Precheck     `yaml:"precheck"`
	Log          Log          `yaml:"log"`

	lookupEnv func(string) (string, bool) // for uplink.password_env
	lines     map[string]int              // key path -> line in the file
}

// Device identifies the box and where it keeps its state.
type Device struct {
	// ID is the device id in records and topics (record.ValidDevice).
	ID string `yaml:"id"`
	// Shop is the 15-digit company code of the repair shop in the
	// health-record system.
	Shop string `yaml:"shop"`
	// CompanyName is the shop's registered name.
	CompanyName string `yaml:"company_name"`
	// Bay labels the bay this box serves.
	Bay string `yaml:"bay"`
	// StateDir holds the key, the outbox and other state (absolute).
	StateDir string `yaml:"state_dir"`
	// KeyFile is the device's ed25519 signing key (package devicekey),
	// created by the agent on first start. Default <StateDir>/device.key.
	KeyFile string `yaml:"key_file"`
}

// Vehicle configures the vehicle interface.
type Vehicle struct {
	// Interface is the address of the vehicle interface: can:IFACE
	// (SocketCAN), udp:GROUP:PORT (einride's emulator on loopback),
	// mem:NAME (in-process bus), replay:FILE (candump log) or
	// elm327:DEVICE[@BAUD] (an ELM327 on a serial line).
	Interface string `yaml:"interface"`
	// IDBits is 11 or 29 to fix the CAN identifier length, 0 to detect.
	IDBits int `yaml:"id_bits"`
	// Protocol is "auto", "iso15765" (OBD-II on CAN) or "j1939" (heavy
	// diesel; needs a CAN interface and 29-bit identifiers).
	Protocol string `yaml:"protocol"`
	// P2 is the ECU response window.
	P2 Duration `yaml:"p2"`
	// DetectInterval is how often the agent looks for a plugged-in vehicle.
	DetectInterval Duration `yaml:"detect_interval"`
}

// Analyzer configures the optional exhaust analyzer or opacimeter.
type Analyzer struct {
	// Interface is "" (none) or an analyzer.Open address
	// DRIVER:DEVICE[@BAUD], e.g. nha506:/dev/ttyUSB1.
	Interface string `yaml:"interface"`
	// Method is the test method stamped on readings ("" = the driver's
	// default): realtime, two_speed_idle, asm or free_acceleration.
	Method string `yaml:"method"`
	// Procedures is a YAML file with the emission test procedures' numbers
	// and the limit sets (package emission, LoadConfig; example in
	// testdata/emission/procedures.yaml); "" uses the built-in defaults,
	// which are unverified recollections of GB 18285 / GB 3847.
	Procedures string `yaml:"procedures"`
}

// BayIO names the GPIO pins of the bay's button, lights and buzzer, as
// periph.io names them (e.g. "GPIO17"). An empty name means not fitted.
type BayIO struct {
	Button  string `yaml:"button"`
	Ready   string `yaml:"ready"`
	Vehicle string `yaml:"vehicle"`
	Stored  string `yaml:"stored"`
	Offline string `yaml:"offline"`
	Fault   string `yaml:"fault"`
	Buzzer  string `yaml:"buzzer"`
	// ButtonActiveHigh: the button connects the line to 3.3 V when pressed
	// (pull-down). The default is the usual wiring: the button connects the
	// line to ground, with the pull-up on. LEDs and the buzzer are driven
	// high to light or sound.
	ButtonActiveHigh bool `yaml:"button_active_high"`
}

// Outbox configures the durable record buffer (package outbox).
type Outbox struct {
	// Path is the bbolt file. Default <state_dir>/outbox.db.
	Path string `yaml:"path"`
	// MaxBytes bounds the stored records. On 32-bit systems at most
	// MaxBytes32: bbolt maps the whole file into the process's address
	// space, and the file grows beyond the live data.
	MaxBytes Size `yaml:"max_bytes"`
	// ArchiveMaxBytes bounds the archive of acknowledged records kept for
	// `resend`; 0 keeps none. The archive lives within MaxBytes (a larger
	// value is capped to it): the oldest archived records make room for
	// new ones.
	ArchiveMaxBytes Size `yaml:"archive_max_bytes"`
	// ArchiveMaxAge drops archived records sealed longer ago; 0 sets no
	// age limit.
	ArchiveMaxAge Duration `yaml:"archive_max_age"`
}

// Uplink configures the MQTT connection to the health-record system; its
// fields mirror uplink.Options (see UplinkOptions).
type Uplink struct {
	Broker             string   `yaml:"broker"`
	TopicPrefix        string   `yaml:"topic_prefix"`
	ClientID           string   `yaml:"client_id"`
	CAFile             string   `yaml:"ca_file"`
	CertFile           string   `yaml:"cert_file"`
	KeyFile            string   `yaml:"key_file"`
	ServerName         string   `yaml:"server_name"`
	Username           string   `yaml:"username"`
	PasswordEnv        string   `yaml:"password_env"`
	AllowPlaintext     bool     `yaml:"allow_plaintext"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	SkipWriteProbe     bool     `yaml:"skip_write_probe"`
	QoS                int      `yaml:"qos"`
	KeepAlive          Duration `yaml:"keepalive"`
	InFlight           int      `yaml:"inflight"`
	MaxPayload         Size     `yaml:"max_payload"`
	// CommandKeys are the operator keys a command that changes the
	// vehicle or a job must be signed by (see package command); none: no
	// signature is asked for.
	CommandKeys []CommandKey `yaml:"command_keys"`
}

// CommandKey is one operator's public key: a name (what a signed command
// names in "key") and the ed25519 public key in standard base64.
type CommandKey struct {
	Name      string `yaml:"name"`
	PublicKey string `yaml:"public_key"`
}

// CommandPublicKeys returns the operator keys by name; keys that do not
// parse are left out (Validate reports them).
func (u Uplink) CommandPublicKeys() map[string]ed25519.PublicKey {
	out := map[string]ed25519.PublicKey{}
	for _, k := range u.CommandKeys {
		if b, err := base64.StdEncoding.Strict().DecodeString(k.PublicKey); err == nil && len(b) == ed25519.PublicKeySize {
			out[k.Name] = b
		}
	}
	return out
}

// Live bounds the live data feed for remote diagnosis.
type Live struct {
	MaxRateHz   int      `yaml:"max_rate_hz"`
	MaxDuration Duration `yaml:"max_duration"`
}

// HealthRecord holds limits of the health-record system's data elements.
type HealthRecord struct {
	// PartNameMax is the length parts' names are cut to (characters).
	PartNameMax int `yaml:"part_name_max"`
}

// Log configures the agent's log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// defaults returns the defaults without the values derived from others.
func defaults() *Config {
	return &Config{
		Device:       Device{StateDir: DefaultStateDir},
		Vehicle:      Vehicle{Protocol: "auto", P2: DefaultP2, DetectInterval: DefaultDetectInterval},
		Outbox:       Outbox{MaxBytes: DefaultMaxBytes, ArchiveMaxBytes: DefaultArchiveBytes, ArchiveMaxAge: DefaultArchiveAge},
		Uplink:       Uplink{TopicPrefix: DefaultTopicPrefix, QoS: 1, KeepAlive: DefaultKeepAlive, InFlight: DefaultInFlight},
		Live:         Live{MaxRateHz: DefaultLiveRateHz, MaxDuration: DefaultLiveDuration},
		HealthRecord: HealthRecord{PartNameMax: DefaultPartNameMax},
		Screen:       Screen{Lang: string(i18n.Chinese), SessionTTL: DefaultSessionTTL},
		Precheck:     defaultPrecheck(),
		Log:          Log{Level: "info", Format: "text"},
		lookupEnv:    os.LookupEnv,
	}
}

// fillDerived sets the paths that default to a place in the state directory.
func (c *Config) fillDerived() {
	if c.Device.KeyFile == "" && c.Device.StateDir != "" {
		c.Device.KeyFile = filepath.Join(c.Device.StateDir, DefaultKeyName)
	}
	if c.Outbox.Path == "" && c.Device.StateDir != "" {
		c.Outbox.Path = filepath.Join(c.Device.StateDir, DefaultOutboxName)
	}
	c.screenPIN()
}

// Default returns the default configuration. It does not validate: the
// device identity, the vehicle interface and the broker have no default.
func Default() *Config {
	c := defaults()
	c.fillDerived()
	return c
}

// Parse reads a configuration file from r: the defaults, overridden by the
// file's values, with ${VAR} expanded from the process environment. It
// reports every problem of form (YAML syntax, unknown keys, values of the
// wrong type, unset variables) at once, as *FieldError values joined with
// errors.Join; it does not Validate.
func Parse(r io.Reader) (*Config, error) { return ParseEnv(r, os.LookupEnv) }

// ParseEnv is Parse with the environment read through lookup, which is also
// what Validate and UplinkOptions use for uplink.password_env.
func ParseEnv(r io.Reader, lookup func(string) (string, bool)) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, &FieldError{Msg: fmt.Sprintf("larger than %d bytes", MaxFileBytes), kind: ErrTooLarge}
	}
	c := defaults()
	c.lookupEnv = lookup
	c.lines = make(map[string]int)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty file: the defaults
		c.fillDerived()
		return c, nil
	case err != nil:
		return nil, &FieldError{Msg: "not valid YAML", Err: err, kind: ErrSyntax}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &FieldError{Msg: "want exactly one YAML document (remove the second \"---\")", kind: ErrSyntax}
	}
	p := parser{lookup: lookup, lines: c.lines}
	p.document(&doc, c)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	c.fillDerived()
	return c, nil
}

// Load reads, parses and validates the configuration file at path, with
// the process environment.
func Load(path string) (*Config, error) { return LoadEnv(path, os.LookupEnv) }

// LoadEnv is Load with the environment read through lookup (see
// EnvLookup).
func LoadEnv(path string, lookup func(string) (string, bool)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := ParseEnv(f, lookup)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return c, nil
}

// line returns the line of the key at path in the parsed file, or 0.
func (c *Config) line(path string) int { return c.lines[path] }

// LogValue logs the configuration without secrets. The file holds none
// (the password is only named, keys are only paths), so this lists the
// settings an operator needs to see; the username is shown only as set or
// not.
func (c *Config) LogValue() slog.Value {
	set := func(s string) string {
		if s == "" {
			return ""
		}
		return "(set)"
	}
	return slog.GroupValue(
		slog.Group("device", "id", c.Device.ID, "shop", c.Device.Shop, "bay", c.Device.Bay,
			"state_dir", c.Device.StateDir, "key_file", c.Device.KeyFile),
		slog.Group("vehicle", "interface", c.Vehicle.Interface, "id_bits", c.Vehicle.IDBits,
			"protocol", c.Vehicle.Protocol, "p2", c.Vehicle.P2.String(), "detect_interval", c.Vehicle.DetectInterval.String()),
		slog.Group("analyzer", "interface", c.Analyzer.Interface, "method", c.Analyzer.Method, "procedures", c.Analyzer.Procedures),
		slog.Group("bayio", "button", c.BayIO.Button, "ready", c.BayIO.Ready, "vehicle", c.BayIO.Vehicle,
			"stored", c.BayIO.Stored, "offline", c.BayIO.Offline, "fault", c.BayIO.Fault, "buzzer", c.BayIO.Buzzer,
			"button_active_high", c.BayIO.ButtonActiveHigh),
		slog.Group("outbox", "path", c.Outbox.Path, "max_bytes", c.Outbox.MaxBytes.String()),
		slog.Group("uplink", "broker", c.Uplink.Broker, "topic_prefix", c.Uplink.TopicPrefix,
			"client_id", c.Uplink.ClientID, "ca_file", c.Uplink.CAFile, "cert_file", c.Uplink.CertFile,
			"key_file", c.Uplink.KeyFile, "username", set(c.Uplink.Username), "password_env", c.Uplink.PasswordEnv,
			"allow_plaintext", c.Uplink.AllowPlaintext, "insecure_skip_verify", c.Uplink.InsecureSkipVerify,
			"skip_write_probe", c.Uplink.SkipWriteProbe),
		slog.Group("live", "max_rate_hz", c.Live.MaxRateHz, "max_duration", c.Live.MaxDuration.String()),
		slog.Group("healthrecord", "part_name_max", c.HealthRecord.PartNameMax),
		slog.Group("screen", "listen", c.Screen.Listen, "cert_file", c.Screen.CertFile, "pin_file", c.Screen.PINFile,
			"lang", c.Screen.Lang, "job_actions", c.Screen.JobActions),
		slog.Group("log", "level", c.Log.Level, "format", c.Log.Format),
	)
}
