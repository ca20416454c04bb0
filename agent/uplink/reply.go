package uplink

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bayagent/bayagent/agent/i18n"
)

// Topics are the MQTT topics of one device; see the package doc.
type Topics struct {
	Root    string // <prefix>/<shop>/<device>
	Records string // Root + "/records"
	Status  string // Root + "/status"
	Cmd     string // Root + "/cmd"
	Reply   string // Root + "/reply"
	Live    string // Root + "/live"
}

// DeviceTopics returns the topics of device at shop under prefix: the one
// place topic names are made (the uplink, the demo, the tests, the
// receiving side). It does not validate; Options does. DeviceTopics(prefix,
// "+", "+") are the subscription filters for every box.
func DeviceTopics(prefix, shop, device string) Topics {
	root := prefix + "/" + shop + "/" + device
	return Topics{Root: root, Records: root + "/records", Status: root + "/status",
		Cmd: root + "/cmd", Reply: root + "/reply", Live: root + "/live"}
}

// ParseTopic splits a device topic of DeviceTopics(prefix, ...) into the
// shop, the device and the leaf ("records", "reply", ...).
func ParseTopic(prefix, topic string) (shop, device, leaf string, ok bool) {
	rest, found := strings.CutPrefix(topic, prefix+"/")
	parts := strings.Split(rest, "/")
	if !found || len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// Request is a command as a client sends it on the command topic:
//
//	{"id":"1","cmd":"open_job","args":{...}}
//
// Args is encoded as a JSON object (package command says what each
// command takes); nil leaves it out.
type Request struct {
	ID   string `json:"id"`
	Cmd  string `json:"cmd"`
	Args any    `json:"args,omitempty"`
}

// Code is the stable, machine-readable code of an error reply. A client
// acts on the code and shows the message; codes never change meaning, and
// new ones may be added (a client treats an unknown code as "internal").
type Code string

// Reply codes. Each has a message in English and Chinese in package i18n
// under "reply.<code>".
const (
	// Problems with the command message itself (answered by the uplink).
	CodeBadCommand      Code = "bad_command"       // not one JSON object with id, cmd and args
	CodeCommandTooLarge Code = "command_too_large" // larger than the box accepts
	CodeUnknownCommand  Code = "unknown_command"   // no such command
	CodeRetainedCommand Code = "retained_command"  // sent as a retained message
	CodeNotAuthorised   Code = "not_authorised"    // not signed by an operator key the box trusts
	CodeReplayed        Code = "replayed"          // a signed command seen before, or too old
	CodeBusy            Code = "busy"              // too many commands waiting
	CodeShuttingDown    Code = "shutting_down"     // the agent is stopping

	// Problems with the arguments or the state of the bay.
	CodeBadArgument        Code = "bad_argument"        // an argument is missing, malformed or out of range
	CodeTechnicianRequired Code = "technician_required" // the action needs a technician id
	CodeWrongBay           Code = "wrong_bay"           // the command names a bay this box does not serve
	CodeNoOpenJob          Code = "no_open_job"         // the action needs an open job
	CodeJobAlreadyOpen     Code = "job_already_open"    // the bay has an open job already
	CodeJobIDUsed          Code = "job_id_used"         // the job id was used before
	CodePhaseNotAllowed    Code = "phase_not_allowed"   // the phase is not allowed in the job's state
	CodeJobFull            Code = "job_full"            // the job holds its maximum number of events
	CodeEmissionNotPassed  Code = "emission_not_passed" // an emission repair closes only after a passing test, or with an override

	// Storing.
	CodeStorageFull Code = "storage_full"  // the outbox is full; nothing new is stored
	CodeNotStored   Code = "not_stored"    // the record was not stored; nothing changed
	CodeJobNotSaved Code = "job_not_saved" // the record was stored, the job file not saved
	CodeBayStopped  Code = "bay_stopped"   // the bay is stopped until its job file can be saved

	// The vehicle and the analyzer.
	CodeVehicleNotConnected Code = "vehicle_not_connected" // no vehicle answers
	CodeVehicleBusy         Code = "vehicle_busy"          // a vehicle command must finish first
	CodeVehicleError        Code = "vehicle_error"         // the vehicle or its interface failed
	CodeNotSupported        Code = "not_supported"         // the vehicle or the analyzer cannot do this
	CodeNoAnalyzer          Code = "no_analyzer"           // no analyzer is configured
	CodeAnalyzerError       Code = "analyzer_error"        // the analyzer failed

	// Anything else.
	CodeInternal Code = "internal"
)

// codeDocs documents every code, in the order of docs/commands.md.
var codeDocs = []struct {
	code Code
	doc  string
}{
	{CodeBadCommand, "the message is not one JSON object with the members id, cmd and optionally args"},
	{CodeCommandTooLarge, "the message is larger than the box accepts (uplink.max_command_bytes)"},
	{CodeUnknownCommand, "no command of that name"},
	{CodeRetainedCommand, "the command was sent as a retained message; it would run again on every reconnection"},
	{CodeNotAuthorised, "the command changes the vehicle or a job and is not signed by an operator key this box trusts (uplink.command_keys)"},
	{CodeReplayed, "the signed command was seen before (its nonce) or its ts is too far from the box's clock; sign it again"},
	{CodeBusy, "too many commands are waiting; this one was not run"},
	{CodeShuttingDown, "the agent is stopping; the command was not run"},
	{CodeBadArgument, "an argument is missing, malformed or out of range; fields names them"},
	{CodeTechnicianRequired, "the action changes the vehicle or the job and needs a technician id"},
	{CodeWrongBay, "the command names a bay this box does not serve"},
	{CodeNoOpenJob, "the action needs an open job at the bay"},
	{CodeJobAlreadyOpen, "the bay has an open job already (one open job per bay)"},
	{CodeJobIDUsed, "the job id was used before; job ids are never reused"},
	{CodePhaseNotAllowed, "the phase is not allowed in the job's state (nothing is before_repair once the repair started)"},
	{CodeJobFull, "the job holds the most events a job may"},
	{CodeEmissionNotPassed, "an emission_repair job closes only when its last after_repair emission test passed; the message says why not (failed, aborted, none); emission_waiver with emission_waiver_by overrides"},
	{CodeStorageFull, "the outbox is full; nothing new is stored until the uplink drains it"},
	{CodeNotStored, "the record was not stored and nothing changed; the command may be sent again"},
	{CodeJobNotSaved, "the record WAS stored, but the job file could not be saved (an alarm is raised)"},
	{CodeBayStopped, "the bay is stopped: a job file could not be saved (full disk?); nothing is stored at the bay until it is (retried every few seconds)"},
	{CodeVehicleNotConnected, "the action needs a connected vehicle and none answers"},
	{CodeVehicleBusy, "a command still talking to the vehicle must finish first (closing or cancelling a job while its DTC clear runs)"},
	{CodeVehicleError, "the vehicle or its interface failed during the action"},
	{CodeNotSupported, "the connected vehicle or the analyzer cannot do this (the live feed on a J1939 truck, a leak check on an analyzer without one)"},
	{CodeNoAnalyzer, "the action needs an exhaust analyzer and none is configured"},
	{CodeAnalyzerError, "the analyzer did not answer or answered garbage"},
	{CodeInternal, "anything else; the error text and the agent's log say what"},
}

// Codes returns every reply code, in documentation order.
func Codes() []Code {
	out := make([]Code, len(codeDocs))
	for i, c := range codeDocs {
		out[i] = c.code
	}
	return out
}

// Doc returns the code's one-line description (English, for docs).
func (c Code) Doc() string {
	for _, d := range codeDocs {
		if d.code == c {
			return d.doc
		}
	}
	return ""
}

// MessageKey is the code's key in the i18n catalogue.
func (c Code) MessageKey() string { return "reply." + string(c) }

// Error is an error with the reply code it is answered with: what a
// Commander returns so that the reply carries the right code. Fields names
// the arguments at fault (bad_argument); Args are the message's arguments
// as name/value pairs (see i18n.Text).
type Error struct {
	Code   Code
	Fields []string
	Args   []any
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// WithCode returns err answered with code; args are the message's arguments
// as name/value pairs. A nil err stays nil.
func WithCode(code Code, err error, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Args: args, Err: err}
}

// codeOf returns the reply code of err and the error carrying it: an
// *Error in err's chain, or the uplink's own errors; else CodeInternal.
func codeOf(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	for _, m := range []struct {
		err  error
		code Code
	}{
		{ErrCommandTooLarge, CodeCommandTooLarge},
		{ErrCommandSyntax, CodeBadCommand},
		{ErrCommandField, CodeBadCommand},
		{ErrUnknownCommand, CodeUnknownCommand},
		{ErrRetainedCommand, CodeRetainedCommand},
		{ErrBusy, CodeBusy},
		{ErrShuttingDown, CodeShuttingDown},
	} {
		if errors.Is(err, m.err) {
			return &Error{Code: m.code, Err: err}
		}
	}
	return &Error{Code: CodeInternal, Err: err}
}

// Reply is the answer to one command, published on the reply topic:
//
//	{"id":"c-1","ok":true,"result":{...}}
//	{"id":"c-2","ok":false,"code":"no_open_job","error":"job: no open job at this bay",
//	 "message":{"en":"No job is open at this bay. Open a job first.","zh-CN":"本工位没有未结工单，请先开工单。"}}
//
// Error is the detailed text (English, for logs and integrators); Message
// is for people, in every language of package i18n.
type Reply struct {
	ID      string               `json:"id"`
	OK      bool                 `json:"ok"`
	Result  json.RawMessage      `json:"result,omitempty"`
	Code    Code                 `json:"code,omitempty"`
	Fields  []string             `json:"fields,omitempty"`
	Error   string               `json:"error,omitempty"`
	Message map[i18n.Lang]string `json:"message,omitempty"`
}

// ErrorReply is the reply to command id that failed with err.
func ErrorReply(id string, err error) Reply {
	e := codeOf(err)
	args := e.Args
	if len(e.Fields) > 0 {
		args = append([]any{"fields", strings.Join(e.Fields, ", ")}, args...)
	}
	return Reply{ID: id, Code: e.Code, Fields: e.Fields, Error: err.Error(),
		Message: i18n.M(e.Code.MessageKey(), args...).All()}
}

// OKReply is the reply to command id that succeeded with result (nil for
// none), encoded with encoding/json.
func OKReply(id string, result any) Reply {
	r := Reply{ID: id, OK: true}
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return ErrorReply(id, fmt.Errorf("command succeeded but its result cannot be encoded: %w", err))
		}
		r.Result = b
	}
	return r
}

// Decode reads a reply's result into v.
func (r Reply) Decode(v any) error {
	if len(r.Result) == 0 {
		return fmt.Errorf("uplink: reply %s has no result", r.ID)
	}
	return json.Unmarshal(r.Result, v)
}
