// Package command is the vocabulary of the commands a box accepts.
//
// It holds their names, arguments, limits and validation.
//
// A command arrives on the device's command topic as {"id", "cmd", "args"};
// package uplink parses that envelope and answers on the reply topic, the
// agent runs the command. This package says what each command is called,
// which arguments it takes with their JSON types, units and allowed values,
// and checks them: [Decode] returns the validated arguments of one
// command, or an error naming every argument at fault. The reference for
// integrators is docs/commands.md, which a test checks against [Specs].
//
// # Lanes
//
// Each command runs in a lane ([Spec.Lane]): commands of one lane run one at
// a time in arrival order, lanes run side by side. A command that needs the
// vehicle (a scan, a clear, the live feed) waits only for other vehicle
// commands, so a stuck vehicle interface never holds up a note or a change
// to the job; the analyzer has its own lane for the same reason.
//
// # Signed commands
//
// A command that changes the vehicle or a job ([Spec.Signed]) must carry a
// signature when the box lists operator keys (uplink.command_keys): the
// envelope then has four more members,
//
//	{"id":"c-1","cmd":"clear_dtcs","args":{...},
//	 "ts":"2026-11-29T05:00:00Z","nonce":"4f1c2a9e7b3d","key":"ops-1","sig":"<base64>"}
//
// where ts is the sender's UTC time (RFC 3339), nonce 8 to 64 characters of
// [A-Za-z0-9_-] never used before, key the name of the operator key in the
// configuration, and sig the standard base64 ed25519 signature of
// [SigningBytes]: the box's shop and device, id, cmd, ts, nonce and the
// args exactly as sent. A box refuses a command of another box, a command
// whose ts is more than [DefaultMaxAge] from its clock (while its clock is
// synchronised), and a nonce it has seen within that time.
//
// # Errors
//
// Decoding errors are a *check.FieldError wrapping [ErrArgs]; validation
// errors a *check.FieldError or *check.ValidationError wrapping
// check.ErrInvalid or check.ErrNoTechnician; an unknown name [ErrUnknown].
package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/check"
)

// Command names.
const (
	OpenJob     = "open_job"
	CloseJob    = "close_job"
	CancelJob   = "cancel_job"
	AddNote     = "add_note"
	ClearDTCs   = "clear_dtcs"
	StartScan   = "start_scan"
	TakeReading = "take_reading"
	// RunEmissionTest runs an emission test procedure.
	RunEmissionTest = "run_emission_test"
	// AnalyzerCheck zeroes the analyzer or checks its sample line for
	// leaks.
	AnalyzerCheck = "analyzer_check"
	LiveStart     = "live_start"
	LiveStop      = "live_stop"
	Resend        = "resend"
)

// Lanes (see the package doc).
const (
	// LaneBay: commands on jobs, notes and records; they never touch a device.
	LaneBay = "bay"
	// LaneVehicle: commands that talk to the vehicle interface.
	LaneVehicle = "vehicle"
	// LaneAnalyzer: commands that talk to the exhaust analyzer.
	LaneAnalyzer = "analyzer"
)

// Errors of Decode, besides package check's validation errors.
var (
	// ErrArgs: the arguments are malformed JSON, too large, or have an
	// unknown, duplicate or ill-typed member.
	ErrArgs = errors.New("command: bad arguments")
	// ErrUnknown: no command has this name.
	ErrUnknown = errors.New("command: unknown command")
)

// MaxArgsBytes is the largest "args" object Decode accepts.
const MaxArgsBytes = 64 << 10

// Limits of the live feed: the one source for the command and for the
// configuration (live.max_rate_hz and live.max_duration may only lower
// them).
const (
	MaxLivePIDs        = 16
	MinLiveRateHz      = 0.1
	MaxLiveRateHz      = 10.0
	DefaultLiveRateHz  = 1.0
	MaxLiveDurationS   = 1800
	DefaultLiveSeconds = 60
	// MaxLiveDuration is MaxLiveDurationS as a duration.
	MaxLiveDuration = MaxLiveDurationS * time.Second
)

// Spec describes one command.
type Spec struct {
	Name string
	// Lane is the lane the command runs in: LaneBay, LaneVehicle or
	// LaneAnalyzer.
	Lane string
	// Summary says what the command does, in one line.
	Summary string
	// New returns a pointer to the command's zero arguments.
	New func() Args
	// Signed: the command changes the vehicle or a job, so it must be
	// signed by an operator key when the box lists some
	// (uplink.command_keys; see Verifier).
	Signed bool
}

var specs = []Spec{
	{OpenJob, LaneBay, "open a repair job for the vehicle at the bay", func() Args { return new(OpenJobArgs) }, true},
	{CloseJob, LaneBay, "close the open job at settlement; it becomes a health record", func() Args { return new(CloseJobArgs) }, true},
	{CancelJob, LaneBay, "abandon the open job without settlement (no health record)", func() Args { return new(CancelJobArgs) }, true},
	{AddNote, LaneBay, "attach a note to the open job; it may mark the start of the repair", func() Args { return new(AddNoteArgs) }, true},
	{ClearDTCs, LaneVehicle, "clear the vehicle's trouble codes (Mode 04 / DM11), recorded before and after", func() Args { return new(ClearDTCsArgs) }, true},
	{StartScan, LaneVehicle, "take a health snapshot of the connected vehicle", func() Args { return new(StartScanArgs) }, true},
	{TakeReading, LaneAnalyzer, "take one reading from the exhaust analyzer into the open job (a wiring check)", func() Args { return new(TakeReadingArgs) }, true},
	{RunEmissionTest, LaneAnalyzer, "run an emission test procedure (two-speed idle, free acceleration) into the open job; the reply carries the verdict", func() Args { return new(RunEmissionTestArgs) }, true},
	{AnalyzerCheck, LaneAnalyzer, "zero the analyzer or run its leak check (daily; the probe capped); the status shows the outcome", func() Args { return new(AnalyzerCheckArgs) }, true},
	{LiveStart, LaneVehicle, "start the live data feed on the live topic (never stored)", func() Args { return new(LiveStartArgs) }, false},
	{LiveStop, LaneBay, "stop the live data feed", func() Args { return new(LiveStopArgs) }, false},
	{Resend, LaneBay, "publish again the records of a range that a receiver found missing", func() Args { return new(ResendArgs) }, true},
}

// Specs returns every command, in documentation order.
func Specs() []Spec { return append([]Spec(nil), specs...) }

// Lookup returns the command named name.
func Lookup(name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names returns every command name, in documentation order.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// Lane returns the lane of command name; an unknown name runs in LaneBay
// (where it is refused).
func Lane(name string) string {
	if s, ok := Lookup(name); ok {
		return s.Lane
	}
	return LaneBay
}

// Args is the decoded and validated arguments of one command: one of the
// *XxxArgs types of this package.
type Args interface {
	// BayName is the bay the command names ("" for the box's default).
	BayName() string
	// check adds the problems of every field but the bay to p.
	check(p *check.Problems)
}

// Validate checks every field of a, the bay included; Decode has called
// it.
func Validate(a Args) error {
	var p check.Problems
	checkOptionalBay(&p, a.BayName())
	a.check(&p)
	return p.Err()
}

// Decode decodes and validates the "args" of command name (nil, empty or
// null args are the zero value, which is valid only for commands whose
// arguments are all optional). Decoding is strict: at most MaxArgsBytes,
// valid UTF-8, one JSON object, no unknown or duplicate members, each
// member of its JSON type. Every error names the member (see the package
// doc).
func Decode(name string, args json.RawMessage) (Args, error) {
	s, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, check.Clip(name), strings.Join(Names(), ", "))
	}
	if len(args) > MaxArgsBytes {
		return nil, argErr("args", "must be at most %d bytes, got %d", MaxArgsBytes, len(args))
	}
	a := s.New()
	if err := decodeStrict(args, a); err != nil {
		return nil, err
	}
	if err := Validate(a); err != nil {
		return nil, err
	}
	return a, nil
}
