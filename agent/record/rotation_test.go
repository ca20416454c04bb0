package record

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// rotationStream seals three records with the old key, a key_rotation to a
// new key (the body signed by the old key unless lost), then two records
// with the new key, and returns their wire lines.
func rotationStream(t *testing.T, lost bool) ([][]byte, ed25519.PublicKey) {
	t.Helper()
	old := testSealer(t, "bay-01")
	var lines [][]byte
	for range 3 {
		_, w := mustSeal(t, old, KindNote, "J-1", map[string]int{"n": 1})
		lines = append(lines, w)
	}
	seed := sha256.Sum256([]byte("the new key"))
	nk := ed25519.NewKeyFromSeed(seed[:])
	npub := nk.Public().(ed25519.PublicKey)
	next, err := NewSealer(SealerConfig{Key: nk, Device: "bay-01", Shop: "330106000123456", Head: old.Head()})
	if err != nil {
		t.Fatal(err)
	}
	body := KeyRotationBody{NewKey: base64.StdEncoding.EncodeToString(npub), Reason: "test", OldKeyLost: lost}
	if !lost {
		body.OldKey = base64.StdEncoding.EncodeToString(old.PublicKey())
		body.OldKeySig = base64.StdEncoding.EncodeToString(ed25519.Sign(testKey(), RotationStatement("bay-01", npub)))
	}
	_, w := mustSeal(t, next, KindKeyRotation, "", body)
	lines = append(lines, w)
	for range 2 {
		_, w := mustSeal(t, next, KindNote, "J-1", map[string]int{"n": 2})
		lines = append(lines, w)
	}
	return lines, npub
}

func TestVerifyKeyRotation(t *testing.T) {
	lines, npub := rotationStream(t, false)
	keys := Keys{"bay-01": testKey().Public().(ed25519.PublicKey)}
	rep := Verify(strings.NewReader(join(lines...)), keys)
	d := rep.Devices[0]
	if !rep.OK() || d.KeyRotations.String() != "4" || d.BadSignatures.Count != 0 {
		t.Fatalf("a rotation signed by both keys:\n%s", rep)
	}
	// Records of the new key arriving before the rotation still verify.
	rep = Verify(strings.NewReader(join(lines[0], lines[1], lines[2], lines[5], lines[4], lines[3])), keys)
	if d := rep.Devices[0]; d.BadSignatures.Count != 0 || d.Reorders.Count == 0 {
		t.Fatalf("re-ordered rotation:\n%s", rep)
	}
	// A record of the old key after the rotation is not genuine.
	forged, err := NewSealer(SealerConfig{Key: testKey(), Device: "bay-01", Shop: "330106000123456", Head: Head{Seq: 6}})
	if err != nil {
		t.Fatal(err)
	}
	_, w, err := forged.Seal(KindNote, "J-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = Verify(strings.NewReader(join(append(lines[:6:6], w)...)), keys)
	if d := rep.Devices[0]; d.BadSignatures.String() != "7" {
		t.Fatalf("old key after the rotation:\n%s", rep)
	}
	// Starting from the new key (a receiver that already trusts it).
	rep = Verify(strings.NewReader(join(lines[4:]...)), Keys{"bay-01": npub})
	if !rep.OK() {
		t.Fatalf("stream after the rotation with the new key:\n%s", rep)
	}
}

func TestVerifyUnauthorisedRotation(t *testing.T) {
	lines, _ := rotationStream(t, true)
	rep := Verify(strings.NewReader(join(lines...)), Keys{"bay-01": testKey().Public().(ed25519.PublicKey)})
	d := rep.Devices[0]
	if rep.OK() || d.UnauthorisedRotations.String() != "4" || d.BadSignatures.Count != 0 {
		t.Fatalf("a rotation without the old key's signature:\n%s", rep)
	}
	if !strings.Contains(rep.String(), "key rotations not signed by the key before them: 4") {
		t.Errorf("report:\n%s", rep)
	}
}
