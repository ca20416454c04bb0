package web

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bayagent/bayagent/agent/internal/atomicfile"
)

// Errors of the PIN file, compared with errors.Is.
var (
	// ErrNoPIN: no PIN has been set for the screen (the PIN file does not
	// exist): nobody can log in until one is set (`bayagent screen pin`).
	ErrNoPIN = errors.New("web: no screen PIN set (run bayagent screen pin)")
	// ErrPINFile: the PIN file is not in the form HashPIN writes.
	ErrPINFile = errors.New("web: PIN file is damaged")
	// ErrWeakPIN: the PIN or password is too short or too simple.
	ErrWeakPIN = errors.New("web: PIN too weak")
)

// PIN rules: a PIN of at least MinPINDigits digits, or a password of at
// least MinPasswordChars characters; at most MaxPINChars characters.
const (
	MinPINDigits     = 6
	MinPasswordChars = 8
	MaxPINChars      = 128
)

// DefaultPINIterations is the PBKDF2-HMAC-SHA256 iteration count HashPIN
// uses: about half a second on a Raspberry Pi 4 core (which has no SHA
// instructions), the price of one login attempt. The count is stored in
// the hash, so it can change without invalidating set PINs.
const DefaultPINIterations = 200_000

const (
	pinScheme  = "pbkdf2-sha256"
	saltBytes  = 16
	keyBytes   = 32
	minPINIter = 1000
	maxPINIter = 10_000_000
)

// CheckPIN reports whether pin is acceptable as the screen's secret: at
// least MinPINDigits digits that are not all the same digit nor a run
// (123456, 654321), or a password of at least MinPasswordChars printable
// characters.
func CheckPIN(pin string) error {
	n := utf8.RuneCountInString(pin)
	switch {
	case !utf8.ValidString(pin) || strings.IndexFunc(pin, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: it must be printable text", ErrWeakPIN)
	case n > MaxPINChars:
		return fmt.Errorf("%w: at most %d characters", ErrWeakPIN, MaxPINChars)
	case strings.Trim(pin, "0123456789") == "":
		if n < MinPINDigits {
			return fmt.Errorf("%w: a PIN needs at least %d digits", ErrWeakPIN, MinPINDigits)
		}
		if trivialDigits(pin) {
			return fmt.Errorf("%w: a PIN of one repeated digit or a run such as 123456 is guessed first", ErrWeakPIN)
		}
	case n < MinPasswordChars:
		return fmt.Errorf("%w: a password needs at least %d characters (or use a PIN of %d digits or more)", ErrWeakPIN, MinPasswordChars, MinPINDigits)
	}
	return nil
}

func trivialDigits(pin string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && (d == 1 || d == -9)
		down = down && (d == -1 || d == 9)
	}
	return same || up || down
}

// HashPIN returns the stored form of a PIN: pbkdf2-sha256$ITER$SALT$KEY
// (salt and key in unpadded base64url). iter 0 means DefaultPINIterations.
func HashPIN(pin string, iter int) (string, error) {
	if err := CheckPIN(pin); err != nil {
		return "", err
	}
	if iter == 0 {
		iter = DefaultPINIterations
	}
	if iter < minPINIter || iter > maxPINIter {
		return "", fmt.Errorf("web: PIN iterations must be %d to %d: %d", minPINIter, maxPINIter, iter)
	}
	salt := make([]byte, saltBytes)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pin, salt, iter, keyBytes)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return fmt.Sprintf("%s$%d$%s$%s", pinScheme, iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// pinHash is a parsed stored PIN.
type pinHash struct {
	iter      int
	salt, key []byte
}

func parsePINHash(s string) (pinHash, error) {
	parts := strings.Split(strings.TrimSpace(s), "$")
	if len(parts) != 4 || parts[0] != pinScheme {
		return pinHash{}, fmt.Errorf("%w: want %s$ITERATIONS$SALT$KEY", ErrPINFile, pinScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < minPINIter || iter > maxPINIter {
		return pinHash{}, fmt.Errorf("%w: iterations %q", ErrPINFile, parts[1])
	}
	enc := base64.RawURLEncoding
	salt, err1 := enc.DecodeString(parts[2])
	key, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != keyBytes {
		return pinHash{}, fmt.Errorf("%w: salt or key badly encoded", ErrPINFile)
	}
	return pinHash{iter: iter, salt: salt, key: key}, nil
}

// verify reports whether pin matches, in time that does not depend on how
// much of it matches.
func (h pinHash) verify(pin string) bool {
	if len(pin) > 4*MaxPINChars {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, pin, h.salt, h.iter, keyBytes)
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// readPINFile reads the stored PIN at path: ErrNoPIN when the file does not
// exist, ErrPINFile when it is damaged.
func readPINFile(path string) (pinHash, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return pinHash{}, fmt.Errorf("%w: %s does not exist", ErrNoPIN, path)
	}
	if err != nil {
		return pinHash{}, fmt.Errorf("web: PIN file: %w", err)
	}
	h, err := parsePINHash(string(b))
	if err != nil {
		return pinHash{}, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// WritePINFile hashes pin and writes it to path (mode 0600, replacing any
// earlier PIN atomically). The PIN itself is never written anywhere.
func WritePINFile(path, pin string, iter int) error {
	h, err := HashPIN(pin, iter)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("web: PIN file: %w", err)
	}
	if err := atomicfile.Write(path, []byte(h+"\n"), 0o600); err != nil {
		return fmt.Errorf("web: PIN file: %w", err)
	}
	return nil
}

// RandomPIN returns a random PIN of n digits (at least MinPINDigits) that
// CheckPIN accepts: the one-time PIN of the demo, or a first PIN at
// install.
func RandomPIN(n int) string {
	n = max(n, MinPINDigits)
	for {
		b := make([]byte, n)
		for i := range b {
			b[i] = '0' + byte(randIntn(10))
		}
		if CheckPIN(string(b)) == nil {
			return string(b)
		}
	}
}

// randIntn returns a uniform random number in [0, n) for small n.
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
