package web

import "testing"

// FuzzParsePINHash: a damaged PIN file is an error, never a crash, and
// never a hash that accepts any PIN.
func FuzzParsePINHash(f *testing.F) {
	good, err := HashPIN("418027", minPINIter)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "pbkdf2-sha256$", "pbkdf2-sha256$1000$$", "pbkdf2-sha256$99999999999$AAAA$BBBB", good + "$x", "md5$1$2$3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePINHash(s)
		if err != nil {
			return
		}
		if h.iter > 20_000 {
			return // a valid but slow hash: checking it would only take time
		}
		if h.verify("") || h.verify("not the pin 123") && s != good {
			t.Fatalf("%q accepts a wrong PIN", s)
		}
	})
}
