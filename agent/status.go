package agent

import "time"

// status is the agent's part of the retained status message: what an
// operator needs at a glance.
func (a *Agent) status() map[string]any {
	st := map[string]any{"version": a.deps.Version, "bay": a.bay}
	a.mu.Lock()
	veh, lastErr, fault, live := a.vehicle, a.lastErr, a.fault, a.live != nil
	a.mu.Unlock()
	st["vehicle_connected"] = veh != nil
	if veh != nil {
		st["vehicle_protocol"] = veh.link.Protocol
		st["vehicle_since"] = veh.since.UTC()
	}
	st["live_feed"] = live
	if a.cfg.Analyzer.Interface != "" {
		// The analyzer's day: warming up, zero due, leak check due.
		st["analyzer"] = a.inst.state(a.now())
	}
	if t := a.inst.runningStatus(); t != nil {
		st["emission_test"] = t
	}
	if j, ok := a.jobs.Current(a.bay); ok {
		st["open_job"] = j.ID
		st["job_phase"] = j.Phase()
	}
	if bs, err := a.box.Stats(); err == nil {
		st["outbox_depth"] = bs.Depth
		st["outbox_bytes"] = bs.Bytes
		st["outbox_max_bytes"] = bs.MaxBytes
		if bs.Oldest != nil {
			st["outbox_oldest_age_s"] = int64(a.now().Sub(*bs.Oldest) / time.Second)
		}
		st["outbox_head_seq"] = bs.HeadSeq
		// Records set aside, never published: too large for the broker,
		// or damaged in the database (their bytes no longer match the chain).
		st["outbox_quarantined"] = bs.Quarantined
		// What a resend can still give: the oldest archived seq (0: none).
		st["archive_oldest_seq"] = bs.ArchiveFirstSeq
		st["archive_records"] = bs.Archived
		st["archive_bytes"] = bs.ArchiveBytes
	}
	if us := a.up.Stats(); !us.LastUpload.IsZero() {
		st["last_upload"] = us.LastUpload.UTC()
	}
	st["records_stored"] = a.stored.Load()
	// Records made while this is false carry an uncorrected time until the
	// boot's clock_sync record.
	st["clock_synced"] = a.clock.Synced()
	if stopped := a.jobs.Stopped(); len(stopped) > 0 {
		// Bays that take no events until their job file is saved again.
		st["bays_stopped"] = stopped
		fault = true
	}
	st["fault"] = fault
	if s := lastError(lastErr); s != "" {
		st["last_error"] = s
	}
	return st
}
