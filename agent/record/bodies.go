package record

import "time"

// The bodies of the kinds whose content comes from drivers (scan,
// emission, emission_test, dtc_clear). They are the evidence format: their JSON names
// are pinned here, and the agent maps the drivers' structs onto them field
// by field (package job, evidence.go), so a driver may rename a field
// without changing what a record says. Each kind's JSON Schema is
// docs/records/<kind>.schema.json, with a golden body in
// testdata/records/bodies/<kind>.json; docs/records.md gives the rules of
// the schema versions.

// ScanBody is the body of a "scan" record: a health snapshot of the
// vehicle and the phase of the repair it belongs to.
type ScanBody struct {
	N     int       `json:"n,omitempty"` // the job's event number; 0 for an intake scan outside any job
	At    time.Time `json:"at"`
	Bay   string    `json:"bay"`
	Phase string    `json:"phase"` // intake, before_repair, after_repair
	// VINAdopted: the job had no VIN and took it from this scan.
	VINAdopted bool `json:"vin_adopted,omitempty"`
	// VINMismatch: the scan read a VIN that differs from the job's.
	VINMismatch bool     `json:"vin_mismatch,omitempty"`
	Snapshot    Snapshot `json:"snapshot"`
	// Findings are what the snapshot means by the box's pre-check rules;
	// absent when the box assessed nothing.
	Findings *Findings `json:"findings,omitempty"`
}

// Snapshot is what the vehicle reported in one scan.
type Snapshot struct {
	Protocol           string       `json:"protocol,omitempty"`
	VIN                string       `json:"vin,omitempty"`
	VINValid           bool         `json:"vin_valid"`
	VINProblem         string       `json:"vin_problem,omitempty"`
	MIL                bool         `json:"mil"`
	DTCCount           int          `json:"dtc_count"`
	DTCs               DTCCounts    `json:"dtcs"`
	Ignition           string       `json:"ignition,omitempty"`
	OBDStandard        string       `json:"obd_standard,omitempty"`
	Readiness          []Monitor    `json:"readiness"`
	ECUs               []ECUReport  `json:"ecus"`
	FreezeFrame        *FreezeFrame `json:"freeze_frame,omitempty"`
	Odometer           *float64     `json:"odometer_km,omitempty"`
	DistanceWithMIL    *float64     `json:"distance_with_mil_km,omitempty"`
	TimeWithMIL        *float64     `json:"time_with_mil_min,omitempty"`
	DistanceSinceClear *float64     `json:"distance_since_clear_km,omitempty"`
	TimeSinceClear     *float64     `json:"time_since_clear_min,omitempty"`
	WarmupsSinceClear  *float64     `json:"warmups_since_clear,omitempty"`
	Flags              []Flag       `json:"flags"`
	Problems           []string     `json:"problems,omitempty"`
	Stats              ScanStats    `json:"stats"`
}

// DTCCounts counts trouble codes by kind over all ECUs.
type DTCCounts struct {
	Stored    int `json:"stored"`
	Pending   int `json:"pending"`
	Permanent int `json:"permanent"`
	Previous  int `json:"previously_active,omitempty"`
}

// Monitor is one readiness monitor: code 0 not supported, 1 complete, 2
// not complete.
type Monitor struct {
	Name      string `json:"name"`
	Label     string `json:"label"`
	Supported bool   `json:"supported"`
	Complete  bool   `json:"complete"`
	Code      int    `json:"code"`
}

// ECUReport is what one control unit reported. Address is its CAN
// identifier in hex ("7E8", "18DAF110").
type ECUReport struct {
	Address       string       `json:"address"`
	Name          string       `json:"name,omitempty"`
	CALIDs        []string     `json:"calids,omitempty"`
	CVNs          []string     `json:"cvns,omitempty"`
	MIL           bool         `json:"mil"`
	DTCCount      int          `json:"dtc_count"`
	Ignition      string       `json:"ignition,omitempty"`
	Readiness     []Monitor    `json:"readiness,omitempty"`
	Stored        []DTC        `json:"stored"`
	Pending       []DTC        `json:"pending"`
	Permanent     []DTC        `json:"permanent"`
	Previous      []DTC        `json:"previously_active,omitempty"`
	SupportedPIDs []string     `json:"supported_pids"`
	Live          []Value      `json:"live,omitempty"`
	IUPR          *IUPR        `json:"iupr,omitempty"`
	Tests         []TestResult `json:"tests,omitempty"`
	Lamps         *Lamps       `json:"lamps,omitempty"`
}

// TestResult is one on-board monitoring test (Mode 06): monitor (MID) and
// test (TID), the unit-and-scaling id, value and limits in Unit, whether
// it passed, whether it has not run since the codes were cleared, and the
// margin to the nearest binding limit as a fraction of the range.
type TestResult struct {
	MID    int     `json:"mid"`
	TID    int     `json:"tid"`
	UASID  int     `json:"uas_id"`
	Value  float64 `json:"value"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Unit   string  `json:"unit,omitempty"`
	Pass   bool    `json:"pass"`
	NotRun bool    `json:"not_run,omitempty"`
	Margin float64 `json:"margin"`
}

// DTC is one trouble code; J1939 holds the parts of an SAE J1939 code.
type DTC struct {
	Code        string     `json:"code"`
	Description string     `json:"description"`
	J1939       *J1939Code `json:"j1939,omitempty"`
}

// J1939Code is an SAE J1939 trouble code's parts.
type J1939Code struct {
	SPN              uint32 `json:"spn"`
	FMI              uint8  `json:"fmi"`
	Occurrences      uint8  `json:"occurrences"`
	ConversionMethod uint8  `json:"conversion_method,omitempty"`
}

// Value is one decoded Mode 01/02 value; PID is the PID's number.
type Value struct {
	PID   int     `json:"pid"`
	Name  string  `json:"name"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Text  string  `json:"text,omitempty"`
}

// IUPR is an ECU's in-use performance ratios (Mode 09).
type IUPR struct {
	Ignition string         `json:"ignition"`
	OBDCond  int            `json:"obdcond"`
	IgnCntr  int            `json:"igncntr"`
	Monitors []MonitorRatio `json:"monitors"`
}

// MonitorRatio is one monitor's numerator and denominator.
type MonitorRatio struct {
	Name        string  `json:"name"`
	Label       string  `json:"label"`
	Numerator   int     `json:"numerator"`
	Denominator int     `json:"denominator"`
	Ratio       float64 `json:"ratio"`
}

// Lamps is a J1939 controller's lamp status (DM1).
type Lamps struct {
	MIL          string `json:"mil"`
	RedStop      string `json:"red_stop"`
	AmberWarning string `json:"amber_warning"`
	Protect      string `json:"protect"`
}

// FreezeFrame is the data an ECU froze when it stored a DTC.
type FreezeFrame struct {
	ECU    string  `json:"ecu"`
	DTC    DTC     `json:"dtc"`
	Values []Value `json:"values"`
}

// Flag is one finding of the scan, with a stable code and a sentence.
type Flag struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ScanStats describes the scan itself; durations in nanoseconds.
type ScanStats struct {
	Started       time.Time `json:"started"`
	DurationNS    int64     `json:"duration_ns"`
	SetupNS       int64     `json:"setup_ns,omitempty"`
	Requests      int       `json:"requests"`
	FullWindow    int       `json:"full_window"`
	Retried       int       `json:"retried,omitempty"`
	MaxPerRequest int       `json:"max_per_request,omitempty"`
	NoBatch       string    `json:"no_batch,omitempty"`
	NoBatchECUs   []string  `json:"no_batch_ecus,omitempty"`
}

// Findings is the pre-check verdict with its reasons, and every finding.
type Findings struct {
	Verdict  string    `json:"verdict"`
	Reasons  []string  `json:"reasons"`
	Findings []Finding `json:"findings"`
}

// Finding is one finding of the pre-check.
type Finding struct {
	Code        string    `json:"code"`
	Effect      string    `json:"effect"`
	Severity    string    `json:"severity"`
	DTCs        []string  `json:"dtcs,omitempty"`
	ECUs        []string  `json:"ecus,omitempty"`
	Monitors    []string  `json:"monitors,omitempty"`
	Counters    []Counter `json:"counters,omitempty"`
	VIN         string    `json:"vin,omitempty"`
	ExpectedVIN string    `json:"expected_vin,omitempty"`
	Count       int       `json:"count,omitempty"`
}

// Counter is one of the snapshot's counters behind a finding.
type Counter struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit,omitempty"`
	Saturated bool    `json:"saturated,omitempty"`
}

// EmissionBody is the body of an "emission" record: one analyzer or
// opacimeter reading and its phase (before_repair or after_repair).
type EmissionBody struct {
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Phase   string    `json:"phase"`
	Reading Reading   `json:"reading"`
}

// Reading is one set of values read from an instrument.
type Reading struct {
	Method     string     `json:"method"`
	Instrument Instrument `json:"instrument"`
	Time       time.Time  `json:"time"`
	Values     []Quantity `json:"values"`
	Status     []string   `json:"status,omitempty"`
}

// Instrument names the analyzer: its model, serial device and driver.
type Instrument struct {
	Model    string `json:"model"`
	Port     string `json:"port"`
	Protocol string `json:"protocol"`
}

// Quantity is one measured value with its unit.
type Quantity struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// DTCClearBody is the body of a "dtc_clear" record: stage "requested"
// before the vehicle is touched, then "cleared" or "failed" with the ECUs
// that acknowledged (hex CAN identifiers) or the error.
type DTCClearBody struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	Technician string    `json:"technician"`
	Reason     string    `json:"reason"`
	Stage      string    `json:"stage"`
	ECUs       []string  `json:"ecus,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// EmissionTestBody is the body of an "emission_test" record: one completed
// test procedure (two-speed idle or free acceleration) and its phase.
// Instrument is the instrument's state when the test began; Test holds the
// method, the instrument, every second's samples with the OBD live data
// beside them, the averages and the verdict.
type EmissionTestBody struct {
	N          int             `json:"n"`
	At         time.Time       `json:"at"`
	Phase      string          `json:"phase"`
	Technician string          `json:"technician,omitempty"`
	Instrument InstrumentState `json:"instrument"`
	Test       EmissionTest    `json:"test"`
}

// InstrumentState is what the box knew of the instrument's day: what it
// reported last (Mode: warming_up, ready, ...), its last zero and leak
// check, whether either is due, and how many implausible readings its
// driver refused since the box started.
type InstrumentState struct {
	Instrument    Instrument `json:"instrument"`
	Mode          string     `json:"mode,omitempty"`
	WarmUpLeftS   int        `json:"warm_up_left_s,omitempty"`
	Checked       *time.Time `json:"checked,omitempty"`
	LastZero      *Outcome   `json:"last_zero,omitempty"`
	LastLeakCheck *Outcome   `json:"last_leak_check,omitempty"`
	ZeroDue       bool       `json:"zero_due"`
	LeakCheckDue  bool       `json:"leak_check_due"`
	Implausible   int64      `json:"implausible"`
}

// Outcome is how a zero or leak check ended; Error says why it failed.
type Outcome struct {
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
}

// EmissionTest is one test procedure: its method, when it ran, the
// instrument and when the procedure zeroed it, the settings and limits
// used, the results of its modes (two-speed idle) or accelerations (free
// acceleration), every sample, and the verdict.
type EmissionTest struct {
	Method        string         `json:"method"`
	Started       time.Time      `json:"started"`
	Ended         time.Time      `json:"ended"`
	Instrument    Instrument     `json:"instrument"`
	Zeroed        *time.Time     `json:"zeroed,omitempty"`
	Settings      Settings       `json:"settings"`
	LimitSetName  string         `json:"limit_set"`
	Limits        LimitSet       `json:"limits"`
	Modes         []ModeResult   `json:"modes,omitempty"`
	Accelerations []Acceleration `json:"accelerations,omitempty"`
	KMean         *float64       `json:"k_mean,omitempty"` // mean K of the measured accelerations, m^-1
	IdleRPM       *float64       `json:"idle_rpm,omitempty"`
	Samples       []Sample       `json:"samples"`
	Verdict       Verdict        `json:"verdict"`
}

// Settings are a procedure's numbers as used, and where the engine speed
// came from.
type Settings struct {
	TwoSpeedIdle     *TwoSpeedIdleSettings     `json:"two_speed_idle,omitempty"`
	FreeAcceleration *FreeAccelerationSettings `json:"free_acceleration,omitempty"`
	RPMSource        string                    `json:"rpm_source"`
	Unverified       bool                      `json:"unverified"`
}

// TwoSpeedIdleSettings are the two-speed idle procedure's numbers
// (seconds, engine speed windows in rpm, °C).
type TwoSpeedIdleSettings struct {
	MinOilTemperature float64 `json:"min_oil_temperature"`
	WarmUpS           int     `json:"warm_up_s"`
	Precondition      Window  `json:"precondition"`
	PreconditionS     int     `json:"precondition_s"`
	HighIdle          Window  `json:"high_idle"`
	HeavyHighIdle     Window  `json:"heavy_high_idle"`
	Idle              Window  `json:"idle"`
	SettleS           int     `json:"settle_s"`
	MeasureS          int     `json:"measure_s"`
	MinCOCO2          float64 `json:"min_co_co2"`
	ReachS            int     `json:"reach_s"`
	GraceS            int     `json:"grace_s"`
	MaxBadSamples     int     `json:"max_bad_samples"`
}

// FreeAccelerationSettings are the free acceleration procedure's numbers.
type FreeAccelerationSettings struct {
	MinOilTemperature float64 `json:"min_oil_temperature"`
	WarmUpS           int     `json:"warm_up_s"`
	Idle              Window  `json:"idle"`
	IdleS             int     `json:"idle_s"`
	Purges            int     `json:"purges"`
	Accelerations     int     `json:"accelerations"`
	RiseRPM           float64 `json:"rise_rpm"`
	MinPeakRPM        float64 `json:"min_peak_rpm"`
	PressS            int     `json:"press_s"`
	AccelerationS     int     `json:"acceleration_s"`
	SamplesPerSecond  int     `json:"samples_per_second"`
	ReachS            int     `json:"reach_s"`
	GraceS            int     `json:"grace_s"`
	MaxBadSamples     int     `json:"max_bad_samples"`
}

// Window is a range, Min to Max.
type Window struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// LimitSet is the set of limits a test was judged against.
type LimitSet struct {
	TwoSpeedIdle     TwoSpeedIdleLimits     `json:"two_speed_idle"`
	FreeAcceleration FreeAccelerationLimits `json:"free_acceleration"`
	Unverified       bool                   `json:"unverified"`
}

// TwoSpeedIdleLimits are the gas limits at idle and high idle and the
// lambda window.
type TwoSpeedIdleLimits struct {
	Idle     GasLimits `json:"idle"`
	HighIdle GasLimits `json:"high_idle"`
	Lambda   Window    `json:"lambda"`
}

// GasLimits are the CO (%vol) and HC (ppm) limits of one mode.
type GasLimits struct {
	CO float64 `json:"co"`
	HC float64 `json:"hc"`
}

// FreeAccelerationLimits is the limit of the mean K (m^-1).
type FreeAccelerationLimits struct {
	K float64 `json:"k"`
}

// ModeResult is one measured mode of a two-speed idle test (high_idle,
// idle): its samples and averages.
type ModeResult struct {
	Mode     string     `json:"mode"`
	Samples  int        `json:"samples"`
	Averages []Quantity `json:"averages"`
}

// Acceleration is one free acceleration: its number among its kind,
// whether it purged (not judged), its peak K (m^-1) and engine speed, and
// where the peak came from.
type Acceleration struct {
	N        int     `json:"n"`
	Purge    bool    `json:"purge"`
	K        float64 `json:"k"`
	PeakRPM  float64 `json:"peak_rpm"`
	PeakFrom string  `json:"peak_from"`
}

// Sample is one sample of a test: its second T, time, step and phase, the
// engine speed and where it came from, the instrument's values, the OBD
// live data beside them, or the error that left it without values.
type Sample struct {
	T         int        `json:"t"`
	At        time.Time  `json:"at"`
	Step      string     `json:"step"`
	Phase     string     `json:"phase,omitempty"`
	RPM       float64    `json:"rpm"`
	RPMSource string     `json:"rpm_source,omitempty"`
	Values    []Quantity `json:"values,omitempty"`
	OBD       []Value    `json:"obd,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Verdict is a test's outcome: pass, fail or aborted, what failed, why it
// was aborted and at which step, notes, whether the limits were
// unverified, and the verdict's sentence by language ("en", "zh-CN").
type Verdict struct {
	Result     string            `json:"result"`
	Failures   []Failure         `json:"failures,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Step       string            `json:"step,omitempty"`
	Detail     string            `json:"detail,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
	Unverified bool              `json:"unverified"`
	Text       map[string]string `json:"text"`
}

// Failure is one quantity of a mode over its limit (or outside its
// window, Min to Max).
type Failure struct {
	Mode     string  `json:"mode"`
	Quantity string  `json:"quantity"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Limit    float64 `json:"limit,omitempty"`
	Min      float64 `json:"min,omitempty"`
	Max      float64 `json:"max,omitempty"`
}
