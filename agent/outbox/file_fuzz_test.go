package outbox

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/agent/record"
)

// FuzzDamagedFile feeds arbitrary bytes, as a damaged database file, to the
// meta page check and the salvage scan: neither may panic, and salvage may
// only report seqs of records that verify with the device key.
func FuzzDamagedFile(f *testing.F) {
	seedKey := sha256.Sum256([]byte("fuzz key"))
	s, err := record.NewSealer(record.SealerConfig{Key: ed25519.NewKeyFromSeed(seedKey[:]), Device: "bay-test", Shop: "1"})
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "seed.db")
	o, err := Open(path, Options{Sealer: s})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := o.Append(context.Background(), record.KindNote, "", nil); err != nil {
			f.Fatal(err)
		}
	}
	o.Close()
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/3])
	f.Add([]byte(`{"bayagent_outbox":1,"device":"bay-test","seq":7}`))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = checkFile(p)
		_ = salvageLastSeq(p, s)
	})
}
