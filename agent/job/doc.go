// Package job is the repair-job layer of Bayagent.
//
// A job is opened for one vehicle at one shop, gets events attached to it in
// order (scan snapshots, emission readings, DTC clears, notes), and is closed
// at settlement. The package produces event bodies; sealing and storing them
// is the caller's business (package record and the outbox), and it knows
// nothing of MQTT.
//
// # Jobs and phases
//
// A Manager holds at most one open job per bay. A job is of type repair or
// emission_repair (an M-station repair of a vehicle that failed an emission
// inspection, carrying the failed report's test_no). Scans and readings
// carry a phase. A scan at a bay without a job is an intake scan (IntakeScan,
// no job id). Inside a job, scans and readings default to before_repair
// until the repair started — a note with repair_started, a DTC clear, or an
// explicit after_repair scan or reading — and to after_repair afterwards.
// An explicit phase may be given, but never backwards: once the repair
// started, intake and before_repair are refused (ErrPhase), because a
// "before" reading taken after codes were cleared would misrepresent the
// vehicle.
//
// # Storing events: emit first, then change the job
//
// Every method that changes a job builds the event, calls Options.Emit (the
// agent seals it and appends it to the outbox, which returns once the
// record is committed), and only when Emit succeeded applies the change
// and rewrites the job file. If Emit fails, nothing changed (ErrNotStored):
// the caller reports failure and may retry. If Emit succeeded but the job
// file could not be written (a full disk), the change is kept in memory
// (the record is the truth), the method returns ErrStateNotSaved with the
// event, and the bay is stopped: every later event there is refused with
// ErrUnsaved, unstored, until the file is saved again (Retry, which the
// agent calls every few seconds, or the next event tries). There are never
// two truths: no event is taken that the job file could not hold.
//
// The records are what the health-record system receives; the job files are
// the box's working memory of open jobs (for phases, close validation and
// `bayagent job export`). A power cut between the outbox commit and the job
// file's rename (a few milliseconds), or a restart while a bay is stopped,
// leaves the job file behind the outbox: at start the agent hands the
// outbox's records to Recover, which applies the events the file missed
// (and completes a stored close or cancel), so an event number is never
// used twice and the export has every event.
//
// Clearing DTCs changes the vehicle, so it is recorded before it happens:
// ClearDTCs stores a "requested" record, then calls the caller's clear
// function, then stores the outcome.
//
// # State directory
//
// Each open job is one JSON file, <dir>/open/<bay>.json, rewritten whole on
// every change with a temporary file, fsync, rename and directory fsync, so
// a power cut leaves the old or the new version, never a mix. Closing writes
// <dir>/closed/<job id>.json the same way and then removes the open file; a
// restart that finds both completes the close. Files were chosen over a
// bbolt bucket because a job is small, changes a few dozen times, and an
// operator can read or copy a file when something goes wrong.
//
// # Rebuilding a job from its records
//
// FromRecords is the receiving side's view: it rebuilds a closed job from
// the sealed records the box published (any order, duplicates allowed),
// and checks it as Close did. The receiver (cmd/bayreceiver) and the demo
// use it; nothing else rebuilds jobs.
package job
