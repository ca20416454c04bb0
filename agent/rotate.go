package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

// Rotation is what RotateKey did.
type Rotation struct {
	Seq            uint64 // the key_rotation record
	OldFingerprint string // "" when the old key was lost and the chain file did not name it
	NewFingerprint string
	OldKeyLost     bool
}

// RotateKey replaces the device key with a new one, on the record (`bayagent
// key rotate`). The agent must be stopped: the outbox is locked while it
// runs. In order, each step durable before the next, so that running it
// again after a power cut finishes what was started:
//
//  1. the new key is written beside the old one (devicekey.NextPath), and
//     the chain file names it as the key in rotation;
//  2. a "key_rotation" record is stored: sealed by the new key, its body
//     signed by the old key (record.RotationStatement), or saying that the
//     old key was lost;
//  3. the chain file names the new key, and keeps the old public key among
//     the retired ones (records it signed may still wait in the outbox);
//  4. the new key replaces the old key file (the old private key is gone).
//
// The health-record operator must then trust the new public key (the
// .pub.json file beside the key): a receiver that trusts the old key
// follows a rotation the old key signed by itself.
func RotateKey(ctx context.Context, cfg *config.Config, reason string, log *slog.Logger) (Rotation, error) {
	if err := cfg.Validate(); err != nil {
		return Rotation{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reason == "" {
		return Rotation{}, errors.New("agent: key rotate needs a reason")
	}
	keyFile := cfg.Device.KeyFile
	chain, err := devicekey.OpenChain(devicekey.ChainPath(keyFile))
	if err != nil {
		return Rotation{}, err
	}
	c := chain.Get()
	if c.Device != "" && c.Device != cfg.Device.ID {
		return Rotation{}, fmt.Errorf("%w: %s belongs to device %q, this configuration is %q", devicekey.ErrChain, chain.Path(), c.Device, cfg.Device.ID)
	}
	old, err := devicekey.Load(keyFile)
	lost := errors.Is(err, fs.ErrNotExist)
	if err != nil && !lost {
		return Rotation{}, err
	}
	rot := Rotation{OldFingerprint: c.Key, OldKeyLost: lost}
	var oldPub ed25519.PublicKey
	if !lost {
		oldPub = old.Public().(ed25519.PublicKey)
		rot.OldFingerprint = devicekey.Fingerprint(oldPub)
	}

	// 1. The new key, or the one an interrupted rotation left.
	next, err := devicekey.Load(devicekey.NextPath(keyFile))
	switch {
	case err == nil && c.NextKey == devicekey.Fingerprint(next.Public().(ed25519.PublicKey)):
		log.Info("finishing an interrupted key rotation", "new_key", c.NextKey)
	case err == nil || errors.Is(err, fs.ErrNotExist):
		_, next, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Rotation{}, err
		}
		if err := devicekey.Write(devicekey.NextPath(keyFile), next); err != nil {
			return Rotation{}, err
		}
	default:
		return Rotation{}, err
	}
	nextPub := next.Public().(ed25519.PublicKey)
	rot.NewFingerprint = devicekey.Fingerprint(nextPub)
	if err := chain.Update(func(c *devicekey.Chain) {
		c.Device, c.NextKey = cfg.Device.ID, rot.NewFingerprint
		if c.Key == "" {
			c.Key = rot.OldFingerprint
		}
	}); err != nil {
		return Rotation{}, err
	}

	// 2. The record, unless an interrupted run stored it already.
	sealer, err := record.NewSealer(record.SealerConfig{Key: next, Device: cfg.Device.ID, Shop: cfg.Device.Shop})
	if err != nil {
		return Rotation{}, err
	}
	bo := cfg.OutboxOptions()
	bo.Sealer, bo.Logger, bo.Chain = sealer, log.With("part", "outbox"), chain
	if err := makeDir(cfg.Device.StateDir); err != nil {
		return Rotation{}, err
	}
	box, err := outbox.Open(cfg.Outbox.Path, bo)
	if errors.Is(err, outbox.ErrLocked) {
		return Rotation{}, fmt.Errorf("%w: stop the agent first (systemctl stop bayagent)", err)
	}
	if err != nil {
		return Rotation{}, err
	}
	defer box.Close()
	if rot.Seq, err = storedRotation(box, rot.NewFingerprint); err != nil {
		return Rotation{}, err
	}
	if rot.Seq == 0 {
		body := record.KeyRotationBody{
			OldFingerprint: rot.OldFingerprint,
			NewKey:         base64.StdEncoding.EncodeToString(nextPub),
			NewFingerprint: rot.NewFingerprint,
			OldKeyLost:     lost,
			Reason:         reason,
		}
		if !lost {
			body.OldKey = base64.StdEncoding.EncodeToString(oldPub)
			body.OldKeySig = base64.StdEncoding.EncodeToString(ed25519.Sign(old, record.RotationStatement(cfg.Device.ID, nextPub)))
		}
		r, err := box.Append(ctx, record.KindKeyRotation, "", body)
		if err != nil {
			return Rotation{}, err
		}
		rot.Seq = r.Seq
	}

	// 3. and 4.
	if err := chain.Update(func(c *devicekey.Chain) {
		c.Key, c.NextKey = rot.NewFingerprint, ""
		if oldPub != nil {
			c.RetiredKeys = append(c.RetiredKeys, base64.StdEncoding.EncodeToString(oldPub))
		}
	}); err != nil {
		return Rotation{}, err
	}
	if err := devicekey.Promote(keyFile); err != nil {
		return Rotation{}, err
	}
	if err := writePublicKey(cfg, nextPub); err != nil {
		return Rotation{}, err
	}
	log.Info("device key rotated", "seq", rot.Seq, "old_key", rot.OldFingerprint, "new_key", rot.NewFingerprint, "old_key_lost", lost)
	return rot, nil
}

// storedRotation returns the seq of the outbox's newest record when it is
// the key_rotation to the key fp (an interrupted rotation stored it), else
// 0.
func storedRotation(box *outbox.Outbox, fp string) (uint64, error) {
	st, err := box.Stats()
	if err != nil || st.LastSeq == 0 {
		return 0, err
	}
	es, err := box.Next(st.LastSeq-1, 1)
	if err != nil || len(es) == 0 {
		return 0, err
	}
	r, err := record.Decode(es[0].Data)
	if err != nil || r.Kind != record.KindKeyRotation {
		return 0, nil
	}
	var b record.KeyRotationBody
	if json.Unmarshal(r.Body, &b) != nil || b.NewFingerprint != fp {
		return 0, nil
	}
	return r.Seq, nil
}
