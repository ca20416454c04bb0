package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/web"
)

// Screen configures the bay screen (package web): off unless Listen is
// set.
type Screen struct {
	// Listen is the screen's address, host:port (":8080" on every
	// interface); empty turns the screen off.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile: HTTPS with the box's certificate.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// PINFile holds the hash of the screen's PIN, written by `bayagent
	// screen pin`. Default <state_dir>/screen.pin.
	PINFile string `yaml:"pin_file"`
	// Lang is the language for browsers that ask for neither Chinese nor
	// English: zh-CN (default) or en.
	Lang string `yaml:"lang"`
	// JobActions lets the page open, close and cancel jobs: for shops whose
	// own software does not drive jobs.
	JobActions bool `yaml:"job_actions"`
	// SessionTTL is how long a login lasts.
	SessionTTL Duration `yaml:"session_ttl"`
}

// Precheck is the I/M pre-check rule set (findings.Rules): for each check
// its effect on the verdict, fail, not_ready, advise or off.
type Precheck struct {
	NoCommunication  string `yaml:"no_communication"`
	MILOn            string `yaml:"mil_on"`
	PermanentDTCs    string `yaml:"permanent_dtcs"`
	Readiness        string `yaml:"readiness"`
	ReadinessAllowed int    `yaml:"readiness_allowed"`
	// ReadinessExempt lists monitors not counted, comma-separated
	// ("evap, secondary_air").
	ReadinessExempt string `yaml:"readiness_exempt"`
	VINMismatch     string `yaml:"vin_mismatch"`
	VINMissing      string `yaml:"vin_missing"`
	Inducement      string `yaml:"inducement"`
	// InducementSPNs and SCRSPNs are comma-separated J1939 SPNs.
	InducementSPNs string `yaml:"inducement_spns"`
	SCRSPNs        string `yaml:"scr_spns"`
}

// Defaults of the screen.
const (
	DefaultPINName    = "screen.pin"
	DefaultSessionTTL = Duration(web.DefaultSessionTTL)
)

func defaultPrecheck() Precheck {
	r := findings.DefaultRules()
	return Precheck{
		NoCommunication: string(r.NoCommunication), MILOn: string(r.MILOn), PermanentDTCs: string(r.PermanentDTCs),
		Readiness: string(r.Readiness), ReadinessAllowed: r.ReadinessAllowed, ReadinessExempt: strings.Join(r.ReadinessExempt, ", "),
		VINMismatch: string(r.VINMismatch), VINMissing: string(r.VINMissing), Inducement: string(r.Inducement),
		InducementSPNs: spnList(r.InducementSPNs), SCRSPNs: spnList(r.SCRSPNs),
	}
}

func spnList(spns []uint32) string {
	s := make([]string, len(spns))
	for i, v := range spns {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(s, ", ")
}

// Rules returns the rule set; call it on a validated configuration (an
// unusable value falls back to its default).
func (p Precheck) Rules() findings.Rules {
	r := findings.DefaultRules()
	effect := func(s string, def findings.Effect) findings.Effect {
		if e, err := findings.ParseEffect(s); err == nil {
			return e
		}
		return def
	}
	r.NoCommunication = effect(p.NoCommunication, r.NoCommunication)
	r.MILOn = effect(p.MILOn, r.MILOn)
	r.PermanentDTCs = effect(p.PermanentDTCs, r.PermanentDTCs)
	r.Readiness = effect(p.Readiness, r.Readiness)
	r.VINMismatch = effect(p.VINMismatch, r.VINMismatch)
	r.VINMissing = effect(p.VINMissing, r.VINMissing)
	r.Inducement = effect(p.Inducement, r.Inducement)
	r.ReadinessAllowed = p.ReadinessAllowed
	r.ReadinessExempt = findings.ParseList(p.ReadinessExempt)
	if s, err := findings.ParseSPNs(p.InducementSPNs); err == nil {
		r.InducementSPNs = s
	}
	if s, err := findings.ParseSPNs(p.SCRSPNs); err == nil {
		r.SCRSPNs = s
	}
	return r
}

// ScreenOptions returns the bay screen's options (nil when the screen is
// off); Logger is for the agent to set.
func (c *Config) ScreenOptions() *web.Options {
	s := c.Screen
	if s.Listen == "" {
		return nil
	}
	lang, err := i18n.ParseLang(s.Lang)
	if err != nil {
		lang = i18n.Chinese
	}
	rules := c.Precheck.Rules()
	return &web.Options{
		Addr: s.Listen, CertFile: s.CertFile, KeyFile: s.KeyFile, PINFile: s.PINFile,
		SessionTTL: s.SessionTTL.D(), Lang: lang, JobActions: s.JobActions, Rules: &rules,
	}
}

func (v *validator) screen() {
	s := v.c.Screen
	if s.Listen != "" {
		host, port, err := net.SplitHostPort(s.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.bad("screen.listen", "want host:port, e.g. :8080 or 192.168.1.20:8443, got %q", s.Listen)
		case perr != nil || n < 0 || n > 65535:
			v.bad("screen.listen", "want a port from 1 to 65535 (0: any free port), got %q", port)
		case host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ \t"):
			v.bad("screen.listen", "want an IP address or host name before the port, got %q", host)
		}
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		v.bad("screen.cert_file", "give both screen.cert_file and screen.key_file for HTTPS, or neither")
	}
	for _, f := range []struct{ field, path string }{{"screen.cert_file", s.CertFile}, {"screen.key_file", s.KeyFile}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			v.bad(f.field, "want an absolute path, got %q", f.path)
		}
	}
	if s.Listen != "" {
		v.absPath("screen.pin_file", s.PINFile)
	}
	if _, err := i18n.ParseLang(s.Lang); err != nil {
		v.bad("screen.lang", "want zh-CN or en, got %q", s.Lang)
	}
	v.rangeDur("screen.session_ttl", s.SessionTTL, time.Minute, 7*24*time.Hour)

	p := v.c.Precheck
	for _, e := range []struct{ field, val string }{
		{"precheck.no_communication", p.NoCommunication}, {"precheck.mil_on", p.MILOn},
		{"precheck.permanent_dtcs", p.PermanentDTCs}, {"precheck.readiness", p.Readiness},
		{"precheck.vin_mismatch", p.VINMismatch}, {"precheck.vin_missing", p.VINMissing},
		{"precheck.inducement", p.Inducement},
	} {
		if _, err := findings.ParseEffect(e.val); err != nil {
			v.bad(e.field, "want fail, not_ready, advise or off, got %q", e.val)
		}
	}
	v.rangeInt("precheck.readiness_allowed", p.ReadinessAllowed, 0, 16)
	for _, m := range findings.ParseList(p.ReadinessExempt) {
		if !slices.Contains(findings.MonitorNames(), m) {
			v.bad("precheck.readiness_exempt", "unknown monitor %q (known: %s)", m, strings.Join(findings.MonitorNames(), ", "))
		}
	}
	for _, f := range []struct{ field, val string }{{"precheck.inducement_spns", p.InducementSPNs}, {"precheck.scr_spns", p.SCRSPNs}} {
		if _, err := findings.ParseSPNs(f.val); err != nil {
			v.wrap(f.field, "want comma-separated SPNs, e.g. 5245, 5246", err)
		}
	}
}

// screenPIN fills the PIN file's default path.
func (c *Config) screenPIN() {
	if c.Screen.PINFile == "" && c.Device.StateDir != "" {
		c.Screen.PINFile = filepath.Join(c.Device.StateDir, DefaultPINName)
	}
}

// screenWarnings: a screen nobody can sign in to, or one without HTTPS.
func (c *Config) screenWarnings() []string {
	s := c.Screen
	if s.Listen == "" {
		return nil
	}
	var w []string
	if _, err := os.Stat(s.PINFile); errors.Is(err, os.ErrNotExist) {
		w = append(w, fmt.Sprintf("screen.listen is set but the bay screen has no PIN yet (%s): nobody can sign in until one is set with `bayagent screen pin`", s.PINFile))
	}
	if s.CertFile == "" {
		w = append(w, "the bay screen is served over plain HTTP: anyone on the shop's network can read its pages and the PIN as it is typed; set screen.cert_file and screen.key_file for HTTPS")
	}
	return w
}
