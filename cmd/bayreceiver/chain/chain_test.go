package chain_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/chain"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/storetest"
)

var ctx = context.Background()

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s store.Store, recs ...store.Record) {
	t.Helper()
	if _, err := s.PutRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func walk(t *testing.T, s store.Store, c *clock, maxScan int) chain.Result {
	t.Helper()
	res, err := chain.Walk(ctx, s, "dev-a", chain.Options{Now: c.now, MaxScan: maxScan})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func gaps(ch store.Chain) string {
	var s string
	for _, g := range ch.Gaps {
		s += fmt.Sprintf("[%d-%d]", g.From, g.To)
	}
	return s
}

// TestWalkAnyOrder: records stored in a random order, walked after each
// batch, end verified through the last one with no gap and no break.
func TestWalkAnyOrder(t *testing.T) {
	s := open(t)
	c := &clock{time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	recs := storetest.Sealed(t, "dev-a", "J-1", 200)
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(recs))
	verified := 0
	for i := 0; i < len(order); i += 17 {
		var batch []store.Record
		for _, k := range order[i:min(i+17, len(order))] {
			batch = append(batch, recs[k])
		}
		put(t, s, batch...)
		verified += walk(t, s, c, 50).Verified
	}
	for range 5 { // MaxScan 50: the rest in steps
		verified += walk(t, s, c, 50).Verified
	}
	ch, _, _ := s.Chain(ctx, "dev-a")
	if ch.VerifiedThrough != 200 || ch.VerifiedHash != recs[199].Hash || len(ch.Gaps) != 0 || ch.BreakCount != 0 || verified != 200 || ch.HighestSeq != 200 {
		t.Fatalf("chain %+v (verified %d)", ch, verified)
	}
	if ch.Shop != "330106000123456" {
		t.Errorf("shop %q", ch.Shop)
	}
}

func TestGapsAndPermanentGaps(t *testing.T) {
	s := open(t)
	c := &clock{time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	recs := storetest.Sealed(t, "dev-a", "J-1", 12)
	put(t, s, recs[0], recs[1], recs[2], recs[5], recs[6], recs[9]) // 1-3, 6-7, 10
	res := walk(t, s, c, 0)
	if res.Chain.VerifiedThrough != 3 || gaps(res.Chain) != "[4-5][8-9]" || res.Chain.HighestSeq != 10 {
		t.Fatalf("after the first walk: %+v", res.Chain)
	}
	first := c.t
	// A resend was sent for the first gap; part of it arrives later.
	s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		ch := tx.Chain()
		ch.Gaps[0].RequestedAt, ch.Gaps[0].Attempts = first.Add(time.Second), 1
		return tx.SetChain(ch)
	})
	c.t = c.t.Add(time.Minute)
	put(t, s, recs[4]) // 5
	res = walk(t, s, c, 0)
	if gaps(res.Chain) != "[4-4][8-9]" || !res.Chain.Gaps[0].FirstSeen.Equal(first) || res.Chain.Gaps[0].Attempts != 1 ||
		!res.Chain.Gaps[1].FirstSeen.Equal(first) {
		t.Fatalf("gaps kept no history: %+v", res.Chain.Gaps)
	}
	// The device no longer has 4 and 8: the walk steps over them; 9 is
	// still asked for.
	s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		ch := tx.Chain()
		chain.AddPermanent(&ch, []record.SeqRange{{From: 4, To: 4}, {From: 8, To: 8}})
		return tx.SetChain(ch)
	})
	res = walk(t, s, c, 0)
	if res.Chain.VerifiedThrough != 8 || gaps(res.Chain) != "[9-9]" || res.Chain.BreakCount != 0 {
		t.Fatalf("after permanent gaps: %+v", res.Chain)
	}
	if chain.PermanentCount(&res.Chain) != 2 || chain.Missing(&res.Chain) != 1 {
		t.Fatalf("counts: permanent %d missing %d", chain.PermanentCount(&res.Chain), chain.Missing(&res.Chain))
	}
	put(t, s, recs[8], recs[10]) // 9, 11
	res = walk(t, s, c, 0)
	if res.Chain.VerifiedThrough != 11 || len(res.Chain.Gaps) != 0 || res.Chain.BreakCount != 0 {
		t.Fatalf("at the end: %+v", res.Chain)
	}
	// A permanent gap at the top is passed too.
	s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		ch := tx.Chain()
		chain.AddPermanent(&ch, []record.SeqRange{{From: 12, To: 14}})
		return tx.SetChain(ch)
	})
	if res = walk(t, s, c, 0); res.Chain.VerifiedThrough != 14 {
		t.Fatalf("permanent gap at the top: %+v", res.Chain)
	}
}

func TestBreaksResetsAndJobs(t *testing.T) {
	s := open(t)
	c := &clock{time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	recs := storetest.Sealed(t, "dev-a", "J-1", 8)
	recs[2].Prev = record.Hash{7}                                                       // 3 does not link to 2
	recs[4].Kind, recs[4].Prev = record.KindOutboxReset, record.Genesis                 // 5 starts a new chain
	recs[5].Kind, recs[5].Job = record.KindJobClose, "J-1"                              // 6 closes J-1
	recs[6].Kind, recs[6].Job, recs[6].Prev = record.KindJobCancel, "J-2", recs[5].Hash // 7 cancels J-2
	put(t, s, recs...)
	res := walk(t, s, c, 0)
	ch := res.Chain
	if ch.VerifiedThrough != 8 || ch.BreakCount != 1 || fmt.Sprint(ch.Breaks) != "[3]" || fmt.Sprint(ch.Resets) != "[5]" {
		t.Fatalf("chain %+v", ch)
	}
	if len(res.Jobs) != 2 || res.Jobs[0].Job != "J-1" || res.Jobs[0].State != store.JobWaiting || res.Jobs[0].CloseSeq != 6 ||
		res.Jobs[1].State != store.JobCancelled || res.Jobs[1].Shop != "330106000123456" {
		t.Fatalf("jobs %+v", res.Jobs)
	}
	if j, ok, _ := s.Job(ctx, "dev-a", "J-2"); !ok || j.State != store.JobCancelled {
		t.Fatalf("J-2 in the store: %+v %v", j, ok)
	}
	// A first record that claims a predecessor is a break too.
	s2 := open(t)
	bad := storetest.Sealed(t, "dev-a", "J-1", 1)[0]
	bad.Prev = record.Hash{1}
	put(t, s2, bad)
	if res, _ := chain.Walk(ctx, s2, "dev-a", chain.Options{}); res.Chain.BreakCount != 1 || res.Chain.VerifiedThrough != 1 {
		t.Fatalf("seq 1 with a prev: %+v", res.Chain)
	}
}
