package command_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/command"
)

// verifierBench signs commands for one box and opens Verifiers on one
// nonce file, as the agent does at each start.
type verifierBench struct {
	t    *testing.T
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	file string
	now  time.Time
}

func newVerifierBench(t *testing.T) *verifierBench {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &verifierBench{t: t, pub: pub, priv: priv, file: filepath.Join(t.TempDir(), "command-nonces.json"),
		now: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
}

// open is a start of the agent: a new Verifier on the nonce file.
func (b *verifierBench) open() (*command.Verifier, error) {
	return command.NewVerifier(command.VerifierOptions{Shop: "330106000123456", Device: "bay-01",
		Keys: map[string]ed25519.PublicKey{"ops-1": b.pub}, Now: func() time.Time { return b.now }, NonceFile: b.file})
}

// check signs clear_dtcs with nonce at time at and checks it with v.
func (b *verifierBench) check(v *command.Verifier, nonce string, at time.Time) error {
	b.t.Helper()
	args := map[string]any{"technician": "T007", "reason": "O2 sensor replaced"}
	raw, err := command.Sign(b.priv, "ops-1", "330106000123456", "bay-01", "c-"+nonce, command.ClearDTCs, args, at, nonce)
	if err != nil {
		b.t.Fatal(err)
	}
	var env struct {
		ID   string          `json:"id"`
		Args json.RawMessage `json:"args"`
		command.Signature
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		b.t.Fatal(err)
	}
	return v.Check(env.ID, command.ClearDTCs, env.Args, env.Signature)
}

// TestNonceSurvivesRestart is the leftover of hole 6 of issue 12: the
// nonces seen were kept in memory only, so after a restart a signed
// command replayed within its time window ran again. They are kept in the
// nonce file: after a restart the replay is refused, other commands pass,
// and expired nonces are pruned from the file.
func TestNonceSurvivesRestart(t *testing.T) {
	b := newVerifierBench(t)
	v, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.check(v, "nonce-0001", b.now); err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := b.check(v, "nonce-0001", b.now); !errors.Is(err, command.ErrReplayed) {
		t.Fatalf("replay before the restart: %v", err)
	}
	b.now = b.now.Add(time.Minute)
	v, err = b.open() // the restart
	if err != nil {
		t.Fatal(err)
	}
	if err := b.check(v, "nonce-0001", b.now.Add(-time.Minute)); !errors.Is(err, command.ErrReplayed) {
		t.Fatalf("replay after the restart, within the window: %v, want ErrReplayed", err)
	}
	if err := b.check(v, "nonce-0002", b.now); err != nil {
		t.Fatalf("a new command after the restart: %v", err)
	}
	// Ten minutes on, nonce-0001 has expired: the next write drops it.
	b.now = b.now.Add(10 * time.Minute)
	if err := b.check(v, "nonce-0003", b.now); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(b.file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "nonce-0001") || !strings.Contains(string(data), "nonce-0003") {
		t.Errorf("the nonce file is not pruned: %s", data)
	}
}

// TestDamagedNonceFile: a nonce file that cannot be read is not a crash
// and not a silent restart: NewVerifier says so (ErrNonceStore) and, for
// the time window, refuses every command signed before it started (any of
// them could be a replay) while accepting those signed after; then the
// good file it writes is read at the next start.
func TestDamagedNonceFile(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"garbage":       func(p string) error { return os.WriteFile(p, []byte("{\"version\":1,\"nonces\":{\"x"), 0o600) },
		"wrong version": func(p string) error { return os.WriteFile(p, []byte(`{"version":7,"nonces":{}}`), 0o600) },
		"a directory":   func(p string) error { return os.Mkdir(p, 0o700) },
	} {
		t.Run(name, func(t *testing.T) {
			b := newVerifierBench(t)
			if err := damage(b.file); err != nil {
				t.Fatal(err)
			}
			v, err := b.open()
			if !errors.Is(err, command.ErrNonceStore) || v == nil {
				t.Fatalf("open: %v, %v; want a Verifier and ErrNonceStore", v, err)
			}
			if err := b.check(v, "nonce-0001", b.now.Add(-time.Minute)); !errors.Is(err, command.ErrReplayed) {
				t.Errorf("signed before the start: %v, want ErrReplayed", err)
			}
			err = b.check(v, "nonce-0002", b.now.Add(time.Second))
			if name == "a directory" {
				// The file cannot be written either: refused, not run.
				if !errors.Is(err, command.ErrNonceStore) {
					t.Errorf("unwritable store: %v, want ErrNonceStore", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("signed after the start: %v", err)
			}
			b.now = b.now.Add(time.Minute)
			v, err = b.open()
			if err != nil {
				t.Fatalf("the rewritten file: %v", err)
			}
			if err := b.check(v, "nonce-0002", b.now.Add(-time.Minute+time.Second)); !errors.Is(err, command.ErrReplayed) {
				t.Errorf("replay after the second start: %v", err)
			}
		})
	}
}

// TestNonceFileMissing: no file is a first start, and the first accepted
// command writes it.
func TestNonceFileMissing(t *testing.T) {
	b := newVerifierBench(t)
	v, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.check(v, "nonce-0001", b.now); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.file); err != nil {
		t.Errorf("no nonce file written: %v", err)
	}
}
