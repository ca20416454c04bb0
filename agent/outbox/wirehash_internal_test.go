package outbox

import (
	"crypto/ed25519"
	"testing"

	"github.com/bayagent/bayagent/agent/record"
)

// TestWireHash: the hash of a record taken from its wire bytes is its
// hash (else every read would take the slow way); bytes that are not a
// wire record's say so.
func TestWireHash(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: "bay-01", Shop: "330106000123456"})
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := s.Seal(record.KindNote, "J-1", map[string]string{"text": "a note"})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := wireHash(w); !ok || h != r.Hash() {
		t.Fatalf("wireHash = %x, %v; want %x", h, ok, r.Hash())
	}
	for _, bad := range []string{"", "{}", string(w[:len(w)-1]), string(w[:len(w)-10]) + "!!!!!!==\"}"} {
		if _, ok := wireHash([]byte(bad)); ok {
			t.Errorf("wireHash(%q) ok", bad)
		}
	}
}
