package job

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/obd"
)

// recorder is a fake outbox: it keeps the events it accepted and fails
// while fail is set.
type recorder struct {
	mu     sync.Mutex
	events []Event
	fail   error
}

func (r *recorder) emit(ctx context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []string
	for _, ev := range r.events {
		k = append(k, ev.Kind)
	}
	return k
}

var errOutboxFull = errors.New("outbox full")

// clock is a fake time source advancing one second per call.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 14, 1, 30, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newManager(t *testing.T, dir string) (*Manager, *recorder) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	rec := &recorder{}
	m, err := Open(dir, Options{Emit: rec.emit, Now: newClock().now})
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

const (
	testVIN  = "LFV2A21K8A4052691" // valid check digit
	otherVIN = "1HGCM82633A004352" // valid check digit
	testShop = "330106000123456"
)

func repairOpening(id string) Opening {
	return Opening{
		ID: id, Type: TypeRepair, Shop: testShop, Plate: "浙A12345", PlateColor: PlateBlue, VIN: testVIN,
		MileageKM: 52341, Complaint: "engine light on", Technician: "T007",
	}
}

func emissionOpening(id string) Opening {
	o := repairOpening(id)
	o.Type = TypeEmissionRepair
	o.TestNo = "330106202603140012"
	o.Complaint = "failed two-speed idle test: CO and HC above limit a"
	return o
}

func snapshot(vin string, mil bool, codes ...string) scan.Snapshot {
	s := scan.Snapshot{Protocol: "ISO 15765-4 CAN 11-bit", VIN: vin, VINValid: obd.ValidateVIN(vin) == nil, MIL: mil}
	var dtcs []obd.DTC
	for _, c := range codes {
		dtcs = append(dtcs, obd.NewDTC(c))
	}
	s.DTCCount = len(codes)
	s.DTCs.Stored = len(codes)
	s.ECUs = []scan.ECU{{Address: 0x7E8, Name: "ECM-EngineControl", MIL: mil, DTCCount: len(codes), Stored: dtcs}}
	return s
}

func reading(co float64) analyzer.Reading {
	return analyzer.Reading{
		Method:     analyzer.MethodTwoSpeedIdle,
		Instrument: analyzer.InstrumentID{Model: "NHA-506", Port: "/dev/ttyUSB1", Protocol: "nha506"},
		Time:       time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC),
		Values: []analyzer.Quantity{
			{Name: analyzer.QuantityCO, Value: co, Unit: analyzer.UnitVol},
			{Name: analyzer.QuantityHC, Value: 180, Unit: analyzer.UnitPPM},
		},
	}
}

// testResult is a finished two-speed idle test with the verdict result.
func testResult(result string) *emission.Result {
	v := emission.Verdict{Result: result, Text: map[string]string{"en": "two-speed idle: " + result}}
	if result == emission.Fail {
		v.Failures = []emission.Failure{{Mode: "idle", Quantity: "co", Value: 1.2, Unit: "%vol", Limit: 0.6}}
		v.Text["en"] = "two-speed idle: FAIL: idle CO 1.2% above the limit 0.6%"
	}
	return &emission.Result{Method: emission.TwoSpeedIdle, LimitSetName: "a", Samples: []emission.Sample{}, Verdict: v}
}

func settlement() Settlement {
	return Settlement{
		SettlementNo: "JS20260314001", SettleDate: "2026-03-14", RepairDate: "2026-03-14",
		Items: []RepairItem{{Name: "replace catalytic converter", WorkingHours: "1.5"}},
		Parts: []Part{{Name: "three-way catalytic converter", Code: "06A131701", Quantity: "1"}},
	}
}

// fieldsOf returns the fields named by a validation error, in order.
func fieldsOf(err error) []string {
	var out []string
	var ve *check.ValidationError
	var fe *check.FieldError
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			out = append(out, p.Field)
		}
	case errors.As(err, &fe):
		out = append(out, fe.Field)
	}
	return out
}
