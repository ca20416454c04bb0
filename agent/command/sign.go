package command

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/internal/atomicfile"
)

// DefaultMaxAge is how far a signed command's ts may be from the box's
// clock, and how long its nonce is remembered.
const DefaultMaxAge = 5 * time.Minute

// Errors of signed commands.
var (
	// ErrUnauthorised: the command needs a signature by a listed operator
	// key and has none, or one that does not verify.
	ErrUnauthorised = errors.New("command: not signed by an operator key this box trusts")
	// ErrReplayed: the signed command was seen before (its nonce), or its
	// time is too far from the box's clock.
	ErrReplayed = errors.New("command: replayed or stale signed command")
	// ErrNonceStore: the file of the nonces seen could not be read (the
	// Verifier then refuses what was signed before it started, see
	// VerifierOptions.NonceFile) or written (the command is refused).
	ErrNonceStore = errors.New("command: nonce store")
)

// MaxNonces bounds the nonces a Verifier remembers: more unexpired signed
// commands than this within MaxAge are refused (ErrReplayed) until the
// oldest expire.
const MaxNonces = 4096

// Signature is what a signed envelope carries besides id, cmd and args.
type Signature struct {
	TS    string `json:"ts"`
	Nonce string `json:"nonce"`
	Key   string `json:"key"`
	Sig   string `json:"sig"`
}

// Signed reports whether the envelope carries a signature at all.
func (s Signature) Signed() bool { return s != Signature{} }

// SigningBytes is what an operator key signs for a command: the box it is
// for, the command and its signature's time and nonce, and the args
// exactly as they appear in the envelope ("" when absent).
func SigningBytes(shop, device, id, name, ts, nonce string, args []byte) []byte {
	var b bytes.Buffer
	b.WriteString("bayagent command v1\n")
	for _, kv := range [][2]string{{"shop", shop}, {"device", device}, {"id", id}, {"cmd", name}, {"ts", ts}, {"nonce", nonce}} {
		b.WriteString(kv[0] + " " + strconv.Quote(kv[1]) + "\n")
	}
	b.WriteString("args ")
	b.Write(args)
	b.WriteByte('\n')
	return b.Bytes()
}

// Sign returns the signed envelope of command name for device of shop:
// what an operator's tool (and the demo) publishes on the command topic.
func Sign(key ed25519.PrivateKey, keyName, shop, device, id, name string, args any, now time.Time, nonce string) ([]byte, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("command: args: %w", err)
	}
	ts := now.UTC().Format(time.RFC3339)
	sig := ed25519.Sign(key, SigningBytes(shop, device, id, name, ts, nonce, raw))
	return json.Marshal(struct {
		ID    string          `json:"id"`
		Cmd   string          `json:"cmd"`
		Args  json.RawMessage `json:"args"`
		TS    string          `json:"ts"`
		Nonce string          `json:"nonce"`
		Key   string          `json:"key"`
		Sig   string          `json:"sig"`
	}{id, name, raw, ts, nonce, keyName, base64.StdEncoding.EncodeToString(sig)})
}

// Verifier checks signed commands for one box. Its methods are safe for
// concurrent use.
type Verifier struct {
	shop, device string
	keys         map[string]ed25519.PublicKey
	maxAge       time.Duration
	now          func() time.Time
	synced       func() bool

	file string // VerifierOptions.NonceFile

	mu     sync.Mutex
	nonces map[string]time.Time // nonce -> when it may be forgotten
	// distrust: the nonce file could not be read at start; until
	// distrustUntil only commands signed after started are accepted.
	distrust      bool
	started       time.Time
	distrustUntil time.Time
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	Shop, Device string
	// Keys are the operator keys by name.
	Keys map[string]ed25519.PublicKey
	// MaxAge: 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Now: nil means time.Now. Synced reports whether the box's clock is
	// synchronised; while it is not, ts is not compared with it (the
	// nonce still is). Nil means synchronised.
	Now    func() time.Time
	Synced func() bool
	// NonceFile, when set, keeps the nonces seen across restarts: it is
	// read at start and written (atomically, pruned of the expired ones)
	// before a command is accepted, so a signed command replayed after a
	// restart within its time window is refused as well. Missing, it is a
	// first start. Damaged or unreadable, NewVerifier returns a working
	// Verifier with an error wrapping ErrNonceStore: for MaxAge it
	// accepts only commands signed after it started, with the clock
	// synchronised (nothing signed before can be a replay then), and the
	// next write replaces the damaged file.
	NonceFile string
}

// NewVerifier returns a Verifier. Its error (ErrNonceStore) says the
// NonceFile could not be read; the Verifier works all the same (see
// VerifierOptions.NonceFile).
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Synced == nil {
		o.Synced = func() bool { return true }
	}
	v := &Verifier{shop: o.Shop, device: o.Device, keys: o.Keys, maxAge: o.MaxAge, now: o.Now, synced: o.Synced,
		file: o.NonceFile, nonces: map[string]time.Time{}}
	if v.file == "" {
		return v, nil
	}
	if err := v.load(); err != nil {
		now := v.now()
		v.distrust, v.started, v.distrustUntil = true, now, now.Add(v.maxAge)
		return v, err
	}
	return v, nil
}

// nonceFile is the NonceFile's content.
type nonceFile struct {
	Version int                  `json:"version"`
	Nonces  map[string]time.Time `json:"nonces"` // nonce -> when it may be forgotten
}

// load reads the NonceFile into nonces; a missing file is empty.
func (v *Verifier) load() error {
	data, err := os.ReadFile(v.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNonceStore, err)
	}
	var f nonceFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 || len(f.Nonces) > MaxNonces {
		return fmt.Errorf("%w: %s is damaged (want version 1 and at most %d nonces): %v", ErrNonceStore, v.file, MaxNonces, err)
	}
	for n, until := range f.Nonces {
		if validNonce(n) {
			v.nonces[n] = until
		}
	}
	return nil
}

// save writes nonces to the NonceFile (v.mu held).
func (v *Verifier) save() error {
	data, err := json.Marshal(nonceFile{Version: 1, Nonces: v.nonces})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNonceStore, err)
	}
	if err := atomicfile.Write(v.file, data, 0o600); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNonceStore, v.file, err)
	}
	return nil
}

// Check verifies the signature of command name with id and args (as sent)
// and remembers its nonce. Errors wrap ErrUnauthorised or ErrReplayed.
func (v *Verifier) Check(id, name string, args []byte, s Signature) error {
	if !s.Signed() {
		return fmt.Errorf("%w: %s changes the vehicle or a job and must be signed (ts, nonce, key, sig)", ErrUnauthorised, name)
	}
	pub, ok := v.keys[s.Key]
	if !ok {
		return fmt.Errorf("%w: unknown key %q", ErrUnauthorised, clip(s.Key))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, SigningBytes(v.shop, v.device, id, name, s.TS, s.Nonce, args), sig) {
		return fmt.Errorf("%w: the signature by key %q does not verify for %s of device %s", ErrUnauthorised, s.Key, name, v.device)
	}
	ts, err := time.Parse(time.RFC3339, s.TS)
	if err != nil {
		return fmt.Errorf("%w: ts %q is not an RFC 3339 time", ErrUnauthorised, clip(s.TS))
	}
	if !validNonce(s.Nonce) {
		return fmt.Errorf("%w: nonce must be 8 to 64 characters of A-Z a-z 0-9 _ -", ErrUnauthorised)
	}
	now := v.now()
	if d := now.Sub(ts); v.synced() && (d > v.maxAge || d < -v.maxAge) {
		return fmt.Errorf("%w: ts %s is %v from the box's clock (at most %v)", ErrReplayed, s.TS, d.Round(time.Second), v.maxAge)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for n, until := range v.nonces {
		if now.After(until) {
			delete(v.nonces, n)
		}
	}
	if _, seen := v.nonces[s.Nonce]; seen {
		return fmt.Errorf("%w: nonce %q was used before", ErrReplayed, s.Nonce)
	}
	if v.distrust && now.Before(v.distrustUntil) && (!v.synced() || !ts.After(v.started)) {
		return fmt.Errorf("%w: the nonces seen before the start were lost (damaged nonce store); until %s only commands signed after %s with the box's clock synchronised are accepted: sign it again",
			ErrReplayed, v.distrustUntil.UTC().Format(time.RFC3339), v.started.UTC().Format(time.RFC3339))
	}
	if len(v.nonces) >= MaxNonces {
		return fmt.Errorf("%w: more than %d signed commands within %v", ErrReplayed, MaxNonces, v.maxAge)
	}
	// Remembered for as long as its ts is accepted, and at least MaxAge.
	v.nonces[s.Nonce] = maxTime(now, ts).Add(v.maxAge)
	if v.file != "" {
		if err := v.save(); err != nil {
			// Not run: after a restart it could be replayed.
			delete(v.nonces, s.Nonce)
			return err
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func validNonce(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
