package record

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// exactSeeds are sealed records the layout reader must take: every
// envelope shape (schema 1 and 2, with and without a job) and bodies
// whose strings hold braces, brackets, quotes and escapes.
func exactSeeds(t testing.TB) [][]byte {
	s := testSealer(t, "bay-01")
	var out [][]byte
	for _, b := range []any{
		nil,
		map[string]any{"text": `a "quoted" {brace} [bracket] \ back`, "n": []any{1, 2.5, []int{3}}, "o": map[string]any{"x": nil}},
		json.RawMessage(`{"s":"\u2028 \u00e9 \t","e":[],"o":{}}`),
		map[string]string{"text": "修好了 } ]"},
	} {
		_, w := mustSeal(t, s, KindNote, "", b)
		out = append(out, w)
		_, w = mustSeal(t, s, KindScan, "J-2026-0001", b)
		out = append(out, w)
	}
	// Schema 1: no clock.
	r, _ := mustSeal(t, s, KindNote, "", nil)
	r.Schema, r.Clock = 1, nil
	r.Sig = make([]byte, 64)
	out = append(out, r.Wire())
	return out
}

// TestReadExact: the layout reader takes every sealed record, with the
// result of the JSON reader, and leaves every line that is not in the
// exact form to the JSON reader's explanation.
func TestReadExact(t *testing.T) {
	for i, w := range exactSeeds(t) {
		got, ok := readExact(w)
		if !ok {
			t.Fatalf("%d: readExact refused a sealed record: %s", i, w)
		}
		want, err := readJSON(w)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d: readExact %+v, readJSON %+v (%v)", i, got, want, err)
		}
	}
	w := string(exactSeeds(t)[3]) // seq 4, a scan of job J-2026-0001 with a nested body
	i := strings.Index(w, `"prev":"`) + len(`"prev":"`)
	for name, c := range map[string][2]string{
		"space in body":    {`"n":[1`, `"n": [1`},
		"escaped device":   {`"bay-01"`, `"bay\u002d01"`},
		"leading zero seq": {`"seq":4`, `"seq":04`},
		"seq as float":     {`"seq":4`, `"seq":4.0`},
		"uppercase prev":   {w[i : i+8], strings.ToUpper(w[i : i+8])},
		"schema 3":         {`"schema":2`, `"schema":3`},
		"sig without pad":  {`=="}`, `AA"}`},
		"time without ms":  {`.623Z"`, `Z"`},
		"body not closed":  {`{"x":null}`, `{"x":null`},
		"unknown member":   {`,"prev":`, `,"x":1,"prev":`},
		"trailing newline": {`=="}`, "==\"}\n"},
	} {
		bad := strings.Replace(w, c[0], c[1], 1)
		if bad == w {
			t.Fatalf("%s: %q not in %s", name, c[0], w)
		}
		if _, ok := readExact([]byte(bad)); ok {
			t.Errorf("%s: readExact took %s", name, bad)
		}
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: Decode took %s", name, bad)
		}
	}
}

// FuzzReadExact: whatever the layout reader accepts, the JSON reader
// accepts with the same record; it never panics.
func FuzzReadExact(f *testing.F) {
	for _, s := range exactSeeds(f) {
		f.Add(s)
	}
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readExact(data)
		if !ok {
			return
		}
		want, err := readJSON(data)
		if err != nil {
			t.Fatalf("readExact took what readJSON refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("readExact %+v, readJSON %+v", got, want)
		}
	})
}

// BenchmarkDecode: Decode (the layout reader) beside the JSON reader, on
// a 450-byte note.
func BenchmarkDecode(b *testing.B) {
	s := testSealer(b, "bay-01")
	_, w := mustSeal(b, s, KindNote, "", map[string]any{"author": "T007", "text": strings.Repeat("checked the exhaust line ", 8)})
	b.Run("exact", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			if _, err := readJSON(w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzSpaced: on valid JSON, spaced says exactly whether json.Compact
// would change the text.
func FuzzSpaced(f *testing.F) {
	for _, s := range []string{`{"a":"b c"}`, `{ "a":1}`, `{"a":"\" "}`, `{"a":"\\"  }`, "[1,\n2]", `"\t"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		if got, want := spaced(b), !bytes.Equal(c.Bytes(), b); got != want {
			t.Fatalf("spaced(%q) = %v, json.Compact changes it: %v", b, got, want)
		}
	})
}
