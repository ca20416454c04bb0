package receiver

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/chain"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
)

const testShop = "330106000123456"

// device is a test device: its key and the wire form of its records, by
// seq (records[0] is seq 1).
type device struct {
	id      string
	sealer  *record.Sealer
	records [][]byte
}

func newDevice(t *testing.T, id string, n int) *device {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: id, Shop: testShop})
	if err != nil {
		t.Fatal(err)
	}
	d := &device{id: id, sealer: s}
	for i := range n {
		_, w, err := s.Seal(record.KindNote, "", map[string]any{"text": fmt.Sprintf("note %d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		d.records = append(d.records, w)
	}
	return d
}

// wire returns the record of seq.
func (d *device) wire(seq int) []byte { return d.records[seq-1] }

// head is the chain head at seq, for sealing after it.
func (d *device) head(t *testing.T, seq int) record.Head {
	h, ok := record.WireHash(d.wire(seq))
	if !ok {
		t.Fatal("not a wire record")
	}
	return record.Head{Seq: uint64(seq), Hash: h}
}

// verifier is a receiver that only verifies, with the keys of devs.
func verifier(devs ...*device) *Receiver {
	k := &keys{m: map[string]ed25519.PublicKey{}, loaded: time.Now().Add(time.Hour)}
	for _, d := range devs {
		k.m[d.id] = d.sealer.PublicKey()
	}
	return &Receiver{o: Options{MQTT: MQTTOptions{Prefix: DefaultPrefix}}, keys: k}
}

func msg(dev string, wire []byte) inbound {
	return inbound{topic: uplink.DeviceTopics(DefaultPrefix, testShop, dev).Records, payload: wire}
}

// outcome summarises a verified batch: "s" stored, "q:<reason>"
// quarantined, one per message.
func outcome(res []verified) string {
	var out []string
	for _, v := range res {
		if v.rec != nil {
			out = append(out, "s")
		} else {
			out = append(out, "q:"+v.q.Reason)
		}
	}
	return strings.Join(out, " ")
}

// alterSig replaces a record's signature with zeros (its canonical bytes,
// and so its hash, unchanged).
func alterSig(w []byte) []byte {
	s := string(w)
	i := strings.Index(s, `"sig":"`) + len(`"sig":"`)
	return []byte(s[:i] + base64.StdEncoding.EncodeToString(make([]byte, 64)) + s[i+88:])
}

func check(t *testing.T, r *Receiver, msgs []inbound, want string, wantSig, wantChain int) []verified {
	t.Helper()
	res, bySig, byChain := r.verifyBatch(context.Background(), msgs)
	if got := outcome(res); got != want {
		t.Fatalf("outcome\n got %s\nwant %s", got, want)
	}
	if bySig != wantSig || byChain != wantChain {
		t.Fatalf("%d by signature, %d by chain; want %d and %d", bySig, byChain, wantSig, wantChain)
	}
	for i, v := range res {
		if v.rec != nil {
			if h, _ := record.WireHash(msgs[i].payload); v.rec.Hash != h || string(v.rec.Wire) != string(msgs[i].payload) {
				t.Fatalf("message %d stored with another hash or wire", i)
			}
		}
	}
	return res
}

func repeat(s string, n int) string { return strings.TrimSpace(strings.Repeat(s+" ", n)) }

// TestVerifyByChain: a run of linked records is authenticated by the
// signature of its newest record; records of two devices interleaved and
// out of order form one run per device.
func TestVerifyByChain(t *testing.T) {
	a, b := newDevice(t, "bay-01", 10), newDevice(t, "bay-02", 5)
	r := verifier(a, b)
	var msgs []inbound
	for i := 10; i >= 1; i-- {
		msgs = append(msgs, msg("bay-01", a.wire(i)))
		if i <= 5 {
			msgs = append(msgs, msg("bay-02", b.wire(i)))
		}
	}
	check(t, r, msgs, repeat("s", 15), 2, 13)
	// Alone, a record is verified by its own signature.
	check(t, r, []inbound{msg("bay-01", a.wire(3))}, "s", 1, 0)
	// Not consecutive: no link, each by its own signature.
	check(t, r, []inbound{msg("bay-01", a.wire(3)), msg("bay-01", a.wire(5)), msg("bay-01", a.wire(7))}, "s s s", 3, 0)
}

// TestVerifyForgedInRun: a forged or edited record inside a run is
// quarantined, and everything genuine around it is stored.
func TestVerifyForgedInRun(t *testing.T) {
	a := newDevice(t, "bay-01", 10)
	r := verifier(a)
	run := func(replace int, wire []byte) []inbound {
		var msgs []inbound
		for i := 1; i <= 10; i++ {
			w := a.wire(i)
			if i == replace {
				w = wire
			}
			msgs = append(msgs, msg("bay-01", w))
		}
		return msgs
	}
	// Edited: seq 5's body changed, its prev kept. It links to seq 4 but
	// seq 6 does not link to it: runs 1-5 and 6-10. The top of 1-5 fails,
	// so 1-4 are verified one by one.
	edited := []byte(strings.Replace(string(a.wire(5)), "note 5", "note X", 1))
	check(t, r, run(5, edited), "s s s s q:bad_signature s s s s s", 6, 4)
	// Forged by another key, linked to the real seq 4.
	_, other, _ := ed25519.GenerateKey(nil)
	forger, _ := record.NewSealer(record.SealerConfig{Key: other, Device: "bay-01", Shop: testShop})
	_, forged, _, _ := forger.SealNext(a.head(t, 4), record.KindNote, "", map[string]string{"text": "forged"})
	check(t, r, run(5, forged), "s s s s q:bad_signature s s s s s", 6, 4)
	// A forged chain on top of the real one (the forger can compute every
	// link): 1-3 real, 4-6 forged and linked. Its top fails; one by one,
	// the real ones pass and the forged ones do not.
	msgs := []inbound{msg("bay-01", a.wire(1)), msg("bay-01", a.wire(2)), msg("bay-01", a.wire(3))}
	h := a.head(t, 3)
	for range 3 {
		var w []byte
		_, w, h, _ = forger.SealNext(h, record.KindNote, "", map[string]string{"text": "forged"})
		msgs = append(msgs, msg("bay-01", w))
	}
	check(t, r, msgs, "s s s q:bad_signature q:bad_signature q:bad_signature", 6, 0)
	// A forged newest record: the rest is verified one by one.
	_, forged10, _, _ := forger.SealNext(a.head(t, 9), record.KindNote, "", map[string]string{"text": "forged"})
	check(t, r, run(10, forged10), "s s s s s s s s s q:bad_signature", 10, 0)
	// Beside the real seq 5 (two records for one seq in the batch): both
	// stand alone; the real runs 1-4 and 6-10 are verified by their tops.
	msgs = append(run(0, nil), msg("bay-01", forged))
	check(t, r, msgs, repeat("s", 10)+" q:bad_signature", 4, 7)
}

// TestVerifySigBytes: a record whose canonical bytes are committed to by
// a verified record is authenticated even when its own sig field was
// altered (the canonical bytes exclude it); as the newest of its run, or
// alone, it is quarantined.
func TestVerifySigBytes(t *testing.T) {
	a := newDevice(t, "bay-01", 3)
	r := verifier(a)
	check(t, r, []inbound{msg("bay-01", a.wire(1)), msg("bay-01", alterSig(a.wire(2))), msg("bay-01", a.wire(3))}, "s s s", 1, 2)
	check(t, r, []inbound{msg("bay-01", a.wire(1)), msg("bay-01", a.wire(2)), msg("bay-01", alterSig(a.wire(3)))}, "s s q:bad_signature", 3, 0)
	check(t, r, []inbound{msg("bay-01", alterSig(a.wire(2)))}, "q:bad_signature", 1, 0)
}

// TestVerifyChainStart: an outbox_reset record starts a new chain (prev =
// genesis): no link to the record below it.
func TestVerifyChainStart(t *testing.T) {
	a := newDevice(t, "bay-01", 3)
	_, reset, _, err := a.sealer.SealNext(record.Head{Seq: 3}, record.KindOutboxReset, "", map[string]any{"lost_from": 1})
	if err != nil {
		t.Fatal(err)
	}
	r := verifier(a)
	msgs := []inbound{msg("bay-01", a.wire(1)), msg("bay-01", a.wire(2)), msg("bay-01", a.wire(3)), msg("bay-01", reset)}
	check(t, r, msgs, "s s s s", 2, 2)
	// Malformed, misplaced and unknown records never join a run.
	stranger := newDevice(t, "bay-77", 1)
	msgs = []inbound{msg("bay-01", a.wire(1)), msg("bay-01", []byte(`{"schema":2`)), msg("bay-02", a.wire(2)),
		msg("bay-77", stranger.wire(1)), msg("bay-01", a.wire(2))}
	res := check(t, r, msgs, "s q:malformed q:wrong_topic q:unknown_device s", 1, 1)
	if res[1].q.Seq != 0 || res[2].q.Device != "bay-01" || res[2].q.Seq != 2 {
		t.Fatalf("quarantine entries %+v %+v", res[1].q, res[2].q)
	}
}

// TestSigCheck: the idle check verifies the own signature of every stored
// record up to the verified watermark, and reports a record stored by
// chain whose sig member was altered; it stays stored.
func TestSigCheck(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newDevice(t, "bay-01", 5)
	if err := st.EnrollKey(ctx, a.id, a.sealer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Store: st, MQTT: MQTTOptions{Broker: "tcp://127.0.0.1:1", ClientID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.keys.load(ctx); err != nil {
		t.Fatal(err)
	}
	// 1, 2 (sig altered), 3 and 5: 4 is missing, so the watermark stays
	// at 3 and 5 waits.
	var msgs []inbound
	for _, w := range [][]byte{a.wire(1), alterSig(a.wire(2)), a.wire(3), a.wire(5)} {
		m := msg(a.id, w)
		m.ack = func() {}
		msgs = append(msgs, m)
	}
	res, _, byChain := r.verifyBatch(ctx, msgs)
	if outcome(res) != "s s s s" || byChain != 2 {
		t.Fatalf("%s, %d by chain", outcome(res), byChain)
	}
	if !r.commit(&batch{msgs: msgs, res: res}, map[string]bool{}) {
		t.Fatal("batch not stored")
	}
	if _, err := chain.Walk(ctx, st, a.id, chain.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.sigCheckRound(ctx); err != nil || n != 3 {
		t.Fatalf("checked %d (%v), want 3", n, err)
	}
	ch, _, _ := st.Chain(ctx, a.id)
	if ch.VerifiedThrough != 3 || ch.SigCheckedThrough != 3 || ch.SigFailureCount != 1 || fmt.Sprint(ch.SigFailures) != "[2]" {
		t.Fatalf("chain %+v", ch)
	}
	if n, _ := st.StoredCount(ctx, a.id); n != 4 {
		t.Fatalf("%d stored, want 4", n)
	}
	if n, err := r.sigCheckRound(ctx); err != nil || n != 0 {
		t.Fatalf("checked %d again (%v)", n, err)
	}
	// 4 arrives: the watermark passes 5, and so does the check.
	m := msg(a.id, a.wire(4))
	m.ack = func() {}
	res, _, _ = r.verifyBatch(ctx, []inbound{m})
	if !r.commit(&batch{msgs: []inbound{m}, res: res}, map[string]bool{}) {
		t.Fatal("batch not stored")
	}
	if _, err := chain.Walk(ctx, st, a.id, chain.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.sigCheckRound(ctx); err != nil || n != 2 {
		t.Fatalf("checked %d (%v), want 2", n, err)
	}
	ch, _, _ = st.Chain(ctx, a.id)
	if s := StatusOf(ch, 5); s.SigCheckedThrough != 5 || s.SigFailureCount != 1 || r.Stats().SigFailures != 1 || r.Stats().SigChecked != 5 {
		t.Fatalf("status %+v, stats %+v", s, r.Stats())
	}
}

// gatedStore holds the first PutRecords until the second has returned.
type gatedStore struct {
	store.Store
	t      *testing.T
	calls  atomic.Int32
	second chan struct{}
}

func (g *gatedStore) PutRecords(ctx context.Context, recs []store.Record) ([]store.Outcome, error) {
	switch g.calls.Add(1) {
	case 1:
		select {
		case <-g.second:
		case <-time.After(time.Minute):
			g.t.Error("the second batch was not stored while the first was")
		}
	case 2:
		defer close(g.second)
	}
	return g.Store.PutRecords(ctx, recs)
}

// TestCommitsInOrder: two batches are stored at once, and the second,
// stored first, is acknowledged only after the first.
func TestCommitsInOrder(t *testing.T) {
	ctx := context.Background()
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	a := newDevice(t, "bay-01", 4)
	if err := bolt.EnrollKey(ctx, a.id, a.sealer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	st := &gatedStore{Store: bolt, t: t, second: make(chan struct{})}
	r, err := New(Options{Store: st, Commits: 2, MQTT: MQTTOptions{Broker: "tcp://127.0.0.1:1", ClientID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.keys.load(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []int
	in := make(chan *batch, 2)
	for _, seqs := range [][]int{{1, 2}, {3, 4}} {
		var msgs []inbound
		for _, seq := range seqs {
			m := msg(a.id, a.wire(seq))
			m.ack = func() { mu.Lock(); acks = append(acks, seq); mu.Unlock() }
			msgs = append(msgs, m)
		}
		res, _, _ := r.verifyBatch(ctx, msgs)
		r.inflight.Add(1)
		in <- &batch{msgs: msgs, res: res}
	}
	close(in)
	r.commitLoop(in)
	if fmt.Sprint(acks) != "[1 2 3 4]" || r.Stats().Stored != 4 || r.Stats().Batches != 2 || r.inflight.Load() != 0 {
		t.Fatalf("acks %v, stats %+v, in flight %d", acks, r.Stats(), r.inflight.Load())
	}
}
