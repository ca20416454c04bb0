package devicekey

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/agent/record"
)

// TestOpenGuard is hole 4 of issue 12: a lost or replaced device key is
// refused, never silently regenerated.
func TestOpenGuard(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "device.key")
	key, chain, created, err := Open(keyFile, "bay-01", false)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	fp := Fingerprint(key.Public().(ed25519.PublicKey))
	if c := chain.Get(); c.Key != fp || c.Device != "bay-01" {
		t.Fatalf("chain after the first start: %+v", c)
	}
	if err := chain.Reserve(record.Head{Seq: 5, Hash: record.Hash{1}}, 1029); err != nil {
		t.Fatal(err)
	}
	// An ordinary restart.
	key2, _, created, err := Open(keyFile, "bay-01", true)
	if err != nil || created || !key2.Equal(key) {
		t.Fatalf("restart: created %v, %v", created, err)
	}
	// The key is lost.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(keyFile, "bay-01", false); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("key lost: %v, want ErrKeyMissing", err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new key was generated for a box that lost its key")
	}
	// The key is replaced by another one.
	if _, err := Create(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(keyFile, "bay-01", true); !errors.Is(err, ErrKeyReplaced) {
		t.Fatalf("key replaced: %v, want ErrKeyReplaced", err)
	}
	// The chain file is lost too, but the outbox or job files remain.
	if err := os.Remove(ChainPath(keyFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(keyFile, "bay-01", true); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("key and chain file lost, records remain: %v, want ErrKeyMissing", err)
	}
	// Another device's chain file.
	if _, _, _, err := Open(keyFile, "bay-01", false); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(keyFile, "bay-02", false); !errors.Is(err, ErrChain) {
		t.Fatalf("chain file of another device: %v, want ErrChain", err)
	}
}

func TestChainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key.chain")
	f, err := OpenChain(path)
	if err != nil || f.Exists() {
		t.Fatalf("missing chain file: %v, exists %v", err, f.Exists())
	}
	if _, _, ok := f.Known(); ok {
		t.Fatal("an empty chain is known")
	}
	h := record.Hash{0xab}
	if err := f.Reserve(record.Head{Seq: 7, Hash: h}, 1031); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != FileMode {
		t.Fatalf("chain file mode %v, %v", st.Mode(), err)
	}
	g, err := OpenChain(path)
	if err != nil {
		t.Fatal(err)
	}
	head, reserved, ok := g.Known()
	if !ok || head.Seq != 7 || head.Hash != h || reserved != 1031 {
		t.Fatalf("read back: %+v %d %v", head, reserved, ok)
	}
	// A lower reservation never lowers it.
	if err := g.Reserve(record.Head{Seq: 8, Hash: h}, 9); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := g.Known(); r != 1031 {
		t.Fatalf("reservation lowered to %d", r)
	}
	if err := os.WriteFile(path, []byte(`{"bayagent_chain":1,"seq":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenChain(path); !errors.Is(err, ErrChain) {
		t.Fatalf("damaged chain file: %v, want ErrChain", err)
	}
}
