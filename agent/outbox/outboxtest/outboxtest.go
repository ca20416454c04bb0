// Package outboxtest helps tests that need an outbox.
//
// It opens one in a temporary directory with a throw-away device key and
// checks the bbolt file's consistency when the test ends.
package outboxtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
)

// Device and Shop are the identity of sealers made by Sealer.
const (
	Device = "bay-test"
	Shop   = "330106000123456"
)

// Sealer returns a sealer for Device with a fresh random key.
func Sealer(t testing.TB) *record.Sealer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: Device, Shop: Shop})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Open opens an outbox in t.TempDir(). If opts.Sealer is nil, a sealer from
// Sealer is used. When the test ends the outbox is closed and the file is
// checked with bbolt's consistency check; problems fail the test.
func Open(t testing.TB, opts outbox.Options) *outbox.Outbox {
	t.Helper()
	if opts.Sealer == nil {
		opts.Sealer = Sealer(t)
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := outbox.Open(path, opts)
	if err != nil {
		t.Fatalf("outbox.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("outbox.Close: %v", err)
		}
		if err := CheckFile(path); err != nil {
			t.Errorf("outbox file %s is inconsistent: %v", path, err)
		}
	})
	return o
}

// CheckFile opens the bbolt file at path read-only and runs bbolt's
// consistency check on it.
func CheckFile(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return errors.Join(errs...)
	})
}
