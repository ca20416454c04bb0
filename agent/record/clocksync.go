package record

import (
	"encoding/json"
	"time"
)

// ClockSyncBody is the body of a "clock_sync" record: the first moment of
// a boot at which the box's clock was synchronised. A receiver corrects
// every earlier record of the same boot (clock.boot equal to Boot,
// clock.synced false) to
//
//	SyncWall - (SyncMonoMS - record.clock.mono_ms)
//
// (see [ClockSyncBody.Correct]). Records of a boot without a clock_sync
// record cannot be corrected, only flagged.
type ClockSyncBody struct {
	// Boot is the boot id the sync belongs to.
	Boot string `json:"boot"`
	// SyncWall and SyncMonoMS are the wall clock (UTC, milliseconds) and
	// the milliseconds since boot at the first synchronised reading.
	SyncWall   time.Time `json:"sync_wall"`
	SyncMonoMS uint64    `json:"sync_mono_ms"`
	// OffsetMS is how far the wall clock moved at the sync beyond the time
	// that passed, from the last unsynchronised reading the agent took
	// (positive: the clock was behind); absent when the clock was
	// synchronised from the agent's start.
	OffsetMS *int64 `json:"offset_ms,omitempty"`
}

// Correct returns the wall time a record of the same boot stamped at
// monotonic time monoMS should have carried.
func (b *ClockSyncBody) Correct(monoMS uint64) time.Time {
	return b.SyncWall.Add(-time.Duration(int64(b.SyncMonoMS)-int64(monoMS)) * time.Millisecond).UTC()
}

func parseClockSync(r *Record) *ClockSyncBody {
	if r.Kind != KindClockSync {
		return nil
	}
	var b ClockSyncBody
	if json.Unmarshal(r.Body, &b) != nil || b.SyncWall.IsZero() {
		return nil
	}
	return &b
}
