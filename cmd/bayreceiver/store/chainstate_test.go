package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// TestChainState: the state half of both stores' ChainTx loads a device's
// chain, keeps the device whatever SetChain or the stored bytes say, and
// writes only what SetChain set.
func TestChainState(t *testing.T) {
	c, err := store.LoadChainState("dev-a", nil)
	if err != nil || c.Chain().Device != "dev-a" || c.Chain().VerifiedThrough != 0 {
		t.Fatalf("never walked: %+v, %v", c.Chain(), err)
	}
	if b, err := c.Encoded(); b != nil || err != nil {
		t.Errorf("Encoded without SetChain = %q, %v; want nothing to write", b, err)
	}
	if err := c.SetChain(store.Chain{Device: "dev-b", VerifiedThrough: 3}); err != nil {
		t.Fatal(err)
	}
	b, err := c.Encoded()
	if err != nil || b == nil {
		t.Fatalf("Encoded after SetChain = %q, %v", b, err)
	}
	back, err := store.LoadChainState("dev-a", b)
	if err != nil || back.Chain().Device != "dev-a" || back.Chain().VerifiedThrough != 3 {
		t.Fatalf("reloaded: %+v, %v", back.Chain(), err)
	}
	// Bytes stored under dev-a that name another device still load as dev-a.
	if moved, err := store.LoadChainState("dev-a", []byte(`{"device":"dev-b","verified_through":5}`)); err != nil || moved.Chain().Device != "dev-a" {
		t.Errorf("stored state naming dev-b: %+v, %v", moved.Chain(), err)
	}
	var syntax *json.SyntaxError
	if _, err := store.LoadChainState("dev-a", []byte("{x")); !errors.As(err, &syntax) {
		t.Errorf("bad stored state: %v, want the wrapped JSON syntax error", err)
	}
}
