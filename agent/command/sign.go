package command

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
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
)

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

	mu     sync.Mutex
	nonces map[string]time.Time // nonce -> when it may be forgotten
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
}

// NewVerifier returns a Verifier.
func NewVerifier(o VerifierOptions) *Verifier {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Synced == nil {
		o.Synced = func() bool { return true }
	}
	return &Verifier{shop: o.Shop, device: o.Device, keys: o.Keys, maxAge: o.MaxAge, now: o.Now, synced: o.Synced,
		nonces: map[string]time.Time{}}
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
	// Remembered for as long as its ts is accepted, and at least MaxAge.
	v.nonces[s.Nonce] = maxTime(now, ts).Add(v.maxAge)
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
