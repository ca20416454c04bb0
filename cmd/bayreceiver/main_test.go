package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/internal/cli"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckAndEnroll(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "receiver.db")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("mqtt:\n  broker: ssl://broker.example.org:8883\n  client_id: rx-1\nstore:\n  path: "+db+"\n"), 0o600)
	if code, out, errs := runCmd(t, "check", "--config", cfg); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check: %d %s %s", code, out, errs)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(dir, "bay-01.key.pub.json")
	data, _ := json.Marshal(devicekey.NewPublicInfo("bay-01", pub))
	os.WriteFile(keyFile, data, 0o644)
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{}"), 0o644)
	code, out, errs := runCmd(t, "enroll", "--config", cfg, keyFile, filepath.Join(dir, "junk.json"))
	if code != cli.ExitError || !strings.Contains(out, "enrolled bay-01") || !strings.Contains(errs, "junk.json") {
		t.Fatalf("enroll: %d %q %q", code, out, errs)
	}
	st, err := boltstore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if keys, _ := st.Keys(context.Background()); !keys["bay-01"].Equal(pub) {
		t.Fatalf("keys %v", keys)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("mqtt:\n  broker: tcp://x:1\n"), 0o600)
	if code, _, errs := runCmd(t, "check", "--config", bad); code != cli.ExitError || !strings.Contains(errs, "mqtt.client_id") {
		t.Fatalf("check bad: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "provsim", "--listen", "0.0.0.0:9444"); code != cli.ExitUsage || !strings.Contains(errs, "loopback") {
		t.Fatalf("provsim off loopback: %d %s", code, errs)
	}
	if code, _, _ := runCmd(t, "frob"); code != cli.ExitUsage {
		t.Fatalf("unknown command: %d", code)
	}
}
