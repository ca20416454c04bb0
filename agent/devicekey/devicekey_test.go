package devicekey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created || len(k1) != ed25519.PrivateKeySize {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("second start: created=%v err=%v same=%v", created, err, k1.Equal(k2))
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries", len(ents))
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("key file is not PEM PKCS #8")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, good, _ := ed25519.GenerateKey(rand.Reader)
	goodPath := filepath.Join(dir, "good.key")
	if err := Write(goodPath, good); err != nil {
		t.Fatal(err)
	}
	goodPEM, _ := os.ReadFile(goodPath)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})

	tests := []struct {
		name string
		data []byte
		mode fs.FileMode
		want error
	}{
		{"group readable", goodPEM, 0o640, ErrPermissions},
		{"world readable", goodPEM, 0o604, ErrPermissions},
		{"empty", nil, 0o600, ErrInvalid},
		{"garbage", []byte("hello"), 0o600, ErrInvalid},
		{"wrong PEM type", bytes.Replace(goodPEM, []byte("PRIVATE KEY"), []byte("PUBLIC KEY"), 2), 0o600, ErrInvalid},
		{"trailing data", append(append([]byte{}, goodPEM...), "extra"...), 0o600, ErrInvalid},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600, ErrInvalid},
		{"ecdsa key", ecPEM, 0o600, ErrInvalid},
		{"too large", bytes.Repeat([]byte("x"), maxFileBytes+1), 0o600, ErrInvalid},
		{"read-only 0400 is fine", goodPEM, 0o400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tc.mode)
			k, err := Load(p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), string(goodPEM[30:60])) {
				t.Fatal("error message contains key material")
			}
			if _, _, err2 := LoadOrCreate(p); !errors.Is(err2, tc.want) {
				t.Fatalf("LoadOrCreate must not replace a bad key file: %v", err2)
			}
			if tc.want == nil && !k.Equal(good) {
				t.Fatal("loaded another key")
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrPermissions) {
		t.Fatalf("directory: %v", err)
	}
}

func TestPublicExport(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	p, err := PublicPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	got, dev, err := ParsePublic(p)
	if err != nil || !got.Equal(pub) || dev != "" {
		t.Fatalf("PEM round trip: %v", err)
	}
	j, _ := json.Marshal(NewPublicInfo("bay-01", pub))
	got, dev, err = ParsePublic(j)
	if err != nil || !got.Equal(pub) || dev != "bay-01" {
		t.Fatalf("JSON round trip: %v %q", err, dev)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	bad := NewPublicInfo("bay-01", pub)
	bad.Fingerprint = Fingerprint(other)
	jb, _ := json.Marshal(bad)
	for name, data := range map[string][]byte{
		"fingerprint mismatch": jb,
		"wrong algorithm":      []byte(`{"device":"d","algorithm":"rsa","public_key":""}`),
		"short key":            []byte(`{"device":"d","algorithm":"ed25519","public_key":"AAAA"}`),
		"unknown field":        []byte(`{"device":"d","x":1}`),
		"not pem":              []byte("hello"),
		"private pem":          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"bad der":              pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
	} {
		if _, _, err := ParsePublic(data); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParsePrivate(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivate(data)
		if err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
	})
}

func FuzzParsePublic(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	p, _ := PublicPEM(pub)
	j, _ := json.Marshal(NewPublicInfo("bay-01", pub))
	f.Add(p)
	f.Add(j)
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, _, err := ParsePublic(data)
		if err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
	})
}
