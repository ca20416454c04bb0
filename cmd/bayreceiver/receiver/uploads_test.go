package receiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

// stopInClaim is a store whose ClaimUpload stops the receiver while the
// claim commits and, as PostgreSQL can when the commit was already sent,
// commits it although its context ended; its JobRecords, like
// PostgreSQL's, fails on an ended context.
type stopInClaim struct {
	store.Store
	stop context.CancelFunc
}

func (s *stopInClaim) ClaimUpload(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Job, bool, error) {
	s.stop()
	j, ok, err := s.Store.ClaimUpload(context.WithoutCancel(ctx), owner, now, lease)
	if err == nil && ctx.Err() != nil {
		return store.Job{}, false, ctx.Err()
	}
	return j, ok, err
}

func (s *stopInClaim) JobRecords(ctx context.Context, device, job string) ([]store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Store.JobRecords(ctx, device, job)
}

type noUpload struct{ t *testing.T }

func (noUpload) Dialect() string { return "none" }
func (u noUpload) Upload(context.Context, healthrecord.Record) (upload.Result, error) {
	u.t.Error("uploaded while stopping")
	return upload.Result{}, nil
}

// TestUploadStopDuringClaim: a receiver stopped while it claims a job
// leaves the job pending and leased to nobody, so a receiver started
// next uploads it at once rather than after the lease.
func TestUploadStopDuringClaim(t *testing.T) {
	ctx := context.Background()
	bolt := jobStore(t, store.Job{Device: "bay-01", Job: "J-1", State: store.JobPending})
	runUploads(t, func(stop context.CancelFunc) store.Store { return &stopInClaim{Store: bolt, stop: stop} })
	j, ok, err := bolt.Job(ctx, "bay-01", "J-1")
	if err != nil || !ok || j.State != store.JobPending || j.LeaseOwner != "" || j.Attempts != 0 {
		t.Fatalf("job %+v (found %v, %v), want pending, leased to nobody, no attempt counted", j, ok, err)
	}
}

// stopWhenIdle is a store whose ClaimUpload stops the receiver when it
// finds nothing more to claim.
type stopWhenIdle struct {
	store.Store
	stop context.CancelFunc
}

func (s *stopWhenIdle) ClaimUpload(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Job, bool, error) {
	j, ok, err := s.Store.ClaimUpload(ctx, owner, now, lease)
	if !ok {
		s.stop()
	}
	return j, ok, err
}

// TestUploadTakesBackOwnLease: an upload worker restarted after a crash
// takes back at once the job it held, not after the lease; a job another
// receiver holds stays with it.
func TestUploadTakesBackOwnLease(t *testing.T) {
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	bolt := jobStore(t,
		store.Job{Device: "bay-01", Job: "J-own", State: store.JobPending, LeaseOwner: "rx-1/0", LeaseUntil: until},
		store.Job{Device: "bay-01", Job: "J-other", State: store.JobPending, LeaseOwner: "rx-2/0", LeaseUntil: until})
	runUploads(t, func(stop context.CancelFunc) store.Store { return &stopWhenIdle{Store: bolt, stop: stop} })
	// J-own has no records here, so taking it back ends in a rejection.
	if j, _, _ := bolt.Job(ctx, "bay-01", "J-own"); j.State != store.JobRejected || j.LeaseOwner != "" || j.Attempts != 1 {
		t.Errorf("own job %+v, want taken back (rejected: no records), leased to nobody", j)
	}
	if j, _, _ := bolt.Job(ctx, "bay-01", "J-other"); j.State != store.JobPending || j.LeaseOwner != "rx-2/0" || j.Attempts != 0 {
		t.Errorf("other receiver's job %+v, want untouched", j)
	}
}

// jobStore is a bbolt store holding jobs, each set by its lease owner.
func jobStore(t *testing.T, jobs ...store.Job) *boltstore.Store {
	t.Helper()
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	for _, j := range jobs {
		if err := bolt.SetJob(context.Background(), j, j.LeaseOwner); err != nil {
			t.Fatal(err)
		}
	}
	return bolt
}

// runUploads runs upload worker 0 of receiver rx-1 on the store wrap
// returns, until that store calls stop.
func runUploads(t *testing.T, wrap func(stop context.CancelFunc) store.Store) {
	t.Helper()
	run, stop := context.WithCancel(context.Background())
	defer stop()
	r, err := New(Options{Store: wrap(stop), Uploader: noUpload{t}, UploadPoll: time.Millisecond,
		MQTT: MQTTOptions{Broker: "tcp://127.0.0.1:1", ClientID: "rx-1"}})
	if err != nil {
		t.Fatal(err)
	}
	r.uploadLoop(run, r.uploader(0))
}
