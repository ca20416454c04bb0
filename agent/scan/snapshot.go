package scan

import (
	"time"

	"github.com/bayagent/bayagent/drivers/obd"
)

// Snapshot is the health of one vehicle at one moment: what a technician reads
// at the bay and what the health-record system receives in a scan record.
type Snapshot struct {
	// Protocol names how the vehicle was reached, e.g. "ISO 15765-4 CAN 11-bit".
	Protocol string `json:"protocol,omitempty"`
	// VIN as read from the vehicle (Mode 09 InfoType 02), and whether its
	// check digit and characters are valid.
	VIN        string `json:"vin,omitempty"`
	VINValid   bool   `json:"vin_valid"`
	VINProblem string `json:"vin_problem,omitempty"`
	// MIL is on when any ECU reports it on.
	MIL bool `json:"mil"`
	// DTCCount is the number of confirmed emission-related DTCs the ECUs
	// report in PID 01, summed over ECUs.
	DTCCount int `json:"dtc_count"`
	// DTCs counts the codes read with Modes 03, 07 and 0A over all ECUs.
	DTCs DTCCounts `json:"dtcs"`
	// Ignition is "spark" or "compression", from the engine ECU's PID 01.
	Ignition string `json:"ignition,omitempty"`
	// OBDStandard is PID 1C as text, e.g. "EOBD (Europe)".
	OBDStandard string `json:"obd_standard,omitempty"`
	// Readiness merges the ECUs' monitors: supported if any ECU supports
	// it, complete only when every ECU that supports it says complete.
	// Code: 0 not supported, 1 complete, 2 not complete.
	Readiness []obd.Monitor `json:"readiness"`
	// ECUs in address order.
	ECUs []ECU `json:"ecus"`
	// FreezeFrame is frame 0 of the first ECU that stored one.
	FreezeFrame *FreezeFrame `json:"freeze_frame,omitempty"`
	// Odometer and the since-clear counters the inspector reads, from the
	// lowest-addressed ECU that supports each; nil when none does.
	Odometer           *float64 `json:"odometer_km,omitempty"`
	DistanceWithMIL    *float64 `json:"distance_with_mil_km,omitempty"`
	TimeWithMIL        *float64 `json:"time_with_mil_min,omitempty"`
	DistanceSinceClear *float64 `json:"distance_since_clear_km,omitempty"`
	TimeSinceClear     *float64 `json:"time_since_clear_min,omitempty"`
	WarmupsSinceClear  *float64 `json:"warmups_since_clear,omitempty"`
	// Flags are the findings an inspector cares about.
	Flags []Flag `json:"flags"`
	// Problems lists answers the scan could not use (a malformed response,
	// a negative response); the snapshot is complete apart from them.
	Problems []string `json:"problems,omitempty"`
	// Stats describes the scan itself.
	Stats Stats `json:"stats"`
}

// DTCCounts counts trouble codes by kind over all ECUs.
type DTCCounts struct {
	Stored    int `json:"stored"`
	Pending   int `json:"pending"`
	Permanent int `json:"permanent"`
	Previous  int `json:"previously_active,omitempty"` // J1939 DM2
}

// ECU is what one control unit reported.
type ECU struct {
	Address obd.ECU `json:"address"`
	// Name is the Mode 09 ECU name, e.g. "ECM-EngineControl".
	Name      string        `json:"name,omitempty"`
	CALIDs    []string      `json:"calids,omitempty"`
	CVNs      []string      `json:"cvns,omitempty"`
	MIL       bool          `json:"mil"`
	DTCCount  int           `json:"dtc_count"`
	Ignition  string        `json:"ignition,omitempty"`
	Readiness []obd.Monitor `json:"readiness,omitempty"`
	Stored    []obd.DTC     `json:"stored"`
	Pending   []obd.DTC     `json:"pending"`
	Permanent []obd.DTC     `json:"permanent"`
	// Previous are previously active codes (J1939 DM2); OBD-II has none.
	Previous      []obd.DTC   `json:"previously_active,omitempty"`
	SupportedPIDs []string    `json:"supported_pids"` // Mode 01, hex
	Live          []obd.Value `json:"live,omitempty"`
	IUPR          *obd.IUPR   `json:"iupr,omitempty"`
	// Tests are the on-board monitoring test results (Mode 06, CAN), by
	// monitor (MID) and test (TID): value, limits, unit, pass or fail.
	Tests []obd.TestResult `json:"tests,omitempty"`
	// Lamps are a J1939 controller's lamps (DM1); nil for OBD-II, which
	// reports only the MIL.
	Lamps *Lamps `json:"lamps,omitempty"`
}

// Lamps is the lamp status a J1939 controller sends with its active codes
// (DM1): each lamp LampOff, LampOn, LampError or LampNotAvailable.
type Lamps struct {
	MIL          string `json:"mil"`
	RedStop      string `json:"red_stop"`
	AmberWarning string `json:"amber_warning"`
	Protect      string `json:"protect"`
}

// Lamp states of Lamps (the names of j1939.LampStatus).
const (
	LampOff          = "off"
	LampOn           = "on"
	LampError        = "error"
	LampNotAvailable = "not available"
)

// FreezeFrame is the data an ECU froze when it stored a DTC.
type FreezeFrame struct {
	ECU    obd.ECU     `json:"ecu"`
	DTC    obd.DTC     `json:"dtc"`
	Values []obd.Value `json:"values"`
}

// Flag is one finding, with a stable code and a sentence for people.
type Flag struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Flag codes.
const (
	FlagMILOn               = "mil_on"
	FlagCodesClearedRecent  = "codes_cleared_recently"
	FlagReadinessIncomplete = "readiness_incomplete"
	FlagVINInvalid          = "vin_invalid"
	FlagVINMismatch         = "vin_mismatch"
	FlagVINMissing          = "vin_missing"
)

// Stats describes how the scan went: useful to see why a scan was slow.
type Stats struct {
	Started time.Time `json:"started"`
	// Duration is the wall time of the whole scan.
	Duration time.Duration `json:"duration_ns"`
	// Setup is how long the vehicle interface took to get ready before the
	// first OBD request (adapter reset and set-up, protocol search), when
	// the caller measured it.
	Setup time.Duration `json:"setup_ns,omitempty"`
	// Requests is how many requests went to the vehicle; FullWindow how
	// many of them had to wait out the whole response window (discovery,
	// and requests that an expected ECU left unanswered).
	Requests   int `json:"requests"`
	FullWindow int `json:"full_window"`
	// Retried counts the requests sent again one item at a time, or on the
	// functional address, after a refused or partial answer.
	Retried int `json:"retried,omitempty"`
	// MaxPerRequest is how many items (PIDs) one request may carry on this
	// link by the end of the scan: 6 where batching works, 1 otherwise.
	MaxPerRequest int `json:"max_per_request,omitempty"`
	// NoBatch says why every request carries one item: NoBatchProtocol (a
	// K-line or J1850 vehicle) or NoBatchAdapter (the adapter refused
	// several); empty when batching works.
	NoBatch string `json:"no_batch,omitempty"`
	// NoBatchECUs are the ECUs that answered only part of a request with
	// several items, asked one item at a time since, in address order.
	NoBatchECUs []obd.ECU `json:"no_batch_ecus,omitempty"`
}

// HasFlag reports whether the snapshot carries the flag code.
func (s *Snapshot) HasFlag(code string) bool {
	for _, f := range s.Flags {
		if f.Code == code {
			return true
		}
	}
	return false
}
