package record

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) [][]byte {
	s := testSealer(f, "bay-01")
	c := chain(f, s, 3)
	seeds := [][]byte{nil, []byte("{}"), []byte(`{"schema":1}`), []byte("\n\n"), []byte(`{"schema":1,"seq":1e3}`)}
	seeds = append(seeds, c...)
	seeds = append(seeds, []byte(join(c[0], c[2], c[1], c[1])))
	seeds = append(seeds, bytes.Replace(c[1], []byte(`"i":1`), []byte(`"i":2`), 1))
	return seeds
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		// Anything Decode accepts is in the exact wire form and re-encodes
		// to the same bytes.
		if !bytes.Equal(r.Wire(), data) {
			t.Fatalf("accepted non-canonical line:\n%q\n%q", data, r.Wire())
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted invalid record: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	keys := Keys{"bay-01": testKey().Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep := Verify(bytes.NewReader(data), keys)
		if rep.Records+rep.UnparseableCount > rep.Lines {
			t.Fatalf("counted %d records and %d bad lines in %d lines", rep.Records, rep.UnparseableCount, rep.Lines)
		}
		_ = rep.String()
		if !strings.HasPrefix(rep.String(), "OK") && rep.OK() {
			t.Fatal("String disagrees with OK")
		}
	})
}

// FuzzWireHash: the layout readers never panic, and agree with Decode on
// every record Decode accepts.
func FuzzWireHash(f *testing.F) {
	s := testSealer(f, "bay-01")
	_, w := mustSeal(f, s, KindNote, "J-1", map[string]int{"n": 1})
	f.Add(w)
	f.Add([]byte(`{"sig":"` + strings.Repeat("A", 86) + `=="}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, hok := WireHash(b)
		p, pok := WirePrev(b)
		if r, err := Decode(b); err == nil {
			if !hok || !pok || h != r.Hash() || p != r.Prev {
				t.Fatalf("WireHash/WirePrev disagree with Decode on %q", b)
			}
		}
	})
}
