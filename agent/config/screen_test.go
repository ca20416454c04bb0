package config

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
)

const screenBase = `device: {id: bay1-pi, shop: "440300123456789", state_dir: /var/lib/bayagent}
vehicle: {interface: "can:can0"}
uplink: {broker: "tcp://127.0.0.1:1883", allow_plaintext: true}
`

func TestScreenOffByDefault(t *testing.T) {
	c := mustValid(t, screenBase)
	if c.ScreenOptions() != nil {
		t.Error("the screen is on without screen.listen")
	}
	if r := c.Precheck.Rules(); !slices.Equal(r.InducementSPNs, findings.DefaultInducementSPNs) || r.MILOn != findings.EffectFail {
		t.Errorf("default rules %+v", r)
	}
}

func TestScreenOptions(t *testing.T) {
	c := mustValid(t, screenBase+`screen: {listen: ":8443", cert_file: /etc/bayagent/s.crt, key_file: /etc/bayagent/s.key, lang: en, job_actions: true, session_ttl: 8h}
precheck: {readiness_allowed: 1, readiness_exempt: "evap, secondary_air", permanent_dtcs: fail, inducement_spns: "5246"}
`)
	o := c.ScreenOptions()
	if o == nil || o.Addr != ":8443" || o.Lang != i18n.English || !o.JobActions || o.SessionTTL.Hours() != 8 ||
		o.PINFile != "/var/lib/bayagent/screen.pin" || o.CertFile != "/etc/bayagent/s.crt" {
		t.Fatalf("options %+v", o)
	}
	r := *o.Rules
	if r.ReadinessAllowed != 1 || !slices.Equal(r.ReadinessExempt, []string{"evap", "secondary_air"}) ||
		r.PermanentDTCs != findings.EffectFail || !slices.Equal(r.InducementSPNs, []uint32{5246}) || r.Validate() != nil {
		t.Errorf("rules %+v", r)
	}
}

func TestScreenProblems(t *testing.T) {
	c := mustParse(t, screenBase+`screen: {listen: "8080", cert_file: /etc/s.crt, lang: fr, session_ttl: 1s}
precheck: {mil_on: maybe, readiness_allowed: 20, readiness_exempt: "evap, warp_drive", scr_spns: "12x"}
`)
	var fields []string
	for _, p := range problems(t, c.Validate()) {
		fields = append(fields, p.Field)
	}
	want := []string{"screen.listen", "screen.cert_file", "screen.lang", "screen.session_ttl", "precheck.mil_on",
		"precheck.readiness_allowed", "precheck.readiness_exempt", "precheck.scr_spns"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("problems in %v, want %v", fields, want)
	}
}

func TestScreenWarnings(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, strings.Replace(screenBase, "/var/lib/bayagent", dir, 1)+"screen: {listen: \":8080\"}\n")
	w := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(w, "no PIN yet") || !strings.Contains(w, "plain HTTP") {
		t.Errorf("warnings:\n%s", w)
	}
	if err := os.WriteFile(c.Screen.PINFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); strings.Contains(w, "no PIN yet") {
		t.Errorf("PIN set, still warned:\n%s", w)
	}
}
