package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/drivers/canbus"
)

// storeConfig is an agent's configuration for tests of what it keeps on
// disk: its uplink is never started (the broker address is a placeholder).
func storeConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = device, shop, "bay1"
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "outbox.db")
	cfg.Vehicle.Interface = "mem:bay1"
	cfg.Uplink.Broker = "tcp://127.0.0.1:9"
	cfg.Uplink.AllowPlaintext = true
	return cfg
}

// storeAgent opens an agent on cfg; it returns the agent, still open.
func storeAgent(t *testing.T, cfg *config.Config) (*agent.Agent, error) {
	t.Helper()
	return agent.New(cfg, agent.Deps{Version: "test", Hub: &canbus.MemHub{}, Logger: testLogger(t)})
}

// mustStoreAgent is storeAgent for an agent that must start.
func mustStoreAgent(t *testing.T, cfg *config.Config) *agent.Agent {
	t.Helper()
	a, err := storeAgent(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do runs a command that must succeed.
func do(t *testing.T, a *agent.Agent, name string, args any) {
	t.Helper()
	if r := replyOf(t, a, name, args); !r.OK {
		t.Fatalf("%s: %+v", name, r)
	}
}

var openArgs = map[string]any{"job_id": "J-1", "type": "repair", "plate": "浙A12345", "mileage_km": 1000, "complaint": "noise", "technician": "T007"}

func noteArgs(text string) map[string]any { return map[string]any{"author": "T007", "text": text} }

// exportRecords reads every record the outbox at path holds.
func exportRecords(t *testing.T, path string) ([]record.Record, []byte) {
	t.Helper()
	o, err := outbox.Open(path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var buf bytes.Buffer
	if err := o.Export(&buf); err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue // an outbox with no record yet (a power cut before the first)
		}
		r, err := record.Decode(l)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs, buf.Bytes()
}

// TestLostOutboxResets is hole 2 of issue 12: an outbox that is gone or
// empty while the chain file says the box stored before starts a new
// chain with an outbox_reset after every seq that may have been used,
// carrying the last known seq and hash, never silently again at seq 1.
func TestLostOutboxResets(t *testing.T) {
	for _, how := range []string{"deleted", "emptied"} {
		t.Run(how, func(t *testing.T) {
			cfg := storeConfig(t, t.TempDir())
			a := mustStoreAgent(t, cfg)
			do(t, a, "open_job", openArgs)
			do(t, a, "add_note", noteArgs("one"))
			do(t, a, "add_note", noteArgs("two"))
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			before, _ := exportRecords(t, cfg.Outbox.Path)
			last := before[len(before)-1]
			var err error
			if how == "deleted" {
				err = os.Remove(cfg.Outbox.Path)
			} else {
				err = os.Truncate(cfg.Outbox.Path, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			a, err = storeAgent(t, cfg)
			if err != nil {
				t.Fatalf("start after the outbox was %s: %v", how, err)
			}
			do(t, a, "add_note", noteArgs("three"))
			a.Close()
			after, _ := exportRecords(t, cfg.Outbox.Path)
			r := after[0]
			var b outbox.ResetBody
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			if r.Kind != record.KindOutboxReset || r.Seq <= last.Seq || b.Cause != outbox.ResetMissing ||
				b.LastKnownSeq > last.Seq || b.ReservedTo < last.Seq || r.Seq != b.ReservedTo+1 {
				t.Fatalf("first record after the outbox was %s: %s seq %d %s; the last before was seq %d", how, r.Kind, r.Seq, r.Body, last.Seq)
			}
			if n := after[1]; n.Kind != record.KindNote || n.Seq != r.Seq+1 || n.Job != "J-1" {
				t.Fatalf("the note after the reset: %s seq %d job %q", n.Kind, n.Seq, n.Job)
			}
		})
	}
}

func publicKey(t *testing.T, cfg *config.Config) ed25519.PublicKey {
	t.Helper()
	b, err := os.ReadFile(cfg.Device.KeyFile + ".pub.json")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := devicekey.ParsePublic(b)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestDeviceKeyGuard is hole 4 of issue 12: a lost or replaced device key
// is refused at start, and `bayagent key rotate` puts a new one on the
// record.
func TestDeviceKeyGuard(t *testing.T) {
	cfg := storeConfig(t, t.TempDir())
	a := mustStoreAgent(t, cfg)
	do(t, a, "open_job", openArgs)
	a.Close()

	// Lost: refused, and no key is made up.
	if err := os.Remove(cfg.Device.KeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := storeAgent(t, cfg); !errors.Is(err, devicekey.ErrKeyMissing) {
		t.Fatalf("start without the device key: %v, want ErrKeyMissing", err)
	}
	if _, err := os.Stat(cfg.Device.KeyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a device key was generated for a box that lost its key (%v)", err)
	}
	// Replaced: refused.
	if _, err := devicekey.Create(cfg.Device.KeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := storeAgent(t, cfg); !errors.Is(err, devicekey.ErrKeyReplaced) {
		t.Fatalf("start with another device key: %v, want ErrKeyReplaced", err)
	}
	// Replaced, and the chain file lost too: the outbox's records say so.
	if err := os.Remove(devicekey.ChainPath(cfg.Device.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := storeAgent(t, cfg); !errors.Is(err, devicekey.ErrKeyReplaced) {
		t.Fatalf("start with another device key and no chain file: %v, want ErrKeyReplaced", err)
	}
}

// TestKeyRotate rotates a present key (the rotation is signed by both
// keys) and a lost one (only the new key signs; verify says so).
func TestKeyRotate(t *testing.T) {
	for _, lost := range []bool{false, true} {
		name := "present"
		if lost {
			name = "lost"
		}
		t.Run(name, func(t *testing.T) {
			cfg := storeConfig(t, t.TempDir())
			a := mustStoreAgent(t, cfg)
			do(t, a, "open_job", openArgs)
			a.Close()
			oldPub := publicKey(t, cfg)
			if lost {
				os.Remove(cfg.Device.KeyFile)
			}
			rot, err := agent.RotateKey(context.Background(), cfg, "SD card replaced", testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if rot.OldKeyLost != lost || rot.NewFingerprint == "" || rot.NewFingerprint == rot.OldFingerprint {
				t.Fatalf("rotation %+v", rot)
			}
			a, err = storeAgent(t, cfg)
			if err != nil {
				t.Fatalf("start after the rotation: %v", err)
			}
			do(t, a, "add_note", noteArgs("after the rotation"))
			a.Close()
			newPub := publicKey(t, cfg)
			if devicekey.Fingerprint(newPub) != rot.NewFingerprint {
				t.Fatal("the public key file is not the new key's")
			}
			recs, stream := exportRecords(t, cfg.Outbox.Path)
			if len(recs) != 3 || recs[1].Kind != record.KindKeyRotation || recs[1].Seq != rot.Seq {
				t.Fatalf("records after the rotation: %d, second %s", len(recs), recs[1].Kind)
			}
			rep := record.Verify(bytes.NewReader(stream), record.Keys{device: oldPub})
			d := rep.Devices[0]
			switch {
			case d.BadSignatures.Count != 0 || d.KeyRotations.Count != 1:
				t.Fatalf("verify with the old key:\n%s", rep)
			case lost && d.UnauthorisedRotations.Count != 1:
				t.Fatalf("a rotation after the key was lost must be flagged:\n%s", rep)
			case !lost && !rep.OK():
				t.Fatalf("a rotation signed by both keys must verify:\n%s", rep)
			}
		})
	}
}
