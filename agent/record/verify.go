package record

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
)

// KeySource gives the public key of a device. Records carry no key: the
// receiver must know each device's key (exported by the device, see package
// devicekey).
type KeySource interface {
	PublicKey(device string) (ed25519.PublicKey, bool)
}

// Keys is a KeySource backed by a map from device id to public key.
type Keys map[string]ed25519.PublicKey

// PublicKey implements KeySource.
func (k Keys) PublicKey(device string) (ed25519.PublicKey, bool) {
	p, ok := k[device]
	return p, ok
}

// MaxListed bounds every list of sequence numbers in a Report; the counts
// stay exact.
const MaxListed = 100

// SeqList is a count of problem records and the first MaxListed of their
// sequence numbers.
type SeqList struct {
	Count int      `json:"count"`
	Seqs  []uint64 `json:"seqs,omitempty"`
}

func (l *SeqList) add(seq uint64) {
	l.Count++
	if len(l.Seqs) < MaxListed {
		l.Seqs = append(l.Seqs, seq)
	}
}

func (l SeqList) String() string {
	s := l.list()
	if l.Count > len(l.Seqs) {
		s += fmt.Sprintf(", ... (%d in all)", l.Count)
	}
	return s
}

// list is the listed seqs, comma-separated.
func (l SeqList) list() string {
	var b strings.Builder
	for i, s := range l.Seqs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}

// SeqRange is an inclusive range of missing sequence numbers.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// LineError is a line that could not be read as a record.
type LineError struct {
	Line int    `json:"line"`
	Err  string `json:"error"`
}

// DeviceReport is what Verify found for one device.
type DeviceReport struct {
	Device   string `json:"device"`
	Records  int    `json:"records"` // distinct sequence numbers
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// UnknownKey: the KeySource has no key for this device, so no signature
	// of it could be checked.
	UnknownKey bool `json:"unknown_key,omitempty"`
	// Gaps: sequence numbers missing between FirstSeq and LastSeq
	// (omission). Missing counts them all; Gaps lists the first MaxListed
	// ranges.
	Missing uint64     `json:"missing"`
	Gaps    []SeqRange `json:"gaps,omitempty"`
	// Duplicates: same seq, same canonical bytes. Normal with at-least-once
	// delivery; not a problem.
	Duplicates SeqList `json:"duplicates"`
	// Conflicts: same seq, different content (falsification or a device
	// that reused sequence numbers).
	Conflicts SeqList `json:"conflicts"`
	// Reorders: records that arrived after a record with a higher seq.
	Reorders SeqList `json:"reorders"`
	// BrokenLinks: records whose prev is not the hash of the record before
	// (only checked where both are present).
	BrokenLinks SeqList `json:"broken_links"`
	// BadSignatures: records whose signature does not verify.
	BadSignatures SeqList `json:"bad_signatures"`
	// Resets: "outbox_reset" records that start a new chain: the device
	// lost its buffer and records may be missing before them.
	Resets SeqList `json:"resets"`
	// KeyRotations: "key_rotation" records, from which on the device signs
	// with a new key (not a problem when the old key signed them).
	KeyRotations SeqList `json:"key_rotations"`
	// UnauthorisedRotations: key rotations the key in force before them
	// did not sign (the old key was lost, or the rotation is forged).
	UnauthorisedRotations SeqList `json:"unauthorised_rotations"`

	// Unsynced: records sealed while the box's clock was not synchronised
	// (their time may be wrong; not a chain problem).
	Unsynced SeqList `json:"unsynced"`
	// Corrected: the unsynchronised records a clock_sync record of the
	// same boot corrects, with the time they should have carried (first
	// MaxListed).
	Corrected []Correction `json:"corrected,omitempty"`
	// Uncorrectable: unsynchronised records no clock_sync record of their
	// boot in the stream corrects (the boot ended before its clock was
	// synchronised, or the clock_sync record is missing).
	Uncorrectable SeqList `json:"uncorrectable"`
	// Backwards: records whose time is earlier than the time of the
	// record before them (by seq): the clock was set back.
	Backwards SeqList `json:"backwards"`
}

// Correction is an unsynchronised record's time corrected by the
// clock_sync record of its boot: By is that record's seq.
type Correction struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Corrected time.Time `json:"corrected"`
	By        uint64    `json:"by"`
}

// OK reports whether the device's records are complete, in order and
// untampered. Exact duplicates do not count.
func (d *DeviceReport) OK() bool {
	return !d.UnknownKey && d.Missing == 0 && d.Conflicts.Count == 0 && d.Reorders.Count == 0 &&
		d.BrokenLinks.Count == 0 && d.BadSignatures.Count == 0 && d.Resets.Count == 0 && d.UnauthorisedRotations.Count == 0
}

// Report is the result of Verify. It marshals to JSON with encoding/json.
type Report struct {
	Lines             int            `json:"lines"`   // lines read, blank ones included
	Records           int            `json:"records"` // lines that parsed as records
	SignaturesChecked bool           `json:"signatures_checked"`
	Unparseable       []LineError    `json:"unparseable,omitempty"` // first MaxListed
	UnparseableCount  int            `json:"unparseable_count"`
	ReadError         string         `json:"read_error,omitempty"`
	Devices           []DeviceReport `json:"devices"`
}

// OK reports whether the whole stream is free of problems: every line
// parsed, and every device's records are complete, in order, chained and
// correctly signed. Exact duplicates are allowed (at-least-once delivery).
// An "outbox_reset" record makes OK false: records may have been lost.
// Without a KeySource, signatures are not checked and OK says nothing
// about them (see SignaturesChecked).
func (r *Report) OK() bool {
	if r.UnparseableCount > 0 || r.ReadError != "" {
		return false
	}
	for i := range r.Devices {
		if !r.Devices[i].OK() {
			return false
		}
	}
	return true
}

// String returns a human-readable summary, one device per paragraph, in
// English (see Text).
func (r *Report) String() string { return r.Text(i18n.English) }

// Text returns the summary of String in language l (the "verify."
// messages of package i18n); error texts of unparseable lines stay as
// they are.
func (r *Report) Text(l i18n.Lang) string {
	var b strings.Builder
	t := func(key string, args ...any) string { return i18n.Text(l, "verify."+key, args...) }
	status := t("ok")
	if !r.OK() {
		status = t("problems_found")
	}
	b.WriteString(t("summary", "status", status, "lines", r.Lines, "records", r.Records, "devices", len(r.Devices)))
	if !r.SignaturesChecked {
		b.WriteString(t("no_keys"))
	}
	b.WriteByte('\n')
	if r.ReadError != "" {
		b.WriteString("  " + t("read_error", "error", r.ReadError) + "\n")
	}
	for _, e := range r.Unparseable {
		b.WriteString("  " + t("unparseable", "line", e.Line, "error", e.Err) + "\n")
	}
	if r.UnparseableCount > len(r.Unparseable) {
		b.WriteString("  " + t("unparseable_all", "n", r.UnparseableCount) + "\n")
	}
	for i := range r.Devices {
		d := &r.Devices[i]
		st := t("device_ok")
		if !d.OK() {
			st = t("device_problems")
		}
		b.WriteString(t("device", "device", d.Device, "status", st, "records", d.Records, "first", d.FirstSeq, "last", d.LastSeq) + "\n")
		if d.UnknownKey {
			b.WriteString("  " + t("unknown_key") + "\n")
		}
		if d.Missing > 0 {
			var gaps strings.Builder
			for _, g := range d.Gaps {
				if g.From == g.To {
					fmt.Fprintf(&gaps, " %d", g.From)
				} else {
					fmt.Fprintf(&gaps, " %d-%d", g.From, g.To)
				}
			}
			b.WriteString("  " + t("gaps", "n", d.Missing) + gaps.String() + "\n")
		}
		for _, p := range []struct {
			key string
			l   SeqList
		}{
			{"conflicts", d.Conflicts},
			{"reorders", d.Reorders},
			{"broken_links", d.BrokenLinks},
			{"bad_signatures", d.BadSignatures},
			{"resets", d.Resets},
			{"unauthorised_rotations", d.UnauthorisedRotations},
			{"key_rotations", d.KeyRotations},
			{"duplicates", d.Duplicates},
			{"unsynced", d.Unsynced},
			{"uncorrectable", d.Uncorrectable},
			{"backwards", d.Backwards},
		} {
			if p.l.Count > 0 {
				list := p.l.String()
				if p.l.Count > len(p.l.Seqs) {
					list = p.l.list() + t("list_all", "n", p.l.Count)
				}
				b.WriteString("  " + t(p.key) + ": " + list + "\n")
			}
		}
		for _, c := range d.Corrected {
			b.WriteString("  " + t("corrected", "seq", c.Seq, "time", c.Time.Format(TimeLayout), "corrected", c.Corrected.Format(TimeLayout), "by", c.By) + "\n")
		}
		if n := d.Unsynced.Count - d.Uncorrectable.Count; n > len(d.Corrected) {
			b.WriteString("  " + t("corrected_all", "n", n) + "\n")
		}
	}
	return b.String()
}

// MarshalJSONIndent is a convenience returning the report as indented JSON.
func (r *Report) MarshalJSONIndent() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // plain data: cannot fail
	return b
}

type seen struct {
	content Hash // hash of canonical bytes
	prev    Hash
	reset   bool
	badSig  bool // no known key verified it (yet)
	key     int  // index in deviceState.keys of the key that verified it
	canon   []byte
	sig     []byte
	rot     *rotation
	time    time.Time
	clock   *Clock
	sync    *ClockSyncBody // the body of a clock_sync record
}

type deviceState struct {
	rep    DeviceReport
	recs   map[uint64]*seen
	maxSeq uint64
	// keys are the KeySource's key, then the new keys of the key_rotation
	// records seen, in arrival order; empty when signatures are not
	// checked.
	keys []ed25519.PublicKey
}

// check verifies canonical bytes c and signature sig with the known keys:
// the index of the key, or -1.
func (d *deviceState) check(c, sig []byte) int {
	for i, k := range d.keys {
		if ed25519.Verify(k, c, sig) {
			return i
		}
	}
	return -1
}

func (d *deviceState) learn(k ed25519.PublicKey) int {
	for i, x := range d.keys {
		if x.Equal(k) {
			return i
		}
	}
	d.keys = append(d.keys, k)
	return len(d.keys) - 1
}

// Verify reads wire records, one per line (blank lines are skipped), and
// reports per device: gaps, exact and conflicting duplicates, re-ordered
// arrivals, broken hash links and bad signatures, and the lines that are
// not records. Records are sorted by seq per device before the chain is
// checked, so a re-ordered stream still verifies, but the re-orders are
// reported. keys may be nil: then signatures are not checked. Verify never
// panics on any input.
func Verify(r io.Reader, keys KeySource) *Report {
	rep := &Report{SignaturesChecked: keys != nil}
	devs := map[string]*deviceState{}
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	long := false // the current line exceeds MaxLineBytes
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+1 { // +1: the '\n'
			long = true
		}
		if long {
			line = line[:0]
		} else {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 || long {
			rep.Lines++
			if long {
				rep.addUnparseable(fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, MaxLineBytes))
			} else {
				verifyLine(rep, devs, keys, bytes.TrimSpace(line))
			}
			line, long = line[:0], false
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rep.ReadError = err.Error()
			}
			break
		}
	}
	names := make([]string, 0, len(devs))
	for n := range devs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rep.Devices = append(rep.Devices, devs[n].finish())
	}
	return rep
}

func (rep *Report) addUnparseable(err error) {
	rep.UnparseableCount++
	if len(rep.Unparseable) < MaxListed {
		rep.Unparseable = append(rep.Unparseable, LineError{Line: rep.Lines, Err: err.Error()})
	}
}

func verifyLine(rep *Report, devs map[string]*deviceState, keys KeySource, line []byte) {
	if len(line) == 0 {
		return
	}
	rec, err := Decode(line)
	if err != nil {
		rep.addUnparseable(err)
		return
	}
	rep.Records++
	d := devs[rec.Device]
	if d == nil {
		d = &deviceState{rep: DeviceReport{Device: rec.Device}, recs: map[uint64]*seen{}}
		if keys != nil {
			k, ok := keys.PublicKey(rec.Device)
			if !ok || len(k) != ed25519.PublicKeySize {
				d.rep.UnknownKey = true
			} else {
				d.keys = []ed25519.PublicKey{k}
			}
		}
		devs[rec.Device] = d
	}
	c := rec.Canonical()
	s := &seen{content: sha256.Sum256(c), prev: rec.Prev, reset: rec.Kind == KindOutboxReset && rec.Prev == Genesis, key: -1,
		time: rec.Time, clock: rec.Clock, sync: parseClockSync(&rec)}
	if len(d.keys) > 0 {
		if s.rot = parseRotation(&rec); s.rot != nil {
			d.learn(s.rot.newKey)
		}
		s.key = d.check(c, rec.Sig)
		if s.badSig = s.key < 0; s.badSig {
			// Perhaps signed by a key whose rotation record comes later:
			// checked again once the stream is read.
			s.canon, s.sig = c, rec.Sig
		}
	}
	if old, ok := d.recs[rec.Seq]; ok {
		switch {
		case old.content == s.content && !s.badSig:
			d.rep.Duplicates.add(rec.Seq)
		case old.content == s.content:
			d.rep.BadSignatures.add(rec.Seq)
		default:
			d.rep.Conflicts.add(rec.Seq)
			if s.badSig {
				d.rep.BadSignatures.add(rec.Seq)
			} else if old.badSig {
				d.rep.BadSignatures.add(rec.Seq)
				d.recs[rec.Seq] = s // prefer the authentic one for the chain check
			}
		}
		return
	}
	if rec.Seq < d.maxSeq {
		d.rep.Reorders.add(rec.Seq)
	}
	d.maxSeq = max(d.maxSeq, rec.Seq)
	d.recs[rec.Seq] = s
}

func (d *deviceState) finish() DeviceReport {
	seqs := make([]uint64, 0, len(d.recs))
	for s := range d.recs {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	r := d.rep
	r.Records = len(seqs)
	if len(seqs) == 0 {
		return r
	}
	r.FirstSeq, r.LastSeq = seqs[0], seqs[len(seqs)-1]
	d.checkTimes(&r, seqs)
	cur := 0 // the key in force: the KeySource's until a rotation
	for i, seq := range seqs {
		s := d.recs[seq]
		if len(d.keys) > 0 {
			if s.key < 0 && s.canon != nil {
				s.key = d.check(s.canon, s.sig)
			}
			switch {
			case s.rot != nil:
				// Sealed by the new key; the statement signed by the old one.
				next := d.learn(s.rot.newKey)
				if s.key != next {
					r.BadSignatures.add(seq)
				} else {
					r.KeyRotations.add(seq)
					if s.rot.oldSig == nil || !ed25519.Verify(d.keys[cur], s.rot.stmt, s.rot.oldSig) {
						r.UnauthorisedRotations.add(seq)
					}
					cur = next
				}
			case s.key != cur:
				r.BadSignatures.add(seq)
			}
		}
		if s.reset {
			r.Resets.add(seq)
		}
		if i == 0 {
			// The first record of the stream can only be checked when it
			// starts the chain.
			if seq == 1 && s.prev != Genesis {
				r.BrokenLinks.add(seq)
			}
			continue
		}
		prevSeq := seqs[i-1]
		if prevSeq+1 != seq {
			r.Missing += seq - prevSeq - 1
			if len(r.Gaps) < MaxListed {
				r.Gaps = append(r.Gaps, SeqRange{From: prevSeq + 1, To: seq - 1})
			}
			continue // nothing to link to
		}
		if s.reset {
			continue // a new chain starts here
		}
		if s.prev != d.recs[prevSeq].content {
			r.BrokenLinks.add(seq)
		}
	}
	return r
}

// checkTimes fills the clock findings of r: unsynchronised records, their
// corrections by the clock_sync record of their boot, and times that go
// backwards.
func (d *deviceState) checkTimes(r *DeviceReport, seqs []uint64) {
	// The first clock_sync record of each boot corrects that boot.
	syncs := map[string]uint64{}
	for _, seq := range seqs {
		if s := d.recs[seq]; s.sync != nil && s.sync.Boot != "" {
			if _, ok := syncs[s.sync.Boot]; !ok {
				syncs[s.sync.Boot] = seq
			}
		}
	}
	for i, seq := range seqs {
		s := d.recs[seq]
		if i > 0 && s.time.Before(d.recs[seqs[i-1]].time) {
			r.Backwards.add(seq)
		}
		if s.clock == nil || s.clock.Synced {
			continue
		}
		r.Unsynced.add(seq)
		by, ok := syncs[s.clock.Boot]
		if !ok || s.clock.Boot == "" {
			r.Uncorrectable.add(seq)
			continue
		}
		if len(r.Corrected) < MaxListed {
			r.Corrected = append(r.Corrected, Correction{Seq: seq, Time: s.time, Corrected: d.recs[by].sync.Correct(s.clock.MonoMS), By: by})
		}
	}
}
