package devicekey

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/bayagent/bayagent/agent/record"
)

// Errors of the key guard (Open) and the rotation.
var (
	// ErrKeyMissing: there is no device key, but the box has signed
	// records before (its chain file, outbox or job files say so). A new
	// key would continue the chain under a key nobody knows: the agent
	// refuses to start until the key is restored or `bayagent key rotate`
	// starts a new one on the record.
	ErrKeyMissing = errors.New("devicekey: the device key is missing, but this box has signed records before")
	// ErrKeyReplaced: the device key is not the key that signed the box's
	// records (the chain file names another one).
	ErrKeyReplaced = errors.New("devicekey: the device key is not the key that signed this box's records")
	// ErrRotationPending: a key rotation was interrupted; running
	// `bayagent key rotate` again finishes it.
	ErrRotationPending = errors.New("devicekey: a key rotation was interrupted")
	// ErrChain: the chain file is damaged or belongs to another device.
	ErrChain = errors.New("devicekey: bad chain file")
)

// Chain is what the box must never forget about its record chain. It is
// kept in a small JSON file beside the device key (ChainPath), written
// atomically, and survives the loss of the outbox database:
//
//	{"bayagent_chain":1,"device":"bay-01","key":"<fingerprint>","seq":1200,"hash":"<hex>","reserved":2224}
//
// The outbox does not rewrite it for every record (that would double the
// cost of storing one): it reserves sequence numbers ahead (Reserved) and
// records a recent head, so a lost, emptied or rolled-back database is
// noticed at the next start and its sequence numbers are never used again
// (see package outbox).
type Chain struct {
	Marker int    `json:"bayagent_chain"`
	Device string `json:"device"`
	// Key is the fingerprint of the device key that signs the chain.
	Key string `json:"key"`
	// Seq and Hash are a recent head of the chain (seq 0: none yet).
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash,omitempty"`
	// Reserved is the highest sequence number that may have been used.
	Reserved uint64 `json:"reserved"`
	// NextKey is the fingerprint of the key a rotation in progress
	// introduces ("" when none is).
	NextKey string `json:"next_key,omitempty"`
	// RetiredKeys are the public keys (standard base64) of the earlier
	// device keys, oldest first: records signed by them may still wait in
	// the outbox.
	RetiredKeys []string `json:"retired_keys,omitempty"`
	// ClockSyncBoot is the boot whose clock_sync record is stored.
	ClockSyncBoot string `json:"clock_sync_boot,omitempty"`
	// UnsyncedBoot is the boot in which the agent saw the clock not
	// synchronised: its records may need the clock_sync record.
	UnsyncedBoot string `json:"unsynced_boot,omitempty"`
}

// ChainPath is the chain file of the key file keyFile.
func ChainPath(keyFile string) string { return keyFile + ".chain" }

// NextPath is where a rotation keeps the new key until the rotation is on
// record.
func NextPath(keyFile string) string { return keyFile + ".next" }

// ChainFile is an open chain file. Its methods are safe for concurrent use.
type ChainFile struct {
	path string

	mu     sync.Mutex
	c      Chain
	exists bool
}

// OpenChain reads the chain file at path; a missing file gives an empty
// chain (Exists false).
func OpenChain(path string) (*ChainFile, error) {
	f := &ChainFile{path: path, c: Chain{Marker: 1}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("devicekey: chain file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f.c); err != nil || f.c.Marker != 1 {
		return nil, fmt.Errorf("%w: %s: not a chain file (%v); restore it, or remove it to have it written again from the device key "+
			"(a lost outbox is then noticed only from the next reservation on)", ErrChain, path, err)
	}
	if f.c.Hash != "" {
		if _, err := record.ParseHash(f.c.Hash); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrChain, path, err)
		}
	}
	f.exists = true
	return f, nil
}

// Path returns the file's path.
func (f *ChainFile) Path() string { return f.path }

// Exists reports whether the file existed when opened or was written since.
func (f *ChainFile) Exists() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exists
}

// Get returns a copy of the chain.
func (f *ChainFile) Get() Chain {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c
	c.RetiredKeys = slices.Clone(c.RetiredKeys)
	return c
}

// Update changes the chain with fn and writes the file atomically; on a
// write error the chain is unchanged.
func (f *ChainFile) Update(fn func(*Chain)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c
	c.RetiredKeys = slices.Clone(c.RetiredKeys)
	fn(&c)
	c.Marker = 1
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("devicekey: chain file: %w", err)
	}
	if err := writeAtomic(f.path, append(b, '\n'), FileMode); err != nil {
		return fmt.Errorf("devicekey: chain file: %w", err)
	}
	f.c, f.exists = c, true
	return nil
}

// Known implements the outbox's chain keeper: the recorded head and the
// reservation; ok is false when nothing was ever reserved.
func (f *ChainFile) Known() (head record.Head, reserved uint64, ok bool) {
	c := f.Get()
	if c.Reserved == 0 && c.Seq == 0 {
		return record.Head{}, 0, false
	}
	head.Seq = c.Seq
	if c.Hash != "" {
		head.Hash, _ = record.ParseHash(c.Hash) // checked by OpenChain and Reserve
	}
	return head, c.Reserved, true
}

// Reserve implements the outbox's chain keeper: it records head and that
// sequence numbers up to upTo may be used, durably.
func (f *ChainFile) Reserve(head record.Head, upTo uint64) error {
	return f.Update(func(c *Chain) {
		c.Seq, c.Hash = head.Seq, ""
		if head.Seq > 0 {
			c.Hash = head.Hash.String()
		}
		c.Reserved = max(c.Reserved, upTo)
	})
}

// RetiredPublicKeys decodes Chain.RetiredKeys (undecodable entries are
// skipped).
func (c *Chain) RetiredPublicKeys() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, s := range c.RetiredKeys {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
			out = append(out, ed25519.PublicKey(b))
		}
	}
	return out
}

// Open loads the device key at keyFile and checks it against its chain
// file, so that a lost or replaced key is never silently replaced:
//
//   - no key and nothing says the box signed records before (no chain
//     file, and stored is false): a first start; a key is generated
//     (created) and the chain file written;
//   - no key, but a chain file, or stored (the caller found records or
//     job files): ErrKeyMissing;
//   - a key other than the one the chain file names: ErrKeyReplaced;
//   - a rotation in progress (Chain.NextKey): ErrRotationPending;
//   - a key and no chain file (a box upgraded from a version without
//     it): the chain file is written.
//
// The errors say what to do: restore the key from its backup, or run
// `bayagent key rotate`.
func Open(keyFile, device string, stored bool) (key ed25519.PrivateKey, chain *ChainFile, created bool, err error) {
	chain, err = OpenChain(ChainPath(keyFile))
	if err != nil {
		return nil, nil, false, err
	}
	c := chain.Get()
	if chain.Exists() && c.Device != "" && c.Device != device {
		return nil, nil, false, fmt.Errorf("%w: %s belongs to device %q, this agent is %q", ErrChain, chain.Path(), c.Device, device)
	}
	if c.NextKey != "" {
		return nil, nil, false, fmt.Errorf("%w (new key %s in %s): run `bayagent key rotate` again to finish it", ErrRotationPending, short(c.NextKey), NextPath(keyFile))
	}
	if c.Key != "" {
		// A rotation interrupted after it was on record, before the new key
		// took the old one's place.
		if next, err := Load(NextPath(keyFile)); err == nil && Fingerprint(next.Public().(ed25519.PublicKey)) == c.Key {
			if err := Promote(keyFile); err != nil {
				return nil, nil, false, err
			}
		}
	}
	key, err = Load(keyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if chain.Exists() || stored {
			return nil, nil, false, fmt.Errorf("%w: %s is gone (its records were signed by key %s): restore it from its backup, "+
				"or run `bayagent key rotate` to start a new key on the record (the health-record operator must then trust the new key)",
				ErrKeyMissing, keyFile, orUnknown(c.Key))
		}
		if key, err = Create(keyFile); err != nil {
			return nil, nil, false, err
		}
		created = true
	case err != nil:
		return nil, nil, false, err
	}
	fp := Fingerprint(key.Public().(ed25519.PublicKey))
	if chain.Exists() && c.Key != "" && c.Key != fp {
		return nil, nil, false, fmt.Errorf("%w: %s holds key %s, but the records were signed by key %s: put the right key back, "+
			"or run `bayagent key rotate` to put a new key on the record", ErrKeyReplaced, keyFile, short(fp), short(c.Key))
	}
	if !chain.Exists() || c.Key == "" || c.Device == "" {
		if err := chain.Update(func(c *Chain) { c.Device, c.Key = device, fp }); err != nil {
			return nil, nil, false, err
		}
	}
	return key, chain, created, nil
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

func orUnknown(fp string) string {
	if fp == "" {
		return "(unknown)"
	}
	return short(fp)
}

// Promote puts the rotation's new key (NextPath) in the place of the key
// file, atomically.
func Promote(keyFile string) error {
	if err := os.Rename(NextPath(keyFile), keyFile); err != nil {
		return fmt.Errorf("devicekey: %w", err)
	}
	return syncDir(filepath.Dir(keyFile))
}
