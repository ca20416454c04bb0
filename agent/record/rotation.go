package record

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
)

// KeyRotationBody is the body of a "key_rotation" record: the device key
// changes. The record is sealed by the new key, and the old key signs
// RotationStatement (OldKeySig), so a receiver that trusts the old key can
// trust the new one from this record on. A box that lost its old key can
// only say so (OldKeyLost): the receiver's operator must then decide
// whether to trust the new key.
type KeyRotationBody struct {
	// OldKey is the old public key (standard base64); "" when it was lost.
	OldKey string `json:"old_key,omitempty"`
	// OldFingerprint is the hex SHA-256 of the old public key, when known.
	OldFingerprint string `json:"old_fingerprint,omitempty"`
	NewKey         string `json:"new_key"`
	NewFingerprint string `json:"new_fingerprint"`
	// OldKeySig is the old key's ed25519 signature (standard base64) of
	// RotationStatement(device, new key).
	OldKeySig  string `json:"old_key_sig,omitempty"`
	OldKeyLost bool   `json:"old_key_lost,omitempty"`
	// Reason is the operator's reason for the rotation.
	Reason string `json:"reason"`
}

// RotationStatement is what the old key signs in a key_rotation record:
// that device hands its chain over to the key newPub.
func RotationStatement(device string, newPub ed25519.PublicKey) []byte {
	return []byte("bayagent key rotation v1\ndevice " + device + "\nnew key " + base64.StdEncoding.EncodeToString(newPub) + "\n")
}

// rotation is what Verify reads from a key_rotation record.
type rotation struct {
	newKey ed25519.PublicKey
	oldSig []byte // nil when missing or malformed
	stmt   []byte
}

func parseRotation(r *Record) *rotation {
	if r.Kind != KindKeyRotation {
		return nil
	}
	var b KeyRotationBody
	if json.Unmarshal(r.Body, &b) != nil {
		return nil
	}
	pub, err := base64.StdEncoding.DecodeString(b.NewKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil
	}
	rot := &rotation{newKey: pub, stmt: RotationStatement(r.Device, pub)}
	if sig, err := base64.StdEncoding.DecodeString(b.OldKeySig); err == nil && len(sig) == ed25519.SignatureSize {
		rot.oldSig = sig
	}
	return rot
}
