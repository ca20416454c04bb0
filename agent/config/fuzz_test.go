package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary files (seeded with every firmware-config
// file): it must never panic, must return either a Config or *FieldErrors,
// and a Config it returns must survive Validate, UplinkOptions and
// LogValue.
func FuzzParse(f *testing.F) {
	for _, file := range firmwareConfigs(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		valid,
		"",
		"device: [1, 2]\n",
		"a: &x {b: *x}\n",
		"device:\n  id: &i bay1\n  bay: *i\nvehicle: {interface: 'mem:x', id_bits: ${BITS}}\n",
		"uplink:\n  password: x\n  qos: 2\n",
		"outbox:\n  max_bytes: 99999999999999999999GiB\n",
		"--- \n...\n",
		"device:\n  id: ${\n",
		"!!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	env := lookupIn(map[string]string{"BITS": "11", "BAYAGENT_DEVICE_ID": "d", "BAYAGENT_SHOP": "440300123456789",
		"BAYAGENT_COMPANY_NAME": "c", "BAYAGENT_BROKER": "ssl://localhost", "BAYAGENT_MQTT_USERNAME": "u", "BAYAGENT_MQTT_PASSWORD": "p",
		"BAYAGENT_COMMAND_KEY": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseEnv(bytes.NewReader(data), env)
		if err != nil {
			if c != nil {
				t.Fatalf("Config and error: %v", err)
			}
			for _, p := range problems(t, err) {
				if p.Error() == "" || !errors.Is(p, p.kind) {
					t.Fatalf("bad problem %#v", p)
				}
			}
			return
		}
		if strings.Contains(c.Uplink.CAFile+c.Uplink.CertFile+c.Uplink.KeyFile, "/") {
			// Validate reads these files: keep the fuzzer off the host's files.
			c.Uplink.CAFile, c.Uplink.CertFile, c.Uplink.KeyFile = "", "", ""
		}
		_ = problems(t, c.Validate())
		_ = c.UplinkOptions()
		slog.New(slog.DiscardHandler).Info("config", "config", c)
	})
}
