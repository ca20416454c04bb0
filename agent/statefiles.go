package agent

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

// makeDir creates dir (0700) and the missing directories above it, and
// fsyncs the parent of each one it creates: a directory entry is durable
// only once its parent is synced, and everything the agent stores lives
// below this one.
func makeDir(dir string) error {
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := makeDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// jobsDir is the job manager's state directory.
func jobsDir(cfg *config.Config) string { return filepath.Join(cfg.Device.StateDir, "jobs") }

// hasStored reports whether the box has stored records before: an outbox
// file that is not empty, or any job file. The device key guard
// (devicekey.Open) refuses to generate a key for such a box.
func hasStored(cfg *config.Config) (bool, error) {
	if st, err := os.Stat(cfg.Outbox.Path); err == nil && st.Size() > 0 {
		return true, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("agent: outbox: %w", err)
	}
	for _, sub := range []string{"open", "closed", "cancelled"} {
		ents, err := os.ReadDir(filepath.Join(jobsDir(cfg), sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("agent: job files: %w", err)
		}
		if len(ents) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// checkSigner refuses a device key that did not sign the newest record
// waiting in the outbox (nor did a retired key): the key was replaced
// while the chain file, which would have said so, was lost.
func checkSigner(box *outbox.Outbox, key ed25519.PrivateKey, chain devicekey.Chain) error {
	st, err := box.Stats()
	if err != nil || st.LastSeq == 0 {
		return err
	}
	es, err := box.Next(st.LastSeq-1, 1)
	if err != nil || len(es) == 0 {
		return err
	}
	r, err := record.Decode(es[0].Data)
	if err != nil {
		return nil // a damaged record is the uplink's to quarantine
	}
	pub := key.Public().(ed25519.PublicKey)
	for _, k := range append([]ed25519.PublicKey{pub}, chain.RetiredPublicKeys()...) {
		if r.VerifySignature(k) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: record %d in %s was not signed by it: put the right key back, or run `bayagent key rotate`",
		devicekey.ErrKeyReplaced, r.Seq, box.Path())
}

// writePublicKey leaves the public key beside the private one, in the JSON
// form `bayagent verify --key` and the health-record operator read.
func writePublicKey(cfg *config.Config, pub ed25519.PublicKey) error {
	data, err := json.MarshalIndent(devicekey.NewPublicInfo(cfg.Device.ID, pub), "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	path := cfg.Device.KeyFile + ".pub.json"
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
