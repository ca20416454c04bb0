// Package record defines the sealed envelope in which every event leaves the
// box.
//
// It has the record's canonical byte form, the per-device hash chain, the
// ed25519 signature, and a verifier for streams of records.
//
// # Wire form
//
// A record travels as one line of compact JSON with the fields in this fixed
// order:
//
//	{"schema":2,"device":"bay-01","shop":"330106000123456","seq":42,
//	 "time":"2026-11-29T05:00:00.123Z",
//	 "clock":{"synced":true,"boot":"<boot id>","mono_ms":81234},
//	 "kind":"scan","job":"J-2026-0001","body":{...},"prev":"<64 hex>","sig":"<88 base64>"}
//
// (shown wrapped; the real line has no whitespace outside strings).
//
// # Canonical bytes
//
// The canonical bytes of a record are exactly the wire form without the
// trailing `,"sig":"..."` member, that is:
//
//	{"schema":2,"device":D,"shop":S,"seq":N,"time":T,"clock":{"synced":Y,"boot":O,"mono_ms":M},"kind":K,"job":J,"body":B,"prev":P}
//
// where
//   - D, S, K, J are JSON strings drawn from restricted ASCII alphabets (see
//     [ValidDevice], [ValidShop], [ValidKind], [ValidJob]) so that they never
//     need escaping; J is "" for records that belong to no job;
//   - N is the sequence number in decimal without sign, leading zeros or
//     exponent (1 ≤ N ≤ 2^53-1, so every JSON reader represents it exactly);
//   - T is the UTC time with exactly three fractional digits,
//     "YYYY-MM-DDTHH:MM:SS.mmmZ";
//   - the clock state ([Clock]) is Y, true or false: whether the wall clock
//     was synchronised; O, the kernel's boot id (lowercase hex and '-', at
//     most 64 characters, "" when unknown); M, the milliseconds since boot
//     (0 when unknown) in the same number form as N;
//   - B is the body: one JSON object with no insignificant whitespace (as
//     produced by Go's encoding/json), carried byte-exact;
//   - P is the lowercase hex SHA-256 of the canonical bytes of the record with
//     sequence number N-1 of the same device, or [Genesis] (64 zeros) for the
//     first record of a chain (N = 1, or an "outbox_reset" record that starts
//     a new chain after the box lost its buffer).
//
// The signature "sig" is the standard base64 (with padding) of the ed25519
// signature (RFC 8032, pure Ed25519) of the canonical bytes by the device key.
// The wire form is the canonical bytes with `,"sig":"<sig>"` inserted before
// the final `}`. [Decode] accepts only lines in exactly this form, so a record
// must be stored and forwarded byte-exact: a receiver that re-serialises the
// JSON breaks the signature by design.
//
// Receivers de-duplicate by (device, seq): delivery is at-least-once.
//
// # Schema versions
//
// "schema" is the version of the envelope (not of the bodies, whose
// schemas are per kind; see [Kinds] and docs/records.md). A change a
// reader of the current version cannot read the same way bumps it: a new,
// removed or renamed envelope member, a new required member, another
// canonical form. Version 2 added "clock". This package writes
// [SchemaVersion] and reads every version from [MinSchemaVersion] on: a
// version 1 record has no "clock" member (its clock state is unknown).
package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SchemaVersion is the envelope schema version this package writes.
const SchemaVersion = 2

// MinSchemaVersion is the oldest envelope schema version this package
// reads.
const MinSchemaVersion = 1

// Limits of the envelope.
const (
	// MaxBodyBytes is the largest body (compact JSON) a record may carry.
	MaxBodyBytes = 512 << 10
	// MaxLineBytes is the largest wire record (one line) accepted by Decode
	// and Verify.
	MaxLineBytes = MaxBodyBytes + 4096
	// MaxSeq is the largest sequence number: 2^53-1, exact in every JSON
	// implementation.
	MaxSeq = 1<<53 - 1
)

// TimeLayout is the layout of the "time" field (UTC, milliseconds).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Record kinds: the one list of every kind Bayagent writes. A new kind is
// added here (and to kindDocs); Decode and Verify accept any name matching
// [ValidKind], so a receiver older than a kind still verifies its records.
const (
	KindJobOpen      = "job_open"
	KindScan         = "scan"
	KindEmission     = "emission"
	KindEmissionTest = "emission_test"
	KindDTCClear     = "dtc_clear"
	KindNote         = "note"
	KindJobClose     = "job_close"
	KindJobCancel    = "job_cancel"
	KindPresence     = "presence"
	KindAudit        = "audit"
	KindOutboxReset  = "outbox_reset"
	KindKeyRotation  = "key_rotation"
	KindClockSync    = "clock_sync"
)

// kindDocs says what each kind records, in the order of Kinds.
var kindDocs = []struct{ kind, doc string }{
	{KindJobOpen, "a repair job opened at a bay (event 1 of the job)"},
	{KindScan, "a health snapshot of the vehicle, with its phase (intake, before_repair, after_repair)"},
	{KindEmission, "one exhaust analyzer or opacimeter reading, with its phase (a wiring check; the test is emission_test)"},
	{KindEmissionTest, "one completed emission test procedure (two-speed idle, free acceleration) with its phase: the instrument and its state, every second's samples beside the OBD live data, the averages and the verdict"},
	{KindDTCClear, "a DTC clear: requested (before the vehicle is touched), then cleared or failed"},
	{KindNote, "a technician's note; it may mark the start of the repair"},
	{KindJobClose, "the job closed at settlement, with what goes into the health record"},
	{KindJobCancel, "the job abandoned without settlement (no health record)"},
	{KindPresence, "a vehicle connected to the bay's interface, or left it"},
	{KindAudit, "an action taken on the bay screen (who, what, from where), stored before the action runs"},
	{KindOutboxReset, "the box lost its record buffer and starts a new chain (first record of it)"},
	{KindKeyRotation, "the device key changed: sealed by the new key, the body signed by the old one (`bayagent key rotate`)"},
	{KindClockSync, "the clock was synchronised for the first time in this boot: the offset that corrects the boot's earlier times"},
}

// Kinds returns every record kind Bayagent writes.
func Kinds() []string {
	out := make([]string, len(kindDocs))
	for i, k := range kindDocs {
		out[i] = k.kind
	}
	return out
}

// KindDoc says what records of kind hold ("" for a kind not in Kinds).
func KindDoc(kind string) string {
	for _, k := range kindDocs {
		if k.kind == kind {
			return k.doc
		}
	}
	return ""
}

// Errors returned by this package. Every error returned by Decode, the
// Sealer and the key parsers wraps one of these.
var (
	// ErrSyntax: the bytes are not a JSON object of the envelope's shape.
	ErrSyntax = errors.New("record: malformed record")
	// ErrSchema: the "schema" field is not a version this package reads.
	ErrSchema = errors.New("record: unsupported schema version")
	// ErrField: a field is missing or its value is out of range or badly formed.
	ErrField = errors.New("record: invalid field")
	// ErrNotCanonical: the line parses but is not in the exact wire form
	// (field order, whitespace, escaping, number form), so its signature
	// could not be checked reliably.
	ErrNotCanonical = errors.New("record: not in canonical wire form")
	// ErrTooLarge: the body or the whole line exceeds the limits.
	ErrTooLarge = errors.New("record: too large")
	// ErrBadSignature: the signature does not verify with the device key.
	ErrBadSignature = errors.New("record: bad signature")
	// ErrKey: a key is missing, of the wrong size or badly encoded.
	ErrKey = errors.New("record: invalid key")
)

// Hash is a SHA-256 digest of a record's canonical bytes.
type Hash [sha256.Size]byte

// Genesis is the "prev" value of the first record of a chain: 32 zero bytes,
// written as 64 '0' characters.
var Genesis Hash

// String returns the lowercase hex form used on the wire.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hash in its wire form, lowercase hex, so that it
// reads the same in any JSON.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 lowercase hex characters (see ParseHash).
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 64 lowercase hex characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("%w: prev: want %d hex characters, got %d", ErrField, 2*len(h), len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return h, fmt.Errorf("%w: prev: not lowercase hex at offset %d", ErrField, i)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w: prev: %v", ErrField, err)
	}
	return h, nil
}

// Clock is the state of the box's clock when a record was sealed (see the
// package doc and package clock).
type Clock struct {
	Synced bool   // the wall clock was synchronised
	Boot   string // the kernel's boot id; "" when unknown
	MonoMS uint64 // milliseconds since boot; 0 when unknown
}

// MaxBootLen is the longest boot id a record carries.
const MaxBootLen = 64

// Validate checks the boot id's alphabet and length and the range of MonoMS.
func (c Clock) Validate() error {
	if len(c.Boot) > MaxBootLen {
		return fmt.Errorf("%w: clock boot must be at most %d characters, got %d", ErrField, MaxBootLen, len(c.Boot))
	}
	for i := 0; i < len(c.Boot); i++ {
		if ch := c.Boot[i]; !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch == '-') {
			return fmt.Errorf("%w: clock boot: character %q at offset %d not allowed", ErrField, ch, i)
		}
	}
	if c.MonoMS > MaxSeq {
		return fmt.Errorf("%w: clock mono_ms %d out of range", ErrField, c.MonoMS)
	}
	return nil
}

// Record is one sealed event.
type Record struct {
	Schema int
	Device string
	Shop   string
	Seq    uint64
	Time   time.Time // UTC, millisecond precision
	// Clock is the clock's state at Time; nil exactly for schema 1.
	Clock *Clock
	Kind  string
	Job   string          // "" when the record belongs to no job
	Body  json.RawMessage // compact JSON object, byte-exact
	Prev  Hash
	Sig   []byte // ed25519 signature of Canonical()
}

// Canonical returns the canonical bytes of r (see the package doc). It does
// not validate r; use Validate first for records built by hand.
func (r *Record) Canonical() []byte {
	b := make([]byte, 0, 160+len(r.Device)+len(r.Shop)+len(r.Kind)+len(r.Job)+len(r.Body))
	return r.appendCanonical(b)
}

func (r *Record) appendCanonical(b []byte) []byte {
	b = append(b, `{"schema":`...)
	b = strconv.AppendInt(b, int64(r.Schema), 10)
	b = append(b, `,"device":"`...)
	b = append(b, r.Device...)
	b = append(b, `","shop":"`...)
	b = append(b, r.Shop...)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, TimeLayout)
	if c := r.Clock; c != nil {
		b = append(b, `","clock":{"synced":`...)
		b = strconv.AppendBool(b, c.Synced)
		b = append(b, `,"boot":"`...)
		b = append(b, c.Boot...)
		b = append(b, `","mono_ms":`...)
		b = strconv.AppendUint(b, c.MonoMS, 10)
		b = append(b, `},"kind":"`...)
	} else {
		b = append(b, `","kind":"`...)
	}
	b = append(b, r.Kind...)
	b = append(b, `","job":"`...)
	b = append(b, r.Job...)
	b = append(b, `","body":`...)
	b = append(b, r.Body...)
	b = append(b, `,"prev":"`...)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], r.Prev[:])
	b = append(b, hx[:]...)
	b = append(b, `"}`...)
	return b
}

// Hash returns the SHA-256 of the canonical bytes: the "prev" of the next
// record of the chain.
func (r *Record) Hash() Hash { return sha256.Sum256(r.Canonical()) }

// Wire returns the wire form: the canonical bytes with the signature.
func (r *Record) Wire() []byte {
	c := r.Canonical()
	return wireFromCanonical(c, r.Sig)
}

func wireFromCanonical(c, sig []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(sig))
	w := make([]byte, 0, len(c)+len(`,"sig":""`)+n)
	w = append(w, c[:len(c)-1]...)
	w = append(w, `,"sig":"`...)
	w = base64.StdEncoding.AppendEncode(w, sig)
	w = append(w, `"}`...)
	return w
}

// Validate checks every field against the envelope's rules (not the
// signature or the chain).
func (r *Record) Validate() error {
	if r.Schema < MinSchemaVersion || r.Schema > SchemaVersion {
		return fmt.Errorf("%w: %d (this build reads %d to %d)", ErrSchema, r.Schema, MinSchemaVersion, SchemaVersion)
	}
	switch {
	case r.Schema == 1 && r.Clock != nil:
		return fmt.Errorf("%w: a schema 1 record has no clock", ErrField)
	case r.Schema >= 2 && r.Clock == nil:
		return fmt.Errorf("%w: missing clock", ErrField)
	case r.Clock != nil:
		if err := r.Clock.Validate(); err != nil {
			return err
		}
	}
	if err := ValidDevice(r.Device); err != nil {
		return err
	}
	if err := ValidShop(r.Shop); err != nil {
		return err
	}
	if r.Seq < 1 || r.Seq > MaxSeq {
		return fmt.Errorf("%w: seq %d out of range 1..%d", ErrField, r.Seq, uint64(MaxSeq))
	}
	if r.Time.IsZero() || r.Time.Year() < 2000 || r.Time.Year() > 9999 {
		return fmt.Errorf("%w: time %v out of range", ErrField, r.Time)
	}
	if r.Time.Nanosecond()%int(time.Millisecond) != 0 {
		return fmt.Errorf("%w: time %v has a finer precision than milliseconds", ErrField, r.Time)
	}
	if err := ValidKind(r.Kind); err != nil {
		return err
	}
	if err := ValidJob(r.Job); err != nil {
		return err
	}
	if err := validBody(r.Body); err != nil {
		return err
	}
	return nil
}

func validBody(b json.RawMessage) error {
	if len(b) > MaxBodyBytes {
		return fmt.Errorf("%w: body is %d bytes, limit %d", ErrTooLarge, len(b), MaxBodyBytes)
	}
	if len(b) < 2 || b[0] != '{' || !json.Valid(b) {
		return fmt.Errorf("%w: body must be a JSON object", ErrField)
	}
	if spaced(b) {
		return fmt.Errorf("%w: body has insignificant whitespace", ErrNotCanonical)
	}
	return nil
}

// spaced reports whether the JSON text b has whitespace outside its
// strings: what json.Compact would remove.
func spaced(b []byte) bool {
	in, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case in:
			esc, in = c == '\\', c != '"'
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return true
		}
	}
	return false
}

// MarshalBody encodes v as a record body: a compact JSON object. A nil v
// gives {}. A json.RawMessage or []byte holding JSON is compacted.
func MarshalBody(v any) (json.RawMessage, error) {
	var b []byte
	var err error
	switch x := v.(type) {
	case nil:
		return json.RawMessage(`{}`), nil
	case []byte:
		b, err = json.Marshal(json.RawMessage(x))
	default:
		b, err = json.Marshal(x)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrField, err)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object, got %.20q", ErrField, b)
	}
	if len(b) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: body is %d bytes, limit %d", ErrTooLarge, len(b), MaxBodyBytes)
	}
	return b, nil
}

// ValidDevice reports whether s is a valid device id: 1 to 64 characters
// from [A-Za-z0-9._-], starting with a letter or digit.
func ValidDevice(s string) error { return validName("device", s, 1, 64, "._-", false) }

// ValidShop reports whether s is a valid shop code: 1 to 32 characters from
// [A-Za-z0-9_-] (the health-record system's company code is 15 digits).
func ValidShop(s string) error { return validName("shop", s, 1, 32, "_-", false) }

// ValidKind reports whether s is a valid kind: 1 to 32 characters from
// [a-z0-9_], starting with a lowercase letter.
func ValidKind(s string) error {
	if err := validName("kind", s, 1, 32, "_", true); err != nil {
		return err
	}
	if s[0] < 'a' || s[0] > 'z' {
		return fmt.Errorf("%w: kind %q must start with a lowercase letter", ErrField, s)
	}
	return nil
}

// ValidJob reports whether s is a valid job id: empty (no job) or 1 to 64
// characters from [A-Za-z0-9._:/-], starting with a letter or digit.
func ValidJob(s string) error {
	if s == "" {
		return nil
	}
	return validName("job", s, 1, 64, "._:/-", false)
}

func validName(field, s string, minLen, maxLen int, extra string, lower bool) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%w: %s must be %d to %d characters, got %d", ErrField, field, minLen, maxLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || !lower && c >= 'A' && c <= 'Z'
		if !ok && i > 0 {
			ok = bytes.IndexByte([]byte(extra), c) >= 0
		}
		if !ok {
			return fmt.Errorf("%w: %s %q: character %q at offset %d not allowed", ErrField, field, s, c, i)
		}
	}
	return nil
}

// wireRecord is the JSON shape used to parse a line before the canonical
// form check.
type wireRecord struct {
	Schema *int            `json:"schema"`
	Device *string         `json:"device"`
	Shop   *string         `json:"shop"`
	Seq    *uint64         `json:"seq"`
	Time   *string         `json:"time"`
	Clock  *wireClock      `json:"clock"`
	Kind   *string         `json:"kind"`
	Job    *string         `json:"job"`
	Body   json.RawMessage `json:"body"`
	Prev   *string         `json:"prev"`
	Sig    *string         `json:"sig"`
}

type wireClock struct {
	Synced *bool   `json:"synced"`
	Boot   *string `json:"boot"`
	MonoMS *uint64 `json:"mono_ms"`
}

// Decode parses one wire record (without the line terminator). It checks
// the form and every field, but not the signature or the chain (see
// [Record.VerifySignature] and [Verify]).
//
// A line in the exact wire form is read in one pass by its fixed layout
// (readExact); any other line is read as JSON, field by field, only to say
// precisely why it is refused (readJSON): it is never accepted, since the
// wire form is the only form there is.
func Decode(line []byte) (Record, error) {
	if len(line) > MaxLineBytes {
		return Record{}, fmt.Errorf("%w: line is %d bytes, limit %d", ErrTooLarge, len(line), MaxLineBytes)
	}
	if r, ok := readExact(line); ok {
		return r, nil
	}
	return readJSON(line)
}

// readExact reads a line laid out exactly as the wire form (see the
// package doc) and checks every field; false for anything else. Whatever
// it accepts, readJSON accepts with the same result (FuzzReadExact).
func readExact(line []byte) (Record, bool) {
	x := exact{b: line}
	var r Record
	x.lit(`{"schema":`)
	schema, _ := x.number()
	r.Schema = int(schema)
	if schema < MinSchemaVersion || schema > SchemaVersion {
		return Record{}, false
	}
	x.lit(`,"device":"`)
	r.Device = x.str()
	x.lit(`","shop":"`)
	r.Shop = x.str()
	x.lit(`","seq":`)
	r.Seq, _ = x.number()
	x.lit(`,"time":"`)
	ts := x.strBytes()
	if x.bad {
		return Record{}, false
	}
	t, err := time.Parse(TimeLayout, string(ts))
	var tb [len(TimeLayout)]byte
	if err != nil || !bytes.Equal(t.AppendFormat(tb[:0], TimeLayout), ts) {
		return Record{}, false
	}
	r.Time = t
	if r.Schema >= 2 {
		x.lit(`","clock":{"synced":`)
		var c Clock
		switch {
		case x.has("true"):
			c.Synced = true
		case x.has("false"):
		default:
			return Record{}, false
		}
		x.lit(`,"boot":"`)
		c.Boot = x.str()
		x.lit(`","mono_ms":`)
		c.MonoMS, _ = x.number()
		x.lit(`},"kind":"`)
		r.Clock = &c
	} else {
		x.lit(`","kind":"`)
	}
	r.Kind = x.str()
	x.lit(`","job":"`)
	r.Job = x.str()
	x.lit(`","body":`)
	body := x.object()
	x.lit(`,"prev":"`)
	prev := x.take(2 * len(Hash{}))
	x.lit(`","sig":"`)
	sig := x.take(88)
	x.lit(`"}`)
	if x.bad || x.i != len(line) {
		return Record{}, false
	}
	var err2 error
	if r.Prev, err2 = ParseHash(string(prev)); err2 != nil {
		return Record{}, false
	}
	if string(sig[86:]) != "==" {
		return Record{}, false
	}
	for _, c := range sig[:86] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return Record{}, false
		}
	}
	r.Sig = make([]byte, 64)
	if n, err := base64.StdEncoding.Strict().Decode(r.Sig, sig); err != nil || n != 64 {
		return Record{}, false
	}
	r.Body = append(json.RawMessage(nil), body...)
	if r.Validate() != nil {
		return Record{}, false
	}
	return r, true
}

// exact reads a line by the wire form's fixed layout; bad sticks once a
// part does not match.
type exact struct {
	b   []byte
	i   int
	bad bool
}

// lit consumes s.
func (x *exact) lit(s string) {
	if x.bad || len(x.b)-x.i < len(s) || string(x.b[x.i:x.i+len(s)]) != s {
		x.bad = true
		return
	}
	x.i += len(s)
}

// has consumes s if it comes next.
func (x *exact) has(s string) bool {
	if x.bad || len(x.b)-x.i < len(s) || string(x.b[x.i:x.i+len(s)]) != s {
		return false
	}
	x.i += len(s)
	return true
}

// number consumes a decimal without sign, leading zeros or exponent, at
// most MaxSeq.
func (x *exact) number() (uint64, bool) {
	if x.bad {
		return 0, false
	}
	j := x.i
	var v uint64
	for j < len(x.b) && x.b[j] >= '0' && x.b[j] <= '9' && j-x.i < 16 {
		v = 10*v + uint64(x.b[j]-'0')
		j++
	}
	if j == x.i || x.b[x.i] == '0' && j-x.i > 1 || v > MaxSeq {
		x.bad = true
		return 0, false
	}
	x.i = j
	return v, true
}

// strBytes consumes a string's characters up to the closing quote (left
// to the next lit); the envelope's names never need escaping, and a
// backslash is refused.
func (x *exact) strBytes() []byte {
	if x.bad {
		return nil
	}
	j := bytes.IndexByte(x.b[x.i:], '"')
	if j < 0 || bytes.IndexByte(x.b[x.i:x.i+j], '\\') >= 0 {
		x.bad = true
		return nil
	}
	s := x.b[x.i : x.i+j]
	x.i += j
	return s
}

func (x *exact) str() string { return string(x.strBytes()) }

// take consumes n bytes.
func (x *exact) take(n int) []byte {
	if x.bad || len(x.b)-x.i < n {
		x.bad = true
		return nil
	}
	s := x.b[x.i : x.i+n]
	x.i += n
	return s
}

// object consumes a JSON object, found by its braces outside strings; its
// validity is left to Validate.
func (x *exact) object() []byte {
	if x.bad || x.i >= len(x.b) || x.b[x.i] != '{' {
		x.bad = true
		return nil
	}
	depth, in, esc := 0, false, false
	for j := x.i; j < len(x.b); j++ {
		c := x.b[j]
		switch {
		case esc:
			esc = false
		case in:
			switch c {
			case '\\':
				esc = true
			case '"':
				in = false
			}
		case c == '"':
			in = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				s := x.b[x.i : j+1]
				x.i = j + 1
				return s
			}
		}
	}
	x.bad = true
	return nil
}

// readJSON reads a line as JSON, field by field, and refuses it unless it
// is in the exact wire form; it says why.
func readJSON(line []byte) (Record, error) {
	var r Record
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return r, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if dec.More() {
		return r, fmt.Errorf("%w: data after the record", ErrSyntax)
	}
	if w.Schema == nil {
		return r, fmt.Errorf("%w: missing schema", ErrField)
	}
	if *w.Schema < MinSchemaVersion || *w.Schema > SchemaVersion {
		return r, fmt.Errorf("%w: %d (this build reads %d to %d)", ErrSchema, *w.Schema, MinSchemaVersion, SchemaVersion)
	}
	missing := ""
	switch {
	case w.Device == nil:
		missing = "device"
	case w.Shop == nil:
		missing = "shop"
	case w.Seq == nil:
		missing = "seq"
	case w.Time == nil:
		missing = "time"
	case *w.Schema >= 2 && w.Clock == nil:
		missing = "clock"
	case w.Clock != nil && w.Clock.Synced == nil:
		missing = "clock.synced"
	case w.Clock != nil && w.Clock.Boot == nil:
		missing = "clock.boot"
	case w.Clock != nil && w.Clock.MonoMS == nil:
		missing = "clock.mono_ms"
	case w.Kind == nil:
		missing = "kind"
	case w.Job == nil:
		missing = "job"
	case w.Body == nil:
		missing = "body"
	case w.Prev == nil:
		missing = "prev"
	case w.Sig == nil:
		missing = "sig"
	}
	if missing != "" {
		return r, fmt.Errorf("%w: missing %s", ErrField, missing)
	}
	t, err := time.Parse(TimeLayout, *w.Time)
	if err != nil || t.Format(TimeLayout) != *w.Time {
		return r, fmt.Errorf("%w: time %q is not in the form %s", ErrField, *w.Time, TimeLayout)
	}
	prev, err := ParseHash(*w.Prev)
	if err != nil {
		return r, err
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*w.Sig)
	if err != nil || len(sig) != 64 {
		return r, fmt.Errorf("%w: sig must be 64 bytes in standard base64", ErrField)
	}
	r = Record{
		Schema: *w.Schema, Device: *w.Device, Shop: *w.Shop, Seq: *w.Seq, Time: t,
		Kind: *w.Kind, Job: *w.Job, Body: w.Body, Prev: prev, Sig: sig,
	}
	if w.Clock != nil {
		r.Clock = &Clock{Synced: *w.Clock.Synced, Boot: *w.Clock.Boot, MonoMS: *w.Clock.MonoMS}
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	if !bytes.Equal(r.Wire(), line) {
		return Record{}, fmt.Errorf("%w: seq %d", ErrNotCanonical, r.Seq)
	}
	// Keep the body independent of the caller's buffer.
	r.Body = append(json.RawMessage(nil), r.Body...)
	return r, nil
}
