package command

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/drivers/obd"
)

const openJobArgs = `{"job_id":"J-1","type":"emission_repair","plate":"浙A12345","plate_color":"blue",
	"mileage_km":52341,"complaint":"failed two-speed idle","technician":"T007","test_no":"330106202603140012"}`

const closeJobArgs = `{"technician":"T007","settlement_no":"JS1","settle_date":"2026-03-14","repair_date":"2026-03-13",
	"items":[{"name":"replace catalytic converter","working_hours":1.5}],
	"parts":[{"name":"catalytic converter","code":"06A131701","quantity":"1"}]}`

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		args string
		want Args  // when valid
		err  error // sentinel
		msg  string
	}{
		{"open_job", OpenJob, openJobArgs, &OpenJobArgs{ID: "J-1", Type: job.TypeEmissionRepair, Plate: "浙A12345",
			PlateColor: job.PlateBlue, MileageKM: 52341, Complaint: "failed two-speed idle", Technician: "T007",
			TestNo: "330106202603140012"}, nil, ""},
		{"open_job missing everything", OpenJob, `{}`, nil, check.ErrInvalid,
			`job_id must be 1 to 64 characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit: ""; ` +
				`type must be one of repair, emission_repair: ""; plate is required; mileage_km must be the odometer reading in km, 1 to 9999999: 0; ` +
				`complaint is required; technician is required`},
		{"open_job null", OpenJob, `null`, nil, check.ErrInvalid, ""},
		{"open_job shop not an argument", OpenJob, `{"shop":"330106000123456"}`, nil, ErrArgs,
			`shop is not a known argument (allowed: bay, complaint, job_id, mileage_km, plate, plate_color, technician, test_no, type, vin)`},
		{"open_job case-folded key", OpenJob, `{"JOB_ID":"J"}`, nil, ErrArgs, ""},
		{"open_job mileage string", OpenJob, `{"mileage_km":"52341"}`, nil, ErrArgs,
			`mileage_km must be a whole number, got the string "52341"`},
		{"open_job mileage float", OpenJob, `{"mileage_km":1.5}`, nil, ErrArgs, ""},
		{"open_job mileage huge", OpenJob, `{"mileage_km":99999999999}`, nil, ErrArgs, ""},
		{"open_job duplicate", OpenJob, `{"job_id":"A","job_id":"B"}`, nil, ErrArgs, `job_id appears twice`},
		{"open_job bad VIN", OpenJob, strings.Replace(openJobArgs, `"plate"`, `"vin":"LFV2A21K9A4052691","plate"`, 1), nil, check.ErrInvalid, ""},
		{"close_job", CloseJob, closeJobArgs, &CloseJobArgs{Technician: "T007", Settlement: job.Settlement{
			SettlementNo: "JS1", SettleDate: "2026-03-14", RepairDate: "2026-03-13",
			Items: []job.RepairItem{{Name: "replace catalytic converter", WorkingHours: "1.5"}},
			Parts: []job.Part{{Name: "catalytic converter", Code: "06A131701", Quantity: "1"}}}}, nil, ""},
		{"close_job unknown item member", CloseJob, strings.Replace(closeJobArgs, `"working_hours"`, `"hours"`, 1), nil, ErrArgs,
			`items[0].hours is not a known argument (allowed: name, working_hours)`},
		{"close_job items not array", CloseJob, `{"items":{}}`, nil, ErrArgs, `items must be a JSON array, got an object`},
		{"close_job hours bool", CloseJob, `{"items":[{"working_hours":true}]}`, nil, ErrArgs,
			`items[0].working_hours must be a decimal number such as 1.5, got true`},
		{"close_job negative hours", CloseJob, strings.Replace(closeJobArgs, `1.5`, `-1.5`, 1), nil, check.ErrInvalid,
			`items[0].working_hours must be a decimal number >= 0 with at most 6 digits before and 3 after the point: "-1.5"`},
		{"close_job no technician", CloseJob, strings.Replace(closeJobArgs, `"technician":"T007",`, ``, 1), nil, check.ErrNoTechnician,
			`technician is required`},
		{"cancel_job", CancelJob, `{"technician":"T007","reason":"opened for the wrong plate"}`,
			&CancelJobArgs{Technician: "T007", Reason: "opened for the wrong plate"}, nil, ""},
		{"cancel_job without reason", CancelJob, `{"technician":"T007"}`, nil, check.ErrInvalid, "reason is required"},
		{"add_note", AddNote, `{"author":"T007","text":"line 1\nline 2","repair_started":true}`,
			&AddNoteArgs{Note: job.Note{Author: "T007", Text: "line 1\nline 2", RepairStarted: true}}, nil, ""},
		{"add_note control char", AddNote, `{"author":"T007","text":"bell\u0007"}`, nil, check.ErrInvalid,
			`text must not contain the control character U+0007`},
		{"clear_dtcs", ClearDTCs, `{"bay":"bay2","technician":"T007","reason":"catalyst replaced"}`,
			&ClearDTCsArgs{BayArg: BayArg{Bay: "bay2"}, DTCClear: job.DTCClear{Technician: "T007", Reason: "catalyst replaced"}}, nil, ""},
		{"clear_dtcs no technician", ClearDTCs, `{"reason":"r"}`, nil, check.ErrNoTechnician, `technician is required`},
		{"clear_dtcs no args", ClearDTCs, ``, nil, check.ErrNoTechnician, ""},
		{"resend", Resend, `{"from_seq":17,"to_seq":9016}`, &ResendArgs{FromSeq: 17, ToSeq: 9016}, nil, ""},
		{"resend one", Resend, `{"from_seq":9007199254740991,"to_seq":9007199254740991}`,
			&ResendArgs{FromSeq: 1<<53 - 1, ToSeq: 1<<53 - 1}, nil, ""},
		{"resend no args", Resend, ``, nil, check.ErrInvalid, `from_seq must be a record sequence number, 1 to 9007199254740991: 0`},
		{"resend backwards", Resend, `{"from_seq":5,"to_seq":4}`, nil, check.ErrInvalid, `to_seq must be from from_seq (5) to 9007199254740991: 4`},
		{"resend too many", Resend, `{"from_seq":1,"to_seq":10001}`, nil, check.ErrInvalid,
			`to_seq must be below from_seq + 10000 (at most 10000 records per resend; ask for a longer gap in parts): 10001`},
		{"resend negative", Resend, `{"from_seq":-1,"to_seq":4}`, nil, ErrArgs, `from_seq must be a whole number from 0 to 9007199254740991: -1`},
		{"resend beyond 2^53", Resend, `{"from_seq":1,"to_seq":9007199254740992}`, nil, ErrArgs, ""},
		{"resend float", Resend, `{"from_seq":1.5,"to_seq":4}`, nil, ErrArgs, ""},
		{"resend bay", Resend, `{"bay":"bay1","from_seq":1,"to_seq":4}`, nil, ErrArgs, ""},
		{"start_scan no args", StartScan, ``, &StartScanArgs{}, nil, ""},
		{"start_scan null", StartScan, `null`, &StartScanArgs{}, nil, ""},
		{"start_scan intake", StartScan, `{"phase":"intake"}`, &StartScanArgs{Phase: job.PhaseIntake}, nil, ""},
		{"start_scan later", StartScan, `{"phase":"later"}`, nil, check.ErrInvalid,
			`phase must be one of intake, before_repair, after_repair: "later"`},
		{"start_scan phase number", StartScan, `{"phase":1}`, nil, ErrArgs, `phase must be a string, got the number 1`},
		{"start_scan bad bay", StartScan, `{"bay":"../etc"}`, nil, check.ErrInvalid, ""},
		{"start_scan array", StartScan, `[]`, nil, ErrArgs, `args must be a JSON object, got an array`},
		{"start_scan trailing", StartScan, `{} {}`, nil, ErrArgs, ""},
		{"start_scan truncated", StartScan, `{"phase":`, nil, ErrArgs, ""},
		{"take_reading intake", TakeReading, `{"phase":"intake"}`, nil, check.ErrInvalid,
			`phase must be one of before_repair, after_repair: "intake"`},
		{"take_reading after", TakeReading, `{"phase":"after_repair"}`, &TakeReadingArgs{Phase: job.PhaseAfterRepair}, nil, ""},
		{"live_start", LiveStart, `{"pids":["0C","0d"],"rate_hz":2.5,"duration_s":120}`,
			&LiveStartArgs{PIDs: []string{"0C", "0d"}, RateHz: 2.5, DurationS: 120}, nil, ""},
		{"live_start bad pids", LiveStart, `{"pids":["0C","C","20","0c","zz"]}`, nil, check.ErrInvalid,
			`pids[1] must be two hex digits, e.g. "0C": "C"; pids[2] 20 is a supported-PIDs bitmap, not live data; ` +
				`pids[3] 0C is listed twice; pids[4] must be two hex digits, e.g. "0C": "zz"`},
		{"live_start no pids", LiveStart, `{}`, nil, check.ErrInvalid, ""},
		{"live_start rate", LiveStart, `{"pids":["0C"],"rate_hz":50,"duration_s":0}`, nil, check.ErrInvalid,
			`rate_hz must be from 0.1 to 10: 50`},
		{"live_start rate overflow", LiveStart, `{"pids":["0C"],"rate_hz":1e999}`, nil, ErrArgs, ""},
		{"live_start deep", LiveStart, `{"pids":[[[[[[[[[[1]]]]]]]]]]}`, nil, ErrArgs, ""},
		{"live_stop", LiveStop, `{}`, &LiveStopArgs{}, nil, ""},
		{"unknown command", "reboot", `{}`, nil, ErrUnknown, ""},
		// A lone UTF-16 surrogate decodes to U+FFFD: refused in a note as in a technician id.
		{"add_note lone surrogate", AddNote, `{"author":"T007","text":"a\ud800b"}`, nil, check.ErrInvalid, "text must not contain U+FFFD (a character that could not be read, such as a lone UTF-16 surrogate)"},
		{"add_note surrogate in author", AddNote, `{"author":"T\udc00","text":"x"}`, nil, check.ErrInvalid, "author must be letters, digits and . _ - @ only: \"T\uFFFD\""},
		{"add_note surrogate pair", AddNote, `{"author":"T007","text":"\ud83d\ude97 ok"}`, &AddNoteArgs{Note: job.Note{Author: "T007", Text: "🚗 ok"}}, nil, ""},
		{"invalid UTF-8", AddNote, "{\"author\":\"T\",\"text\":\"\xff\"}", nil, ErrArgs, `args must be valid UTF-8`},
		{"too large", AddNote, `{"author":"T","text":"` + strings.Repeat("a", MaxArgsBytes) + `"}`, nil, ErrArgs, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decode(tt.cmd, json.RawMessage(tt.args))
			if tt.err == nil {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if !reflect.DeepEqual(a, tt.want) {
					t.Fatalf("got %#v\nwant %#v", a, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) || a != nil {
				t.Fatalf("got %v, %v; want error wrapping %v", a, err, tt.err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func TestLiveStartDefaults(t *testing.T) {
	a, err := Decode(LiveStart, json.RawMessage(`{"pids":["0c","A6"]}`))
	if err != nil {
		t.Fatal(err)
	}
	ls := a.(*LiveStartArgs)
	if ls.Rate() != DefaultLiveRateHz || ls.Seconds() != DefaultLiveSeconds || !slices.Equal(ls.PIDList(), []obd.PID{0x0C, 0xA6}) {
		t.Errorf("%v %v %v", ls.Rate(), ls.Seconds(), ls.PIDList())
	}
}

// TestOpenJobArgsOpening: the command's opening, with the box's shop code,
// is one the Manager accepts.
func TestOpenJobArgsOpening(t *testing.T) {
	a, err := Decode(OpenJob, json.RawMessage(openJobArgs))
	if err != nil {
		t.Fatal(err)
	}
	o := a.(*OpenJobArgs).Opening("330106000123456")
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := job.Open(t.TempDir(), job.Options{Emit: func(context.Context, job.Event) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenJob(context.Background(), "bay1", o); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	seeds := []struct{ cmd, args string }{
		{OpenJob, openJobArgs},
		{CloseJob, closeJobArgs},
		{AddNote, `{"author":"T007","text":"x","repair_started":true}`},
		{ClearDTCs, `{"technician":"T007","reason":"r"}`},
		{StartScan, `{"phase":"after_repair","bay":"b1"}`},
		{TakeReading, `{"phase":"before_repair"}`},
		{LiveStart, `{"pids":["0C","0D"],"rate_hz":2,"duration_s":30}`},
		{LiveStop, `null`},
		{StartScan, `{"phase":"a","phase":"b"}`},
		{CloseJob, `{"items":[{"name":"x","working_hours":"1e5"}],"parts":[{"quantity":-0}]}`},
		{"nope", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.cmd, []byte(s.args))
	}
	f.Fuzz(func(t *testing.T, cmd string, args []byte) {
		a, err := Decode(cmd, args)
		if err != nil {
			if a != nil {
				t.Fatal("arguments returned with an error")
			}
			var fe *check.FieldError
			var ve *check.ValidationError
			if !errors.Is(err, ErrUnknown) && !errors.As(err, &fe) && !errors.As(err, &ve) {
				t.Fatalf("error names no field: %v", err)
			}
			return
		}
		if err := Validate(a); err != nil {
			t.Fatalf("decoded arguments do not validate: %v", err)
		}
		// What we accepted survives a round trip unchanged.
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := Decode(cmd, b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("round trip changed the arguments:\n%#v\n%#v", a, a2)
		}
	})
}
