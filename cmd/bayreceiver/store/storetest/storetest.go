// Package storetest is the one test suite every store.Store implementation
// must pass.
//
// So boltstore and pgstore behave the same.
package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
)

// Opener opens a new, empty store for one test; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"PutRecords", testPutRecords},
		{"Quarantine", testQuarantine},
		{"Keys", testKeys},
		{"Chain", testChain},
		{"ChainLock", testChainLock},
		{"Jobs", testJobs},
		{"ClaimUpload", testClaimUpload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Sealed returns n sealed records of device (seq 1..n), every third one
// belonging to job, as the store keeps them.
func Sealed(t testing.TB, device, job string, n int) []store.Record {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	s, err := record.NewSealer(record.SealerConfig{Key: key, Device: device, Shop: "330106000123456",
		Now: func() time.Time { at = at.Add(time.Second); return at }})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Record
	for i := range n {
		j := ""
		if i%3 == 0 {
			j = job
		}
		r, w, err := s.Seal(record.KindNote, j, map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.Record{Device: r.Device, Seq: r.Seq, Shop: r.Shop, Kind: r.Kind, Job: r.Job, Time: r.Time,
			Hash: r.Hash(), Prev: r.Prev, Wire: w, ReceivedAt: at.Add(time.Minute)})
	}
	return out
}

var ctx = context.Background()

func testPutRecords(t *testing.T, s store.Store) {
	a := Sealed(t, "dev-a", "J-1", 6)
	b := Sealed(t, "dev-b", "J-1", 2)
	got, err := s.PutRecords(ctx, []store.Record{a[0], a[2], b[0]})
	if err != nil || fmt.Sprint(got) != "[stored stored stored]" {
		t.Fatalf("PutRecords = %v, %v", got, err)
	}
	forged := a[3]
	forged.Seq, forged.Hash = 1, record.Hash{1} // another record claiming dev-a/1
	got, err = s.PutRecords(ctx, []store.Record{a[0], a[1], forged, a[1], a[3], a[4], a[5]})
	if err != nil || fmt.Sprint(got) != "[duplicate stored conflict duplicate stored stored stored]" {
		t.Fatalf("PutRecords = %v, %v", got, err)
	}
	if got, err := s.PutRecords(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("PutRecords(nil) = %v, %v", got, err)
	}
	r, ok, err := s.Record(ctx, "dev-a", 1)
	if err != nil || !ok || !bytes.Equal(r.Wire, a[0].Wire) || r.Hash != a[0].Hash || r.Prev != a[0].Prev ||
		r.Kind != record.KindNote || r.Job != "J-1" || r.Shop != a[0].Shop || !r.Time.Equal(a[0].Time) || !r.ReceivedAt.Equal(a[0].ReceivedAt) {
		t.Fatalf("Record(dev-a, 1) = %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := s.Record(ctx, "dev-a", 99); ok || err != nil {
		t.Fatalf("Record(dev-a, 99) = %v, %v", ok, err)
	}
	rs, err := s.Records(ctx, "dev-a", 2, 5, 3)
	if err != nil || len(rs) != 3 || rs[0].Seq != 2 || rs[2].Seq != 4 || !bytes.Equal(rs[1].Wire, a[2].Wire) {
		t.Fatalf("Records(dev-a, 2..5, 3) = %d records, %v", len(rs), err)
	}
	js, err := s.JobRecords(ctx, "dev-a", "J-1")
	if err != nil || len(js) != 2 || js[0].Seq != 1 || js[1].Seq != 4 {
		t.Fatalf("JobRecords(dev-a, J-1) = %v, %v", seqsOf(js), err)
	}
	if js, _ := s.JobRecords(ctx, "dev-a", "J"); len(js) != 0 {
		t.Fatalf("JobRecords of a job id that is a prefix: %v", seqsOf(js))
	}
	devs, err := s.Devices(ctx)
	if err != nil || fmt.Sprint(devs) != "[dev-a dev-b]" {
		t.Fatalf("Devices = %v, %v", devs, err)
	}
	if n, err := s.StoredCount(ctx, "dev-a"); err != nil || n != 6 {
		t.Fatalf("StoredCount(dev-a) = %d, %v", n, err)
	}
	if c, err := s.Counts(ctx); err != nil || c.Records != 7 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

func seqsOf(rs []store.Record) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func testQuarantine(t *testing.T, s store.Store) {
	at := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	qs := []store.Quarantined{
		{Device: "dev-a", Seq: 3, Reason: store.ReasonBadSignature, Detail: "bad sig", Topic: "bayagent/s/dev-a/records", Wire: []byte(`{"x":1}`), ReceivedAt: at},
		{Reason: store.ReasonMalformed, Detail: "not JSON", Topic: "bayagent/s/dev-b/records", Wire: []byte{0xff, 0}, ReceivedAt: at},
		{Device: "dev-a", Seq: 4, Reason: store.ReasonConflict, ReceivedAt: at},
	}
	if err := s.Quarantine(ctx, qs); err != nil {
		t.Fatal(err)
	}
	if qs[0].ID == 0 || qs[1].ID == qs[0].ID {
		t.Fatalf("IDs not assigned: %d %d", qs[0].ID, qs[1].ID)
	}
	all, err := s.QuarantinedRecords(ctx, "", 10)
	if err != nil || len(all) != 3 || all[0].Seq != 4 || all[2].Detail != "bad sig" || !bytes.Equal(all[1].Wire, []byte{0xff, 0}) || !all[2].ReceivedAt.Equal(at) {
		t.Fatalf("QuarantinedRecords = %+v, %v", all, err)
	}
	mine, err := s.QuarantinedRecords(ctx, "dev-a", 1)
	if err != nil || len(mine) != 1 || mine[0].Reason != store.ReasonConflict {
		t.Fatalf("QuarantinedRecords(dev-a, 1) = %+v, %v", mine, err)
	}
	c, err := s.Counts(ctx)
	if err != nil || c.Quarantined[store.ReasonBadSignature] != 1 || c.Quarantined[store.ReasonMalformed] != 1 || c.Quarantined[store.ReasonConflict] != 1 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

func testKeys(t *testing.T, s store.Store) {
	pub, _, _ := ed25519.GenerateKey(nil)
	pub2, _, _ := ed25519.GenerateKey(nil)
	if err := s.EnrollKey(ctx, "dev-a", pub); err != nil {
		t.Fatal(err)
	}
	if err := s.EnrollKey(ctx, "dev-a", pub2); err != nil { // a replaced key
		t.Fatal(err)
	}
	if err := s.EnrollKey(ctx, "dev-b", pub[:5]); !errors.Is(err, store.ErrKey) {
		t.Fatalf("short key: %v", err)
	}
	if err := s.EnrollKey(ctx, "bad device", pub); !errors.Is(err, store.ErrKey) {
		t.Fatalf("bad device id: %v", err)
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys["dev-a"], pub2) {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
}

func testChain(t *testing.T, s store.Store) {
	recs := Sealed(t, "dev-a", "J-1", 5)
	if _, err := s.PutRecords(ctx, []store.Record{recs[0], recs[1], recs[3]}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Chain(ctx, "dev-a"); ok || err != nil {
		t.Fatalf("Chain before any walk: %v, %v", ok, err)
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	err := s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		if ch := tx.Chain(); ch.Device != "dev-a" || ch.VerifiedThrough != 0 {
			t.Errorf("new chain = %+v", ch)
		}
		ls, err := tx.Links(0, 10)
		if err != nil {
			return err
		}
		if len(ls) != 3 || ls[0].Seq != 1 || ls[1].Prev != recs[0].Hash || ls[2].Seq != 4 || ls[0].Job != "J-1" || ls[2].Kind != record.KindNote || ls[1].Shop != "330106000123456" {
			t.Errorf("Links(0, 10) = %+v", ls)
		}
		if ls, _ := tx.Links(1, 1); len(ls) != 1 || ls[0].Seq != 2 {
			t.Errorf("Links(1, 1) = %+v", ls)
		}
		if err := tx.AddJob(store.Job{Device: "dev-a", Job: "J-1", State: store.JobWaiting, CloseSeq: 4, UpdatedAt: at}); err != nil {
			return err
		}
		return tx.SetChain(store.Chain{Shop: "330106000123456", VerifiedThrough: 2, VerifiedHash: recs[1].Hash, HighestSeq: 4,
			Gaps: []store.Gap{{From: 3, To: 3, FirstSeen: at}}, Permanent: []record.SeqRange{{From: 9, To: 9}}, UpdatedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, ok, err := s.Chain(ctx, "dev-a")
	if err != nil || !ok || ch.Device != "dev-a" || ch.VerifiedThrough != 2 || ch.VerifiedHash != recs[1].Hash ||
		len(ch.Gaps) != 1 || !ch.Gaps[0].FirstSeen.Equal(at) || len(ch.Permanent) != 1 {
		t.Fatalf("Chain = %+v, %v, %v", ch, ok, err)
	}
	// An error rolls back SetChain and AddJob alike.
	boom := errors.New("boom")
	err = s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		tx.AddJob(store.Job{Device: "dev-a", Job: "J-2", State: store.JobWaiting})
		tx.SetChain(store.Chain{VerifiedThrough: 4})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateChain error = %v", err)
	}
	if ch, _, _ := s.Chain(ctx, "dev-a"); ch.VerifiedThrough != 2 {
		t.Fatalf("a failed UpdateChain changed the chain: %+v", ch)
	}
	if _, ok, _ := s.Job(ctx, "dev-a", "J-2"); ok {
		t.Fatal("a failed UpdateChain added a job")
	}
	// AddJob does not replace a known job.
	s.UpdateChain(ctx, "dev-a", func(tx store.ChainTx) error {
		return tx.AddJob(store.Job{Device: "dev-a", Job: "J-1", State: store.JobCancelled})
	})
	if j, ok, _ := s.Job(ctx, "dev-a", "J-1"); !ok || j.State != store.JobWaiting || j.CloseSeq != 4 {
		t.Fatalf("AddJob replaced a known job: %+v", j)
	}
	chs, err := s.Chains(ctx)
	if err != nil || len(chs) != 1 || chs[0].Device != "dev-a" {
		t.Fatalf("Chains = %+v, %v", chs, err)
	}
}

// testChainLock: concurrent UpdateChain calls on one device never
// interleave (each increments a counter kept in the chain).
func testChainLock(t *testing.T, s store.Store) {
	const workers, rounds = 4, 15
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				err := s.UpdateChain(ctx, "dev-lock", func(tx store.ChainTx) error {
					ch := tx.Chain()
					ch.HighestSeq++
					return tx.SetChain(ch)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ch, _, _ := s.Chain(ctx, "dev-lock"); ch.HighestSeq != workers*rounds {
		t.Fatalf("counter = %d, want %d: chain updates interleaved", ch.HighestSeq, workers*rounds)
	}
}

func addJobs(t *testing.T, s store.Store, js ...store.Job) {
	t.Helper()
	for _, j := range js {
		if err := s.UpdateChain(ctx, j.Device, func(tx store.ChainTx) error { return tx.AddJob(j) }); err != nil {
			t.Fatal(err)
		}
	}
}

func testJobs(t *testing.T, s store.Store) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	addJobs(t, s,
		store.Job{Device: "dev-b", Job: "J-1", Shop: "330106000123456", State: store.JobWaiting, CloseSeq: 7, UpdatedAt: at},
		store.Job{Device: "dev-a", Job: "J-1", State: store.JobWaiting, CloseSeq: 3, UpdatedAt: at},
		store.Job{Device: "dev-a", Job: "J-2", State: store.JobCancelled, CloseSeq: 9, UpdatedAt: at},
	)
	j, ok, err := s.Job(ctx, "dev-b", "J-1")
	if err != nil || !ok || j.CloseSeq != 7 || j.Shop != "330106000123456" || !j.UpdatedAt.Equal(at) {
		t.Fatalf("Job = %+v, %v, %v", j, ok, err)
	}
	j.State, j.Attempts, j.LastError, j.NextAttempt = store.JobPending, 2, "HTTP 503", at.Add(time.Minute)
	if err := s.SetJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.Job(ctx, "dev-b", "J-1")
	if got.State != store.JobPending || got.Attempts != 2 || got.LastError != "HTTP 503" || !got.NextAttempt.Equal(at.Add(time.Minute)) {
		t.Fatalf("after SetJob: %+v", got)
	}
	// SwapJob moves a job on only from the state it was seen in.
	j2, _, _ := s.Job(ctx, "dev-a", "J-1")
	j2.State = store.JobPending
	if ok, err := s.SwapJob(ctx, j2, store.JobWaiting); err != nil || !ok {
		t.Fatalf("SwapJob from waiting = %v, %v", ok, err)
	}
	j2.State = store.JobRejected
	if ok, err := s.SwapJob(ctx, j2, store.JobWaiting); err != nil || ok {
		t.Fatalf("second SwapJob from waiting = %v, %v", ok, err)
	}
	if ok, _ := s.SwapJob(ctx, store.Job{Device: "dev-x", Job: "none", State: store.JobPending}, store.JobWaiting); ok {
		t.Fatal("SwapJob of an unknown job swapped")
	}
	if j, _, _ := s.Job(ctx, "dev-a", "J-1"); j.State != store.JobPending {
		t.Fatalf("after the swaps: %+v", j)
	}
	j2.State = store.JobWaiting
	s.SwapJob(ctx, j2, store.JobPending)
	byID, err := s.JobsByID(ctx, "J-1")
	if err != nil || len(byID) != 2 || byID[0].Device != "dev-a" || byID[1].Device != "dev-b" {
		t.Fatalf("JobsByID = %+v, %v", byID, err)
	}
	waiting, err := s.Jobs(ctx, store.JobWaiting)
	if err != nil || len(waiting) != 1 || waiting[0].Device != "dev-a" || waiting[0].Job != "J-1" {
		t.Fatalf("Jobs(waiting) = %+v, %v", waiting, err)
	}
	all, _ := s.Jobs(ctx, "")
	if len(all) != 3 || all[0].Job != "J-1" || all[1].Job != "J-2" {
		t.Fatalf("Jobs() = %+v", all)
	}
	c, err := s.Counts(ctx)
	if err != nil || c.Jobs[store.JobPending] != 1 || c.Jobs[store.JobWaiting] != 1 || c.Jobs[store.JobCancelled] != 1 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

func testClaimUpload(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	addJobs(t, s,
		store.Job{Device: "dev-a", Job: "late", State: store.JobPending, NextAttempt: now.Add(time.Hour)},
		store.Job{Device: "dev-a", Job: "due", State: store.JobPending, NextAttempt: now.Add(-time.Minute)},
		store.Job{Device: "dev-b", Job: "first", State: store.JobPending, NextAttempt: now.Add(-time.Hour)},
		store.Job{Device: "dev-b", Job: "done", State: store.JobUploaded},
	)
	var got []string
	for _, owner := range []string{"rx-1", "rx-3", "rx-4"} {
		j, ok, err := s.ClaimUpload(ctx, owner, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, j.Job)
			if j.LeaseOwner != owner || !j.LeaseUntil.Equal(now.Add(time.Minute)) {
				t.Errorf("claimed %+v", j)
			}
		}
	}
	if fmt.Sprint(got) != "[first due]" {
		t.Fatalf("claimed %v, want the due jobs, oldest first, once each", got)
	}
	// A receiver that claims again holds no job any more (it restarted):
	// its own lease is taken back at once, nobody else's.
	if j, ok, _ := s.ClaimUpload(ctx, "rx-3", now, time.Minute); !ok || j.Job != "due" || j.LeaseOwner != "rx-3" {
		t.Fatalf("rx-3 claiming again: %+v %v, want its own job back", j, ok)
	}
	if j, ok, _ := s.ClaimUpload(ctx, "rx-2", now, time.Minute); ok {
		t.Fatalf("rx-2 claimed %+v, leased to %s", j, j.LeaseOwner)
	}
	// Another receiver cannot finish a job it does not hold...
	j, _, _ := s.Job(ctx, "dev-b", "first")
	j.State = store.JobUploaded
	if err := s.SetJob(ctx, j, "rx-2"); !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("SetJob by another receiver: %v", err)
	}
	// ...but takes it over once the lease ran out.
	if j, ok, _ := s.ClaimUpload(ctx, "rx-2", now.Add(2*time.Minute), time.Minute); !ok || !slices.Contains([]string{"first", "due"}, j.Job) {
		t.Fatalf("no takeover after the lease expired: %+v %v", j, ok)
	}
	j, _, _ = s.Job(ctx, "dev-a", "due")
	j.State, j.LeaseOwner, j.LeaseUntil = store.JobUploaded, "", time.Time{}
	if err := s.SetJob(ctx, j, "rx-3"); err != nil {
		t.Fatalf("SetJob by the owner: %v", err)
	}
	if j, _, _ := s.Job(ctx, "dev-a", "due"); j.State != store.JobUploaded || j.LeaseOwner != "" {
		t.Fatalf("after the owner's SetJob: %+v", j)
	}
}
