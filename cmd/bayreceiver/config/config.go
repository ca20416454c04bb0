// Package config is the receiver's configuration file (YAML).
//
// It has the defaults, Parse, Validate with one error per problem naming the
// key, and the options it gives the receiver's parts.
//
// A complete file, with the defaults:
//
//	receiver:
//	  id: ""                      # names this receiver (leases, resend ids); default the MQTT client id
//	  listen: 127.0.0.1:9181      # status and /metrics over HTTP; "" for none
//	mqtt:
//	  broker: ssl://broker.example.org:8883    # required; tcp:// only with allow_plaintext
//	  client_id: ""               # required, one per receiver (its persistent session)
//	  topic_prefix: bayagent
//	  share_group: ""             # receivers sharing the load: the same group name
//	  ca_file: ""                 # PEM CAs for the broker; default the system roots
//	  cert_file: ""               # client certificate (mTLS), with key_file
//	  key_file: ""
//	  server_name: ""
//	  username: ""
//	  password_env: ""            # NAME of the environment variable holding the password
//	  allow_plaintext: false      # development only
//	  insecure_skip_verify: false # development only
//	keys:
//	  dir: ""                     # device.key.pub.json files of the enrolled boxes (also: bayreceiver enroll)
//	store:
//	  driver: bbolt               # bbolt (one receiver) or postgres (several)
//	  path: /var/lib/bayreceiver/receiver.db   # bbolt
//	  dsn_env: ""                 # postgres: NAME of the variable holding the connection string
//	chain:
//	  gap_timeout: 30s            # a gap open this long is asked for with resend
//	  resend_interval: 1m         # then again after this, doubling
//	  resend_max_interval: 30m
//	upload:
//	  dialect: none               # shared | guangdong | staged | none (collect only)
//	  base_url: ""                # e.g. https://HOST/restservices/lcipprodatarest
//	  ca_file: ""                 # PEM CAs for the provincial system; default the system roots
//	  timeout: 30s
//	  token_ttl: 1h               # unverified: how long a token is used before a new one
//	  token_error_codes: ["-20"]  # unverified: reply codes meaning "token refused"
//	  backoff_min: 5s
//	  backoff_max: 30m
//	  include_extension: false    # shared: send x_bayagent_mstation
//	  field_limits: {partsname: 50}
//	  companies:                  # one per shop (15-digit company code)
//	    - code: "330106000123456"
//	      name: 杭州西湖汽车维修有限公司
//	      password_env: BAYRECEIVER_PASSWORD_330106000123456
//	  staged:                     # dialect staged only
//	    app_id: ""
//	    secret_env: ""
//	    fuel_type: ""
//	    nature_of_use: ""
//	    service_types: {}         # job type -> the province's code
//	log:
//	  level: info                 # debug | info | warn | error
//	  format: text                # text | json
//
// Secrets (the MQTT password, the PostgreSQL connection string, company
// passwords, the staged secret) are never in the file: it names the
// environment variables that hold them.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// Errors of Parse and Validate.
var (
	ErrSyntax  = errors.New("config: not a valid configuration file")
	ErrInvalid = errors.New("config: invalid value")
)

// Duration is a Go duration string in the file ("30s", "5m").
type Duration = yamlfile.Duration

// Config is the whole file.
type Config struct {
	Receiver Receiver `yaml:"receiver"`
	MQTT     MQTT     `yaml:"mqtt"`
	Keys     Keys     `yaml:"keys"`
	Store    Store    `yaml:"store"`
	Chain    Chain    `yaml:"chain"`
	Upload   Upload   `yaml:"upload"`
	Log      Log      `yaml:"log"`
}

// Receiver names this receiver and its HTTP address.
type Receiver struct {
	ID     string `yaml:"id"`
	Listen string `yaml:"listen"`
}

// MQTT is the broker connection.
type MQTT struct {
	Broker             string `yaml:"broker"`
	ClientID           string `yaml:"client_id"`
	TopicPrefix        string `yaml:"topic_prefix"`
	ShareGroup         string `yaml:"share_group"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	Username           string `yaml:"username"`
	PasswordEnv        string `yaml:"password_env"`
	AllowPlaintext     bool   `yaml:"allow_plaintext"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Keys says where the enrolled device keys are.
type Keys struct {
	Dir string `yaml:"dir"`
}

// Store chooses the store.
type Store struct {
	Driver string `yaml:"driver"`
	Path   string `yaml:"path"`
	DSNEnv string `yaml:"dsn_env"`
}

// Chain sets when gaps are asked for.
type Chain struct {
	GapTimeout        Duration `yaml:"gap_timeout"`
	ResendInterval    Duration `yaml:"resend_interval"`
	ResendMaxInterval Duration `yaml:"resend_max_interval"`
}

// Upload configures the provincial upload.
type Upload struct {
	Dialect          string         `yaml:"dialect"`
	BaseURL          string         `yaml:"base_url"`
	CAFile           string         `yaml:"ca_file"`
	Timeout          Duration       `yaml:"timeout"`
	TokenTTL         Duration       `yaml:"token_ttl"`
	TokenErrorCodes  []string       `yaml:"token_error_codes"`
	BackoffMin       Duration       `yaml:"backoff_min"`
	BackoffMax       Duration       `yaml:"backoff_max"`
	IncludeExtension bool           `yaml:"include_extension"`
	FieldLimits      map[string]int `yaml:"field_limits"`
	Companies        []Company      `yaml:"companies"`
	Staged           Staged         `yaml:"staged"`
}

// Company is one shop at the provincial system.
type Company struct {
	Code        string `yaml:"code"`
	Name        string `yaml:"name"`
	PasswordEnv string `yaml:"password_env"`
}

// Staged is the staged dialect's application and the shop's codes.
type Staged struct {
	AppID        string            `yaml:"app_id"`
	SecretEnv    string            `yaml:"secret_env"`
	FuelType     string            `yaml:"fuel_type"`
	NatureOfUse  string            `yaml:"nature_of_use"`
	ServiceTypes map[string]string `yaml:"service_types"`
}

// Log configures the logger.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the defaults.
func Default() *Config {
	return &Config{
		Receiver: Receiver{Listen: "127.0.0.1:9181"},
		MQTT:     MQTT{TopicPrefix: "bayagent"},
		Store:    Store{Driver: "bbolt", Path: "/var/lib/bayreceiver/receiver.db"},
		Chain: Chain{GapTimeout: Duration(30 * time.Second), ResendInterval: Duration(time.Minute),
			ResendMaxInterval: Duration(30 * time.Minute)},
		Upload: Upload{Dialect: "none", Timeout: Duration(30 * time.Second), TokenTTL: Duration(time.Hour),
			TokenErrorCodes: []string{"-20"}, BackoffMin: Duration(5 * time.Second), BackoffMax: Duration(30 * time.Minute)},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Parse reads a file over the defaults and validates it. Unknown keys
// are errors (with their line).
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	c := Default()
	if err := yamlfile.Decode(bytes.NewReader(data), c); err != nil && !errors.Is(err, yamlfile.ErrEmpty) {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) { return yamlfile.Load(path, Parse) }

var (
	shopRE = regexp.MustCompile(`^[0-9]{15}$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate reports every problem, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	m := c.MQTT
	switch u, err := url.Parse(m.Broker); {
	case m.Broker == "":
		bad("mqtt.broker", "required (ssl://host:8883)")
	case err != nil || u.Host == "":
		bad("mqtt.broker", "want ssl://, tls://, mqtts:// or tcp:// followed by host[:port], got %q", m.Broker)
	case u.Scheme == "tcp" && !m.AllowPlaintext:
		bad("mqtt.broker", "tcp:// sends records and credentials unencrypted; use ssl:// or set mqtt.allow_plaintext (development only)")
	case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtts":
		bad("mqtt.broker", "unknown scheme %q (ssl, tls, mqtts, tcp)", u.Scheme)
	}
	if m.ClientID == "" {
		bad("mqtt.client_id", "required: each receiver needs its own (its persistent session)")
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		bad("mqtt.cert_file", "cert_file and key_file go together")
	}
	for _, e := range []struct{ key, v string }{
		{"mqtt.password_env", m.PasswordEnv}, {"store.dsn_env", c.Store.DSNEnv}, {"upload.staged.secret_env", c.Upload.Staged.SecretEnv},
	} {
		if e.v != "" && !envRE.MatchString(e.v) {
			bad(e.key, "want the NAME of an environment variable, got %q", e.v)
		}
	}
	if strings.ContainsAny(m.TopicPrefix, "+#") || m.TopicPrefix == "" {
		bad("mqtt.topic_prefix", "want a topic prefix without wildcards, got %q", m.TopicPrefix)
	}
	if strings.ContainsAny(m.ShareGroup, "+#/") {
		bad("mqtt.share_group", "want a plain name, got %q", m.ShareGroup)
	}
	switch c.Store.Driver {
	case "bbolt":
		if c.Store.Path == "" {
			bad("store.path", "required for the bbolt store")
		}
	case "postgres":
		if c.Store.DSNEnv == "" {
			bad("store.dsn_env", "required for the postgres store: the NAME of the variable holding the connection string")
		}
	default:
		bad("store.driver", "want bbolt or postgres, got %q", c.Store.Driver)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"chain.gap_timeout", c.Chain.GapTimeout}, {"chain.resend_interval", c.Chain.ResendInterval},
		{"chain.resend_max_interval", c.Chain.ResendMaxInterval}, {"upload.timeout", c.Upload.Timeout},
		{"upload.token_ttl", c.Upload.TokenTTL}, {"upload.backoff_min", c.Upload.BackoffMin}, {"upload.backoff_max", c.Upload.BackoffMax},
	} {
		if d.v <= 0 {
			bad(d.key, "want a positive duration, got %s", d.v)
		}
	}
	u := c.Upload
	switch u.Dialect {
	case "none":
	case "shared", "guangdong", "staged":
		if p, err := url.Parse(u.BaseURL); err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
			bad("upload.base_url", "want https://host/..., got %q", u.BaseURL)
		}
		if u.Dialect == "staged" && (u.Staged.AppID == "" || u.Staged.SecretEnv == "") {
			bad("upload.staged", "app_id and secret_env are required for the staged dialect")
		}
		if len(u.Companies) == 0 {
			bad("upload.companies", "list at least one shop (code, name, password_env)")
		}
	default:
		bad("upload.dialect", "want shared, guangdong, staged or none, got %q", u.Dialect)
	}
	seen := map[string]bool{}
	for i, co := range u.Companies {
		key := fmt.Sprintf("upload.companies[%d]", i)
		switch {
		case !shopRE.MatchString(co.Code):
			bad(key+".code", "want the 15-digit company code, got %q", co.Code)
		case seen[co.Code]:
			bad(key+".code", "%s is listed twice", co.Code)
		}
		seen[co.Code] = true
		if strings.TrimSpace(co.Name) == "" {
			bad(key+".name", "the registered company name is required")
		}
		if u.Dialect != "staged" && !envRE.MatchString(co.PasswordEnv) {
			bad(key+".password_env", "want the NAME of the environment variable holding the password, got %q", co.PasswordEnv)
		}
	}
	limits := make([]string, 0, len(u.FieldLimits))
	for k := range u.FieldLimits {
		limits = append(limits, k)
	}
	slices.Sort(limits)
	for _, k := range limits {
		if n := u.FieldLimits[k]; n < 0 {
			bad("upload.field_limits."+k, "want 0 (no limit) or more, got %d", n)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// SlogLevel returns log.level as a slog level.
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(l.Level))
	return lv
}
