package record

import (
	"crypto/ed25519"

	"crypto/sha256"
	"fmt"
	"github.com/bayagent/bayagent/agent/clock"
	"sync"
	"time"
)

// Head is the state of a device's chain: the sequence number and hash of
// the last sealed record. The zero Head (Seq 0, Hash Genesis) starts a new
// chain whose first record has seq 1.
type Head struct {
	Seq  uint64 // seq of the last sealed record; 0 when none
	Hash Hash   // hash of that record's canonical bytes; Genesis when none
}

// Next returns the sequence number the next record will carry.
func (h Head) Next() uint64 { return h.Seq + 1 }

// SealerConfig configures a Sealer.
type SealerConfig struct {
	Key    ed25519.PrivateKey // device key; required
	Device string             // device id; see ValidDevice
	Shop   string             // shop code; see ValidShop
	Head   Head               // chain head to continue from; zero starts a new chain
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// Clock returns the clock's state that every record carries; nil
	// means the system's (package clock).
	Clock func() Clock
}

// Sealer turns events into sealed records: it owns the device key, the
// device and shop identity and the chain head.
//
// Seal advances the Sealer's own head and suits a single writer that keeps
// its head elsewhere. A durable store that must make sealing and storing one
// atomic step (the outbox) instead keeps the head in its own transaction and
// calls SealNext, which is pure: it neither reads nor changes the Sealer's
// head, so a transaction that is rolled back or re-run burns no sequence
// number.
type Sealer struct {
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	device string
	shop   string
	now    func() time.Time
	clock  func() Clock

	mu   sync.Mutex
	head Head
}

// NewSealer checks cfg and returns a Sealer.
func NewSealer(cfg SealerConfig) (*Sealer, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key must be %d bytes, got %d", ErrKey, ed25519.PrivateKeySize, len(cfg.Key))
	}
	if err := ValidDevice(cfg.Device); err != nil {
		return nil, err
	}
	if err := ValidShop(cfg.Shop); err != nil {
		return nil, err
	}
	if cfg.Head.Seq > MaxSeq {
		return nil, fmt.Errorf("%w: head seq %d beyond %d", ErrField, cfg.Head.Seq, uint64(MaxSeq))
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	clk := cfg.Clock
	if clk == nil {
		sys := clock.New(clock.Options{})
		clk = func() Clock { return StateOf(sys.Read()) }
	}
	return &Sealer{
		clock:  clk,
		key:    cfg.Key,
		pub:    cfg.Key.Public().(ed25519.PublicKey),
		device: cfg.Device,
		shop:   cfg.Shop,
		now:    now,
		head:   cfg.Head,
	}, nil
}

// Device returns the device id the Sealer signs for.
func (s *Sealer) Device() string { return s.device }

// Shop returns the shop code the Sealer writes.
func (s *Sealer) Shop() string { return s.shop }

// PublicKey returns the public half of the device key.
func (s *Sealer) PublicKey() ed25519.PublicKey { return s.pub }

// Head returns the Sealer's own chain head (used by Seal).
func (s *Sealer) Head() Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

// Seal seals one event as the next record of the Sealer's own chain and
// advances the chain. body is marshalled with MarshalBody. It returns the
// record and its wire bytes.
func (s *Sealer) Seal(kind, job string, body any) (Record, []byte, error) {
	b, err := MarshalBody(body)
	if err != nil {
		return Record{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, w, h, err := s.SealNext(s.head, kind, job, b)
	if err != nil {
		return Record{}, nil, err
	}
	s.head = h
	return r, w, nil
}

// SealNext seals one event as the record after head, stamped with the
// current time, and returns the record, its wire bytes and the new head.
// It does not touch the Sealer's own head. body is marshalled with
// MarshalBody (a json.RawMessage is taken as is after compaction).
func (s *Sealer) SealNext(head Head, kind, job string, body any) (Record, []byte, Head, error) {
	b, err := MarshalBody(body)
	if err != nil {
		return Record{}, nil, head, err
	}
	if head.Seq >= MaxSeq {
		return Record{}, nil, head, fmt.Errorf("%w: sequence numbers exhausted at %d", ErrField, head.Seq)
	}
	c0 := s.clock()
	r := Record{
		Schema: SchemaVersion,
		Device: s.device,
		Shop:   s.shop,
		Seq:    head.Seq + 1,
		Time:   s.now().UTC().Truncate(time.Millisecond),
		Clock:  &c0,
		Kind:   kind,
		Job:    job,
		Body:   b,
		Prev:   head.Hash,
	}
	if err := r.Validate(); err != nil {
		return Record{}, nil, head, err
	}
	c := r.Canonical()
	r.Sig = ed25519.Sign(s.key, c)
	return r, wireFromCanonical(c, r.Sig), Head{Seq: r.Seq, Hash: sha256.Sum256(c)}, nil
}

// StateOf is the clock state of a reading, as a record carries it.
func StateOf(r clock.Reading) Clock {
	return Clock{Synced: r.Synced, Boot: r.Boot, MonoMS: uint64(max(r.MonoMS(), 0))}
}

// VerifySignature checks r's signature with the device public key pub.
func (r *Record) VerifySignature(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key must be %d bytes, got %d", ErrKey, ed25519.PublicKeySize, len(pub))
	}
	if len(r.Sig) != ed25519.SignatureSize || !ed25519.Verify(pub, r.Canonical(), r.Sig) {
		return fmt.Errorf("%w: device %s seq %d", ErrBadSignature, r.Device, r.Seq)
	}
	return nil
}

// sigTail is the length of `,"sig":"<88 base64>"}` at the end of every
// wire record.
const sigTail = len(`,"sig":"`) + 88 + len(`"}`)

// WireHash returns the hash of the canonical bytes of the wire record w
// (the "prev" of the record after it), computed from the fixed place of
// the signature at its end without parsing the rest: the check of bytes
// stored byte-exact against their chain. ok is false when w does not end
// the way a wire record does.
func WireHash(w []byte) (h Hash, ok bool) {
	if len(w) < sigTail+2 || string(w[len(w)-sigTail:len(w)-sigTail+len(`,"sig":"`)]) != `,"sig":"` || string(w[len(w)-4:]) != `=="}` {
		return h, false
	}
	for _, c := range w[len(w)-sigTail+len(`,"sig":"`) : len(w)-len(`=="}`)] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return h, false
		}
	}
	d := sha256.New()
	d.Write(w[:len(w)-sigTail])
	d.Write([]byte("}"))
	d.Sum(h[:0])
	return h, true
}

// WirePrev returns the "prev" of the wire record w from its fixed place
// before the signature, without parsing the rest.
func WirePrev(w []byte) (Hash, bool) {
	const hexLen = 2 * sha256.Size
	const member = `,"prev":"`
	end := len(w) - sigTail - len(`"`)
	if end-hexLen-len(member) < 0 || string(w[end-hexLen-len(member):end-hexLen]) != member || w[end] != '"' {
		return Hash{}, false
	}
	h, err := ParseHash(string(w[end-hexLen : end]))
	return h, err == nil
}
