package record

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/records golden files")

// compareGolden fails the test unless the golden file at path holds want;
// with -update it writes want there instead.
func compareGolden(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s differs from what the code produces now (%v; go test -update rewrites it):\n%s", path, err, want)
	}
}

// testKey is the fixed key of the test device; its public half is in
// testdata/records/bay-test.pub.json. Never used outside tests.
func testKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("bayagent test device key (testdata only)"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// testSealer returns a sealer whose clock starts at a fixed time and
// advances 1.5 s per record.
func testSealer(t testing.TB, device string) *Sealer {
	t.Helper()
	clock := time.Date(2026, 11, 29, 5, 0, 0, 123e6, time.UTC)
	mono := uint64(1000)
	s, err := NewSealer(SealerConfig{
		Key: testKey(), Device: device, Shop: "330106000123456",
		Now:   func() time.Time { c := clock; clock = clock.Add(1500 * time.Millisecond); return c },
		Clock: func() Clock { m := mono; mono += 1500; return Clock{Synced: true, Boot: "0f3a", MonoMS: m} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSeal(t testing.TB, s *Sealer, kind, job string, body any) (Record, []byte) {
	t.Helper()
	r, w, err := s.Seal(kind, job, body)
	if err != nil {
		t.Fatalf("Seal(%s): %v", kind, err)
	}
	return r, w
}

func TestCanonicalForm(t *testing.T) {
	s := testSealer(t, "bay-01")
	r, w := mustSeal(t, s, KindScan, "J-2026-0001", json.RawMessage(`{ "vin" : "LSVAU2180N2183294", "mil": true }`))
	want := `{"schema":2,"device":"bay-01","shop":"330106000123456","seq":1,"time":"2026-11-29T05:00:00.123Z",` +
		`"clock":{"synced":true,"boot":"0f3a","mono_ms":1000},"kind":"scan","job":"J-2026-0001","body":{"vin":"LSVAU2180N2183294","mil":true},` +
		`"prev":"0000000000000000000000000000000000000000000000000000000000000000"}`
	if got := string(r.Canonical()); got != want {
		t.Fatalf("canonical:\n got %s\nwant %s", got, want)
	}
	if !bytes.HasPrefix(w, []byte(want[:len(want)-1]+`,"sig":"`)) || !bytes.HasSuffix(w, []byte(`"}`)) {
		t.Fatalf("wire form is not canonical+sig: %s", w)
	}
	if !ed25519.Verify(testKey().Public().(ed25519.PublicKey), []byte(want), r.Sig) {
		t.Fatal("signature is not over the canonical bytes")
	}
	r2, w2 := mustSeal(t, s, KindNote, "", map[string]string{"text": "<ok & fine>"})
	if r2.Prev != sha256.Sum256([]byte(want)) || r2.Seq != 2 {
		t.Fatalf("second record: seq %d prev %s, want seq 2 prev sha256(first)", r2.Seq, r2.Prev)
	}
	if !bytes.Contains(w2, []byte(`"job":""`)) {
		t.Fatalf("empty job must be written as \"\": %s", w2)
	}
	if s.Head() != (Head{Seq: 2, Hash: r2.Hash()}) {
		t.Fatalf("head %+v after two seals", s.Head())
	}
}

func TestSealDecodeRoundTrip(t *testing.T) {
	s := testSealer(t, "bay-01")
	pub := s.PublicKey()
	for i, body := range []any{nil, map[string]any{"a": 1.5, "b": []int{1, 2}}, json.RawMessage(`{"x":"\u00e9\n"}`), []byte(`{"k":{}}`)} {
		r, w := mustSeal(t, s, KindEmission, "J-1", body)
		got, err := Decode(w)
		if err != nil {
			t.Fatalf("%d: Decode(%s): %v", i, w, err)
		}
		if !bytes.Equal(got.Wire(), w) || got.Seq != r.Seq || !got.Time.Equal(r.Time) || got.Hash() != r.Hash() {
			t.Fatalf("%d: round trip differs:\n%s\n%s", i, got.Wire(), w)
		}
		if err := got.VerifySignature(pub); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
}

func TestSealNextIsPure(t *testing.T) {
	s := testSealer(t, "bay-01")
	h := Head{Seq: 41, Hash: sha256.Sum256([]byte("x"))}
	r, _, nh, err := s.SealNext(h, KindNote, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 42 || r.Prev != h.Hash || nh.Seq != 42 || nh.Hash != r.Hash() {
		t.Fatalf("SealNext: rec seq %d prev %s, head %+v", r.Seq, r.Prev, nh)
	}
	if s.Head() != (Head{}) {
		t.Fatalf("SealNext changed the sealer's own head: %+v", s.Head())
	}
}

func TestSealErrors(t *testing.T) {
	s := testSealer(t, "bay-01")
	big := map[string]string{"x": strings.Repeat("a", MaxBodyBytes)}
	tests := []struct {
		name      string
		kind, job string
		body      any
		want      error
	}{
		{"empty kind", "", "", nil, ErrField},
		{"upper kind", "Scan", "", nil, ErrField},
		{"kind with quote", `sc"an`, "", nil, ErrField},
		{"job with space", "note", "J 1", nil, ErrField},
		{"job too long", "note", strings.Repeat("j", 65), nil, ErrField},
		{"body array", "note", "", []int{1}, ErrField},
		{"body string", "note", "", "text", ErrField},
		{"body raw invalid", "note", "", json.RawMessage(`{"a":`), ErrField},
		{"body unmarshalable", "note", "", map[string]any{"f": func() {}}, ErrField},
		{"body too large", "note", "", big, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Seal(tc.kind, tc.job, tc.body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Seal: %v, want %v", err, tc.want)
			}
		})
	}
	if s.Head().Seq != 0 {
		t.Fatalf("failed seals advanced the head to %d", s.Head().Seq)
	}
	for _, cfg := range []SealerConfig{
		{Key: testKey()[:10], Device: "d", Shop: "s"},
		{Key: testKey(), Device: "-d", Shop: "s"},
		{Key: testKey(), Device: "d", Shop: ""},
	} {
		if _, err := NewSealer(cfg); err == nil {
			t.Errorf("NewSealer(%q, %q) accepted a bad config", cfg.Device, cfg.Shop)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	s := testSealer(t, "bay-01")
	_, w := mustSeal(t, s, KindNote, "J-1", map[string]int{"n": 1})
	good := string(w)
	tests := []struct {
		name string
		line string
		want error
	}{
		{"empty", "", ErrSyntax},
		{"not json", "hello", ErrSyntax},
		{"array", "[1]", ErrSyntax},
		{"trailing data", good + " {}", ErrSyntax},
		{"unknown field", strings.Replace(good, `{"schema":2,`, `{"schema":2,"x":1,`, 1), ErrSyntax},
		{"schema 3", strings.Replace(good, `"schema":2`, `"schema":3`, 1), ErrSchema},
		{"schema 1 with a clock", strings.Replace(good, `"schema":2`, `"schema":1`, 1), ErrField},
		{"no clock", strings.Replace(good, `"clock":{"synced":true,"boot":"0f3a","mono_ms":1000},`, ``, 1), ErrField},
		{"clock without boot", strings.Replace(good, `"boot":"0f3a",`, ``, 1), ErrField},
		{"clock unknown member", strings.Replace(good, `"mono_ms":1000}`, `"mono_ms":1000,"x":1}`, 1), ErrSyntax},
		{"clock boot upper", strings.Replace(good, `"boot":"0f3a"`, `"boot":"0F3A"`, 1), ErrField},
		{"clock synced string", strings.Replace(good, `"synced":true`, `"synced":"true"`, 1), ErrSyntax},
		{"clock order", strings.Replace(good, `"synced":true,"boot":"0f3a"`, `"boot":"0f3a","synced":true`, 1), ErrNotCanonical},
		{"no schema", strings.Replace(good, `"schema":2,`, ``, 1), ErrField},
		{"no sig", good[:strings.Index(good, `,"sig"`)] + "}", ErrField},
		{"seq 0", strings.Replace(good, `"seq":1,`, `"seq":0,`, 1), ErrField},
		{"seq negative", strings.Replace(good, `"seq":1,`, `"seq":-1,`, 1), ErrSyntax},
		{"seq float", strings.Replace(good, `"seq":1,`, `"seq":1.0,`, 1), ErrSyntax},
		{"seq huge", strings.Replace(good, `"seq":1,`, `"seq":9007199254740992,`, 1), ErrField},
		{"time no ms", strings.Replace(good, `05:00:00.123Z`, `05:00:00Z`, 1), ErrField},
		{"time offset", strings.Replace(good, `05:00:00.123Z`, `05:00:00.123+01:00`, 1), ErrField},
		{"prev upper", strings.Replace(good, `"prev":"0`, `"prev":"A`, 1), ErrField},
		{"prev short", strings.Replace(good, `"prev":"0`, `"prev":"`, 1), ErrField},
		{"sig bad b64", strings.Replace(good, `"sig":"`, `"sig":"!`, 1), ErrField},
		{"body array", strings.Replace(good, `"body":{"n":1}`, `"body":[1]`, 1), ErrField},
		{"body spaced", strings.Replace(good, `"body":{"n":1}`, `"body":{"n": 1}`, 1), ErrNotCanonical},
		{"field order", strings.Replace(good, `"kind":"note","job":"J-1"`, `"job":"J-1","kind":"note"`, 1), ErrNotCanonical},
		{"escaped char", strings.Replace(good, `"kind":"note"`, `"kind":"n\u006fte"`, 1), ErrNotCanonical},
		{"spaces", strings.Replace(good, `"schema":2,`, `"schema": 2,`, 1), ErrNotCanonical},
		{"duplicate key", strings.Replace(good, `"seq":1,`, `"seq":2,"seq":1,`, 1), ErrNotCanonical},
		{"device bad", strings.Replace(good, `"device":"bay-01"`, `"device":"bay 01"`, 1), ErrField},
		{"too long", good + strings.Repeat(" ", MaxLineBytes), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.line == good {
				t.Fatal("the mutation did not apply")
			}
			_, err := Decode([]byte(tc.line))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode: %v, want %v", err, tc.want)
			}
		})
	}
	// A schema 1 record (before "clock") is still read, without a clock.
	v1 := strings.Replace(strings.Replace(good, `"schema":2`, `"schema":1`, 1), `"clock":{"synced":true,"boot":"0f3a","mono_ms":1000},`, ``, 1)
	if r, err := Decode([]byte(v1)); err != nil || r.Schema != 1 || r.Clock != nil {
		t.Errorf("schema 1: %+v, %v", r, err)
	}
	if _, err := Decode(w); err != nil {
		t.Fatalf("good line: %v", err)
	}
}

func TestVerifySignatureErrors(t *testing.T) {
	s := testSealer(t, "bay-01")
	r, _ := mustSeal(t, s, KindNote, "", nil)
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if err := r.VerifySignature(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := r.VerifySignature(other[:5]); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
	r.Body = json.RawMessage(`{"n":2}`)
	if err := r.VerifySignature(s.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("edited body: %v", err)
	}
}

// chain seals n records for device and returns their wire lines.
func chain(t testing.TB, s *Sealer, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		_, w := mustSeal(t, s, KindNote, "J-1", map[string]int{"i": i})
		out = append(out, w)
	}
	return out
}

// join is the wire lines ls as one stream, a line each.
func join(ls ...[]byte) string {
	var b bytes.Buffer
	for _, l := range ls {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestVerify(t *testing.T) {
	s := testSealer(t, "bay-01")
	c := chain(t, s, 6) // seq 1..6
	keys := Keys{"bay-01": s.PublicKey()}

	// A record for seq 4 with different content, validly signed: what a
	// device that reused a sequence number (or a forger with the key) emits.
	forger := testSealer(t, "bay-01")
	forged, _ := func() (Record, []byte) {
		r, _ := Decode(c[2])
		r2, w, _, err := forger.SealNext(Head{Seq: 3, Hash: r.Hash()}, KindNote, "J-1", map[string]string{"edited": "yes"})
		if err != nil {
			t.Fatal(err)
		}
		return r2, w
	}()
	// Seq 5 re-signed with a wrong prev: broken link with a valid signature.
	_, badLink, _, err := s.SealNext(Head{Seq: 4, Hash: sha256.Sum256([]byte("not the record"))}, KindNote, "J-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Seq 3 with its body edited but the old signature kept.
	tampered := bytes.Replace(c[2], []byte(`{"i":2}`), []byte(`{"i":9}`), 1)
	// A reset record continuing at seq 7 with a new chain.
	_, reset, _, err := s.SealNext(Head{Seq: 6}, KindOutboxReset, "", map[string]string{"moved_to": "outbox.db.corrupt-x"})
	if err != nil {
		t.Fatal(err)
	}
	other := testSealer(t, "bay-02")
	oc := chain(t, other, 2)

	check := func(d DeviceReport) string {
		return fmt.Sprintf("n=%d %d..%d missing=%d gaps=%v dup=%d conf=%v reord=%v link=%v sig=%v reset=%v unk=%v",
			d.Records, d.FirstSeq, d.LastSeq, d.Missing, d.Gaps, d.Duplicates.Count, d.Conflicts.Seqs,
			d.Reorders.Seqs, d.BrokenLinks.Seqs, d.BadSignatures.Seqs, d.Resets.Seqs, d.UnknownKey)
	}
	tests := []struct {
		name   string
		input  string
		keys   KeySource
		ok     bool
		device string // report line for bay-01
		unpars []int  // unparseable line numbers
	}{
		{"clean", join(c...), keys, true, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"no keys", join(c...), nil, true, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"partial stream from seq 3", join(c[2:]...), keys, true, "n=4 3..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"gap", join(c[0], c[1], c[4], c[5]), keys, false, "n=4 1..6 missing=2 gaps=[{3 4}] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"exact duplicates", join(c[0], c[1], c[1], c[2], c[0], c[3], c[4], c[5]), keys, true, "n=6 1..6 missing=0 gaps=[] dup=2 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"reordered", join(c[0], c[2], c[1], c[3], c[5], c[4]), keys, false, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[2 5] link=[] sig=[] reset=[] unk=false", nil},
		{"conflict", join(c[0], c[1], c[2], c[3], forged.Wire(), c[4], c[5]), keys, false, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[4] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"broken link", join(c[0], c[1], c[2], c[3], badLink), keys, false, "n=5 1..5 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[5] sig=[] reset=[] unk=false", nil},
		{"tampered body", join(c[0], c[1], tampered, c[3]), keys, false, "n=4 1..4 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[4] sig=[3] reset=[] unk=false", nil},
		{"tampered then genuine", join(c[0], c[1], tampered, c[2], c[3]), keys, false, "n=4 1..4 missing=0 gaps=[] dup=0 conf=[3] reord=[] link=[] sig=[3] reset=[] unk=false", nil},
		{"unknown key", join(c...), Keys{}, false, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=true", nil},
		{"reset", join(append(c, reset)...), keys, false, "n=7 1..7 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[7] unk=false", nil},
		{"garbage lines", join(c[0], []byte("garbage"), nil, c[1], []byte(`{"schema":1}`)), keys, false, "n=2 1..2 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", []int{2, 5}},
		{"two devices", join(c[0], oc[0], c[1], oc[1]), Keys{"bay-01": s.PublicKey(), "bay-02": other.PublicKey()}, true, "n=2 1..2 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"crlf", strings.ReplaceAll(join(c...), "\n", "\r\n"), keys, true, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
		{"no final newline", strings.TrimSuffix(join(c...), "\n"), keys, true, "n=6 1..6 missing=0 gaps=[] dup=0 conf=[] reord=[] link=[] sig=[] reset=[] unk=false", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, rd := range []func() *Report{
				func() *Report { return Verify(strings.NewReader(tc.input), tc.keys) },
				func() *Report { return Verify(iotest.OneByteReader(strings.NewReader(tc.input)), tc.keys) },
				func() *Report { return Verify(iotest.HalfReader(strings.NewReader(tc.input)), tc.keys) },
			} {
				rep := rd()
				if rep.OK() != tc.ok {
					t.Errorf("OK() = %v, want %v\n%s", rep.OK(), tc.ok, rep)
				}
				if len(rep.Devices) == 0 || rep.Devices[0].Device != "bay-01" {
					t.Fatalf("no report for bay-01:\n%s", rep)
				}
				s := check(rep.Devices[0])
				if s != tc.device {
					t.Errorf("bay-01:\n got %s\nwant %s\n%s", s, tc.device, rep)
				}
				var un []int
				for _, e := range rep.Unparseable {
					un = append(un, e.Line)
				}
				if fmt.Sprint(un) != fmt.Sprint(tc.unpars) {
					t.Errorf("unparseable lines %v, want %v", un, tc.unpars)
				}
				if rep.SignaturesChecked != (tc.keys != nil) {
					t.Errorf("SignaturesChecked = %v", rep.SignaturesChecked)
				}
				var back Report
				if err := json.Unmarshal(rep.MarshalJSONIndent(), &back); err != nil || back.OK() != rep.OK() {
					t.Errorf("JSON form does not round-trip: %v", err)
				}
			}
		})
	}
}

func TestVerifyLongLine(t *testing.T) {
	s := testSealer(t, "bay-01")
	c := chain(t, s, 2)
	in := join(c[0], bytes.Repeat([]byte("x"), MaxLineBytes+10), c[1])
	rep := Verify(strings.NewReader(in), Keys{"bay-01": s.PublicKey()})
	if rep.UnparseableCount != 1 || rep.Unparseable[0].Line != 2 || !strings.Contains(rep.Unparseable[0].Err, "longer") {
		t.Fatalf("long line: %+v", rep.Unparseable)
	}
	if rep.Records != 2 || rep.Devices[0].Missing != 0 {
		t.Fatalf("records around a long line lost:\n%s", rep)
	}
}

func TestVerifyReadError(t *testing.T) {
	s := testSealer(t, "bay-01")
	c := chain(t, s, 1)
	rep := Verify(iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader(join(c...)))), nil)
	if rep.ReadError == "" || rep.OK() {
		t.Fatalf("read error not reported:\n%s", rep)
	}
}

// The golden files in testdata/records are the published examples of the
// envelope: a clean chain, a stream with every kind of problem, the test
// device's public key, and the verifier's report on the problem stream.
func TestGoldenRecords(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "records")
	s := testSealer(t, "bay-01")
	var good [][]byte
	for _, ev := range []struct {
		kind, job string
		body      any
	}{
		{KindJobOpen, "J-2026-0001", map[string]any{"plate": "浙A12345", "vin": "LSVAU2180N2183294", "mileage_km": 86012, "complaint": "MIL on", "test_no": "330106202611280042"}},
		{KindScan, "J-2026-0001", map[string]any{"phase": "before", "mil": true, "dtcs": []string{"P0420"}, "readiness_incomplete": []string{"catalyst"}}},
		{KindEmission, "J-2026-0001", map[string]any{"phase": "before", "method": "two_speed_idle", "idle": map[string]float64{"hc_ppm": 95, "co_pct": 0.72, "lambda": 1.03}}},
		{KindDTCClear, "J-2026-0001", map[string]any{"technician": "T-007", "reason": "catalyst replaced"}},
		{KindNote, "J-2026-0001", map[string]any{"text": "catalyst replaced"}},
		{KindEmission, "J-2026-0001", map[string]any{"phase": "after", "method": "two_speed_idle", "idle": map[string]float64{"hc_ppm": 31, "co_pct": 0.12, "lambda": 1.0}}},
		{KindJobClose, "J-2026-0001", map[string]any{"settle_date": "20261129", "cost_list_code": "JS-0001"}},
	} {
		_, w := mustSeal(t, s, ev.kind, ev.job, ev.body)
		good = append(good, w)
	}
	problems := join(good[0], good[1], good[1], good[3], good[2], []byte("not a record"),
		bytes.Replace(good[4], []byte("catalyst replaced"), []byte("catalyst inspected"), 1), good[6])
	pubJSON, err := json.Marshal(map[string]string{
		"device": "bay-01", "algorithm": "ed25519",
		"public_key": base64.StdEncoding.EncodeToString(s.PublicKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := Verify(strings.NewReader(problems), Keys{"bay-01": s.PublicKey()})
	files := map[string]string{
		"chain-good.jsonl":          join(good...),
		"chain-problems.jsonl":      problems,
		"bay-01.pub.json":           string(pubJSON) + "\n",
		"chain-problems.report.txt": rep.String(),
	}
	for name, want := range files {
		compareGolden(t, filepath.Join(dir, name), want)
	}
	if r := Verify(strings.NewReader(files["chain-good.jsonl"]), Keys{"bay-01": s.PublicKey()}); !r.OK() {
		t.Fatalf("good chain does not verify:\n%s", r)
	}
	if rep.OK() {
		t.Fatal("problem chain verifies")
	}
}

// TestWireHash: the hash and prev read from a wire record's fixed layout
// are the record's; what does not end like a wire record is refused.
func TestWireHash(t *testing.T) {
	s := testSealer(t, "bay-01")
	for i := range 3 {
		r, w := mustSeal(t, s, KindNote, "J-1", map[string]int{"i": i})
		if h, ok := WireHash(w); !ok || h != r.Hash() {
			t.Errorf("WireHash: %v %v, want %v", h, ok, r.Hash())
		}
		if p, ok := WirePrev(w); !ok || p != r.Prev {
			t.Errorf("WirePrev: %v %v, want %v", p, ok, r.Prev)
		}
	}
	for _, bad := range []string{"", "{}", `{"sig":"x"}`, strings.Repeat("x", 200)} {
		if _, ok := WireHash([]byte(bad)); ok {
			t.Errorf("WireHash(%q) ok", bad)
		}
		if _, ok := WirePrev([]byte(bad)); ok {
			t.Errorf("WirePrev(%q) ok", bad)
		}
	}
	_, w := mustSeal(t, s, KindNote, "J-1", nil)
	for _, bad := range []string{string(w[:len(w)-1]), string(w[:len(w)-10]) + "!!!!!!==\"}"} {
		if _, ok := WireHash([]byte(bad)); ok {
			t.Errorf("WireHash(%q) ok", bad)
		}
	}
}
