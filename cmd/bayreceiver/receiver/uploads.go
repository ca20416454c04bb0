package receiver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

// uploader is the lease owner of upload worker w: the receiver's id and
// the worker's number, the same in every run, so that a worker that
// restarts after a crash takes back at once the job it held
// (store.Store.ClaimUpload), and two workers never hold one job.
func (r *Receiver) uploader(w int) string {
	return fmt.Sprintf("%s/%d", r.o.ID, w)
}

// uploadLoop uploads due jobs, one at a time, each leased in the store to
// owner, until ctx ends.
func (r *Receiver) uploadLoop(ctx context.Context, owner string) {
	if r.o.Uploader == nil {
		return
	}
	tick := time.NewTicker(r.o.UploadPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.upWake:
		}
		for ctx.Err() == nil {
			// Not cancelled by stopping: a claim that PostgreSQL commits as
			// ctx ends would be reported failed, and its lease would hold the
			// job for UploadLease; claimed, it is handed back by uploadJob.
			j, ok, err := r.st.ClaimUpload(context.WithoutCancel(ctx), owner, r.o.Now().UTC(), r.o.UploadLease)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("receiver: claim an upload", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			r.uploadJob(ctx, j, owner)
		}
	}
}

// uploadBackoff is the wait before upload attempt n+1: doubling from
// UploadBackoffMin, capped at UploadBackoffMax, with jitter (half to all
// of it).
func (r *Receiver) uploadBackoff(attempts int) time.Duration {
	d := r.o.UploadBackoffMin
	for i := 1; i < attempts && d < r.o.UploadBackoffMax; i++ {
		d *= 2
	}
	d = min(d, r.o.UploadBackoffMax)
	return d/2 + rand.N(d/2+1)
}

// uploadJob rebuilds one job leased to owner, sends it and records the
// outcome.
func (r *Receiver) uploadJob(ctx context.Context, j store.Job, owner string) {
	res, err := r.send(ctx, j)
	now := r.o.Now().UTC()
	j.Attempts++
	j.UpdatedAt, j.LeaseOwner, j.LeaseUntil = now, "", time.Time{}
	j.Reply = res.Reply
	switch {
	case err == nil:
		j.State, j.UploadedAt, j.LastError, j.NextAttempt = store.JobUploaded, now, "", time.Time{}
		r.stats.uploadsOK.Add(1)
		r.log.Info("receiver: job uploaded", "device", j.Device, "job", j.Job, "dialect", r.o.Uploader.Dialect(), "reply", res.Reply)
	case errors.Is(err, upload.ErrRejected), errors.Is(err, healthrecord.ErrIncomplete):
		j.State, j.LastError, j.NextAttempt = store.JobRejected, err.Error(), time.Time{}
		r.stats.uploadsRejected.Add(1)
		r.log.Warn("receiver: upload rejected", "device", j.Device, "job", j.Job, "reason", err)
	case ctx.Err() != nil:
		// Stopping: the job is due again at once, for whoever runs next.
		j.State, j.LastError, j.NextAttempt = store.JobPending, "interrupted by the receiver stopping", now
		j.Attempts--
	default:
		j.State, j.LastError, j.NextAttempt = store.JobPending, err.Error(), now.Add(r.uploadBackoff(j.Attempts))
		r.stats.uploadsFailed.Add(1)
		r.log.Warn("receiver: upload failed; retrying later", "device", j.Device, "job", j.Job, "attempt", j.Attempts,
			"next", j.NextAttempt, "err", err)
	}
	if err := r.st.SetJob(context.WithoutCancel(ctx), j, owner); err != nil {
		r.log.Error("receiver: upload state not saved", "device", j.Device, "job", j.Job, "err", err)
	}
}

func (r *Receiver) send(ctx context.Context, j store.Job) (upload.Result, error) {
	stored, err := r.st.JobRecords(ctx, j.Device, j.Job)
	if err != nil {
		return upload.Result{}, err
	}
	closed, err := rebuild(stored, j.Job)
	if err != nil {
		return upload.Result{}, fmt.Errorf("%w: %v", upload.ErrRejected, err)
	}
	name, ok := r.o.CompanyName(closed.Shop)
	if !ok {
		return upload.Result{}, fmt.Errorf("%w: no company name configured for shop %s", upload.ErrTemporary, closed.Shop)
	}
	rec, err := healthrecord.FromJob(closed, name)
	if err != nil {
		return upload.Result{}, err
	}
	uctx, cancel := context.WithTimeout(ctx, r.o.UploadLease/2)
	defer cancel()
	return r.o.Uploader.Upload(uctx, rec)
}
