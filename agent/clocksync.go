package agent

import (
	"context"
	"time"

	"github.com/bayagent/bayagent/agent/clock"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
)

// DefaultClockPoll is how often the agent looks for the clock's first
// synchronisation in a boot.
const DefaultClockPoll = 10 * time.Second

// watchClock stores a clock_sync record at the first synchronised reading
// of this boot (once per boot: the chain file remembers the boot whose
// sync is on record), so that a receiver can correct the times of the
// boot's earlier records. A boot in which no record was sealed and the
// watch never read the clock unsynchronised (the chain file remembers
// that too, across restarts) has nothing to correct, and a boot the
// kernel does not name cannot be corrected: neither gets a clock_sync
// record.
func (a *Agent) watchClock(ctx context.Context) {
	boot := a.clock.Boot()
	if boot == "" || a.chain.Get().ClockSyncBoot == boot {
		return
	}
	unsynced := a.chain.Get().UnsyncedBoot == boot
	tick := time.NewTicker(a.deps.ClockPoll)
	defer tick.Stop()
	for {
		a.clockMu.Lock()
		r := a.clock.Read()
		sawUnsynced := !r.Synced || a.sealUnsynced
		s, ok := a.clockTracker.Observe(r)
		a.clockMu.Unlock()
		if sawUnsynced && !unsynced {
			if err := a.chain.Update(func(c *devicekey.Chain) { c.UnsyncedBoot = boot }); err != nil {
				a.noteErr(i18n.M("agent.chain_unsynced_boot"), err)
			}
			unsynced = true
		}
		if ok {
			if !unsynced {
				return // synchronised before any record of this boot
			}
			if a.storeClockSync(ctx, s) {
				a.clockTracker.Reported(s.At.Boot)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sealClock reads the clock for a record being sealed. Its reading goes
// to the clock watch too: a record sealed unsynchronised needs the
// boot's clock_sync record even when the clock was synchronised by the
// watch's next reading, and its reading is the last one before the sync.
// The readings are taken under clockMu, so a watch that reads the clock
// synchronised has seen every record sealed before.
func (a *Agent) sealClock() record.Clock {
	a.clockMu.Lock()
	defer a.clockMu.Unlock()
	r := a.clock.Read()
	if !r.Synced {
		a.sealUnsynced = true
	}
	a.clockTracker.Observe(r)
	return record.StateOf(r)
}

// storeClockSync stores the clock_sync record of s and notes its boot in
// the chain file; it reports whether the record was stored.
func (a *Agent) storeClockSync(ctx context.Context, s clock.Sync) bool {
	body := record.ClockSyncBody{
		Boot:       s.At.Boot,
		SyncWall:   s.At.Wall.UTC().Truncate(time.Millisecond),
		SyncMonoMS: uint64(max(s.At.MonoMS(), 0)),
	}
	if off, ok := s.Offset(); ok {
		ms := off.Milliseconds()
		body.OffsetMS = &ms
	}
	if err := a.emit(ctx, job.Event{Kind: record.KindClockSync, Body: body}); err != nil {
		a.noteErr(i18n.M("agent.clock_sync_not_stored"), err)
		return false
	}
	a.log.Info("clock synchronised", "boot", body.Boot, "offset_ms", body.OffsetMS)
	if err := a.chain.Update(func(c *devicekey.Chain) { c.ClockSyncBoot = body.Boot }); err != nil {
		// The record is stored; a restart in this boot stores another one,
		// which a receiver reads the same way.
		a.noteErr(i18n.M("agent.chain_clock_sync_boot"), err)
	}
	return true
}
