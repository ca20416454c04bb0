package emission

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// Config is the procedures' numbers and the limit sets, as configuration
// (agent/config's emission section). DefaultConfig gives DOMAIN.md's
// values; none of them is verified against the standards' text.
type Config struct {
	// LimitSet names the set of LimitSets judged against unless a test
	// names another.
	LimitSet  string              `yaml:"limit_set" json:"limit_set"`
	LimitSets map[string]LimitSet `yaml:"limit_sets" json:"limit_sets"`
	// RPMSource is where the engine speed comes from: "auto" (the
	// instrument's rpm pick-up when it reads more than 0, else OBD),
	// "analyzer" or "obd".
	RPMSource string `yaml:"rpm_source" json:"rpm_source"`
	// ZeroValidMin is how long a zero counts as fresh (minutes), for
	// InstrumentState.ZeroDue; LeakCheckIntervalH how often the sample
	// line is to be leak-checked (hours; daily by default).
	ZeroValidMin       int                      `yaml:"zero_valid_min" json:"zero_valid_min"`
	LeakCheckIntervalH int                      `yaml:"leak_check_interval_h" json:"leak_check_interval_h"`
	TwoSpeedIdle       TwoSpeedIdleSettings     `yaml:"two_speed_idle" json:"two_speed_idle"`
	FreeAcceleration   FreeAccelerationSettings `yaml:"free_acceleration" json:"free_acceleration"`
}

// Settings are the numbers one procedure ran with.
type Settings struct {
	TwoSpeedIdle     *TwoSpeedIdleSettings     `json:"two_speed_idle,omitempty"`
	FreeAcceleration *FreeAccelerationSettings `json:"free_acceleration,omitempty"`
	RPMSource        string                    `json:"rpm_source"`
	// Unverified: the numbers are the built-in defaults, not checked
	// against the standard's text.
	Unverified bool `json:"unverified"`
}

// TwoSpeedIdleSettings are the two-speed idle procedure's numbers; times
// are in seconds.
type TwoSpeedIdleSettings struct {
	// MinOilTemperature is the oil temperature (degC) the engine must
	// reach before the test; WarmUpS how long to wait for it.
	MinOilTemperature float64 `yaml:"min_oil_temperature" json:"min_oil_temperature"`
	WarmUpS           int     `yaml:"warm_up_s" json:"warm_up_s"`
	// Precondition is the window of about 70 % of the rated speed, held
	// PreconditionS seconds.
	Precondition  Window `yaml:"precondition" json:"precondition"`
	PreconditionS int    `yaml:"precondition_s" json:"precondition_s"`
	// HighIdle is the high idle window (light vehicles), HeavyHighIdle
	// the one for heavy vehicles; Idle the idle window.
	HighIdle      Window `yaml:"high_idle" json:"high_idle"`
	HeavyHighIdle Window `yaml:"heavy_high_idle" json:"heavy_high_idle"`
	Idle          Window `yaml:"idle" json:"idle"`
	// SettleS and MeasureS are the settling and averaging times at each
	// speed.
	SettleS  int `yaml:"settle_s" json:"settle_s"`
	MeasureS int `yaml:"measure_s" json:"measure_s"`
	// MinCOCO2 is the dilution check: the averaged CO + CO2 (%vol) below
	// it means the probe sucks in air (0 disables).
	MinCOCO2 float64 `yaml:"min_co_co2" json:"min_co_co2"`
	Common   `yaml:",inline" json:",inline"`
}

// FreeAccelerationSettings are the free acceleration procedure's numbers;
// times are in seconds.
type FreeAccelerationSettings struct {
	MinOilTemperature float64 `yaml:"min_oil_temperature" json:"min_oil_temperature"` // 0: not checked
	WarmUpS           int     `yaml:"warm_up_s" json:"warm_up_s"`
	Idle              Window  `yaml:"idle" json:"idle"`
	// IdleS is how long the engine idles before the first and between
	// accelerations.
	IdleS int `yaml:"idle_s" json:"idle_s"`
	// Purges and Accelerations count the accelerations.
	Purges        int `yaml:"purges" json:"purges"`
	Accelerations int `yaml:"accelerations" json:"accelerations"`
	// RiseRPM: above this speed the pedal counts as pressed; MinPeakRPM:
	// an acceleration must reach it (the governed speed) to count.
	RiseRPM    float64 `yaml:"rise_rpm" json:"rise_rpm"`
	MinPeakRPM float64 `yaml:"min_peak_rpm" json:"min_peak_rpm"`
	// PressS is how long to wait for the pedal; AccelerationS how long
	// an acceleration is sampled at most; SamplesPerSecond how often
	// during it (the peak is short).
	PressS           int `yaml:"press_s" json:"press_s"`
	AccelerationS    int `yaml:"acceleration_s" json:"acceleration_s"`
	SamplesPerSecond int `yaml:"samples_per_second" json:"samples_per_second"`
	Common           `yaml:",inline" json:",inline"`
}

// Common are the numbers both procedures share.
type Common struct {
	// ReachS is how long the technician has to bring the engine into a
	// step's window.
	ReachS int `yaml:"reach_s" json:"reach_s"`
	// GraceS is how many seconds in a row the engine may be outside its
	// window once in it before the test is aborted.
	GraceS int `yaml:"grace_s" json:"grace_s"`
	// MaxBadSamples is how many samples in a row may have no values before
	// the test is aborted.
	MaxBadSamples int `yaml:"max_bad_samples" json:"max_bad_samples"`
}

// LimitSet is one set of limits ("limit a", "limit b").
type LimitSet struct {
	TwoSpeedIdle     TwoSpeedIdleLimits     `yaml:"two_speed_idle" json:"two_speed_idle"`
	FreeAcceleration FreeAccelerationLimits `yaml:"free_acceleration" json:"free_acceleration"`
	// Unverified: the values are DOMAIN.md's recollection, not the
	// standard's text nor the platform's delivery.
	Unverified bool `yaml:"unverified" json:"unverified"`
}

// TwoSpeedIdleLimits are the two-speed idle limits.
type TwoSpeedIdleLimits struct {
	Idle     GasLimits `yaml:"idle" json:"idle"`
	HighIdle GasLimits `yaml:"high_idle" json:"high_idle"`
	// Lambda is judged at high idle.
	Lambda Window `yaml:"lambda" json:"lambda"`
}

// GasLimits are the highest CO (%vol) and HC (ppm) allowed.
type GasLimits struct {
	CO float64 `yaml:"co" json:"co"`
	HC float64 `yaml:"hc" json:"hc"`
}

// FreeAccelerationLimits are the free acceleration limits.
type FreeAccelerationLimits struct {
	// K is the highest mean light absorption coefficient allowed, m^-1.
	K float64 `yaml:"k" json:"k"`
}

// Limit set names of the defaults.
const (
	LimitA = "a"
	LimitB = "b"
)

// RPM sources.
const (
	RPMAuto     = "auto"
	RPMAnalyzer = "analyzer"
	RPMOBD      = "obd"
)

// DefaultConfig returns the defaults, from DOMAIN.md ("Test procedures",
// unverified): limit a and limit b, two-speed idle 30 s at 70 % of rated
// speed (3500 +/- 500 rpm here, for a petrol car rated about 5000), high
// idle 2500 +/- 200 (heavy 1800 +/- 200), 15 s settle and 30 s average at
// each speed, oil at least 80 degC, CO + CO2 at least 6 %vol (dilution);
// free acceleration with three purges and
// three measured accelerations. The idle windows, wait times and the
// governed-speed threshold are this package's choice.
func DefaultConfig() Config {
	common := Common{ReachS: 60, GraceS: 2, MaxBadSamples: 5}
	return Config{
		LimitSet:           LimitA,
		RPMSource:          RPMAuto,
		ZeroValidMin:       60,
		LeakCheckIntervalH: 24,
		LimitSets: map[string]LimitSet{
			LimitA: {
				TwoSpeedIdle: TwoSpeedIdleLimits{
					Idle: GasLimits{CO: 0.6, HC: 80}, HighIdle: GasLimits{CO: 0.3, HC: 50}, Lambda: Window{0.95, 1.05},
				},
				FreeAcceleration: FreeAccelerationLimits{K: 1.2},
				Unverified:       true,
			},
			LimitB: {
				TwoSpeedIdle: TwoSpeedIdleLimits{
					Idle: GasLimits{CO: 0.4, HC: 40}, HighIdle: GasLimits{CO: 0.3, HC: 30}, Lambda: Window{0.95, 1.05},
				},
				FreeAcceleration: FreeAccelerationLimits{K: 0.7},
				Unverified:       true,
			},
		},
		TwoSpeedIdle: TwoSpeedIdleSettings{
			MinOilTemperature: 80, WarmUpS: 600,
			Precondition: Window{3000, 4000}, PreconditionS: 30,
			HighIdle: Window{2300, 2700}, HeavyHighIdle: Window{1600, 2000}, Idle: Window{500, 1100},
			SettleS: 15, MeasureS: 30, MinCOCO2: 6, Common: common,
		},
		FreeAcceleration: FreeAccelerationSettings{
			MinOilTemperature: 80, WarmUpS: 600, Idle: Window{500, 1100}, IdleS: 10,
			Purges: 3, Accelerations: 3, RiseRPM: 1500, MinPeakRPM: 2000,
			PressS: 30, AccelerationS: 8, SamplesPerSecond: 10, Common: common,
		},
	}
}

// LoadConfig reads a procedures file: DefaultConfig overridden by the
// file's keys (YAML, the names of Config's yaml tags; unknown keys are
// refused), then validated. A limit set given in the file replaces the
// default of that name whole, and counts as verified unless it says
// unverified: true.
func LoadConfig(r io.Reader) (Config, error) {
	c := DefaultConfig()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("%w: larger than %d bytes", ErrConfig, maxConfigBytes)
	}
	defaults := c.LimitSets
	c.LimitSets = nil
	if err := yamlfile.Decode(bytes.NewReader(data), &c); err != nil && !errors.Is(err, yamlfile.ErrEmpty) {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for name, set := range c.LimitSets {
		defaults[name] = set
	}
	c.LimitSets = defaults
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfigFile is LoadConfig of a file; "" gives DefaultConfig.
func LoadConfigFile(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	c, err := yamlfile.Load(path, LoadConfig)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, err
}

const maxConfigBytes = 1 << 20

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("emission: bad configuration")

// Validate checks the configuration and names each bad field
// (emission.<field>).
func (c *Config) Validate() error {
	var p []string
	bad := func(field, format string, args ...any) {
		p = append(p, "emission."+field+": "+fmt.Sprintf(format, args...))
	}
	if _, ok := c.LimitSets[c.LimitSet]; !ok {
		bad("limit_set", "%q is not one of limit_sets (%s)", c.LimitSet, strings.Join(c.LimitSetNames(), ", "))
	}
	if !slices.Contains([]string{RPMAuto, RPMAnalyzer, RPMOBD}, c.RPMSource) {
		bad("rpm_source", "want auto, analyzer or obd, got %q", c.RPMSource)
	}
	if c.ZeroValidMin < 1 || c.ZeroValidMin > 24*60 {
		bad("zero_valid_min", "want 1 to 1440 minutes, got %d", c.ZeroValidMin)
	}
	if c.LeakCheckIntervalH < 1 || c.LeakCheckIntervalH > 24*31 {
		bad("leak_check_interval_h", "want 1 to 744 hours, got %d", c.LeakCheckIntervalH)
	}
	for _, name := range c.LimitSetNames() {
		l := c.LimitSets[name]
		f := "limit_sets." + name + "."
		t := l.TwoSpeedIdle
		if t.Idle.CO <= 0 || t.Idle.HC <= 0 || t.HighIdle.CO <= 0 || t.HighIdle.HC <= 0 {
			bad(f+"two_speed_idle", "every CO and HC limit must be above 0")
		}
		if !(t.Lambda.Min > 0 && t.Lambda.Min < t.Lambda.Max) {
			bad(f+"two_speed_idle.lambda", "want 0 < min < max, got %g..%g", t.Lambda.Min, t.Lambda.Max)
		}
		if l.FreeAcceleration.K <= 0 {
			bad(f+"free_acceleration.k", "must be above 0")
		}
	}
	w := func(field string, win Window) {
		if !(win.Min >= 0 && win.Min < win.Max && win.Max <= 10000) {
			bad(field, "want 0 <= min < max <= 10000 rpm, got %g..%g", win.Min, win.Max)
		}
	}
	s := func(field string, v, lo int) {
		if v < lo || v > 3600 {
			bad(field, "want %d to 3600 seconds, got %d", lo, v)
		}
	}
	common := func(prefix string, cm Common) {
		s(prefix+"reach_s", cm.ReachS, 1)
		s(prefix+"grace_s", cm.GraceS, 0)
		if cm.MaxBadSamples < 0 || cm.MaxBadSamples > 60 {
			bad(prefix+"max_bad_samples", "want 0 to 60, got %d", cm.MaxBadSamples)
		}
	}
	t := c.TwoSpeedIdle
	w("two_speed_idle.precondition", t.Precondition)
	w("two_speed_idle.high_idle", t.HighIdle)
	w("two_speed_idle.heavy_high_idle", t.HeavyHighIdle)
	w("two_speed_idle.idle", t.Idle)
	if t.Idle.Max >= t.HighIdle.Min || t.Idle.Max >= t.HeavyHighIdle.Min {
		bad("two_speed_idle.idle", "must lie below the high idle windows")
	}
	s("two_speed_idle.warm_up_s", t.WarmUpS, 1)
	s("two_speed_idle.precondition_s", t.PreconditionS, 0)
	s("two_speed_idle.settle_s", t.SettleS, 0)
	s("two_speed_idle.measure_s", t.MeasureS, 1)
	if t.MinCOCO2 < 0 || t.MinCOCO2 > 20 {
		bad("two_speed_idle.min_co_co2", "want 0 to 20 %%vol, got %g", t.MinCOCO2)
	}
	common("two_speed_idle.", t.Common)
	f := c.FreeAcceleration
	w("free_acceleration.idle", f.Idle)
	s("free_acceleration.warm_up_s", f.WarmUpS, 1)
	s("free_acceleration.idle_s", f.IdleS, 0)
	s("free_acceleration.press_s", f.PressS, 1)
	s("free_acceleration.acceleration_s", f.AccelerationS, 1)
	if f.Purges < 0 || f.Purges > 10 {
		bad("free_acceleration.purges", "want 0 to 10, got %d", f.Purges)
	}
	if f.Accelerations < 1 || f.Accelerations > 10 {
		bad("free_acceleration.accelerations", "want 1 to 10, got %d", f.Accelerations)
	}
	if f.RiseRPM <= f.Idle.Max || f.MinPeakRPM < f.RiseRPM {
		bad("free_acceleration.rise_rpm", "want idle.max < rise_rpm <= min_peak_rpm, got %g, %g", f.RiseRPM, f.MinPeakRPM)
	}
	if f.SamplesPerSecond < 1 || f.SamplesPerSecond > 50 {
		bad("free_acceleration.samples_per_second", "want 1 to 50, got %d", f.SamplesPerSecond)
	}
	common("free_acceleration.", f.Common)
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(p, "; "))
	}
	return nil
}

// LimitSetNames returns the names of the limit sets, sorted.
func (c *Config) LimitSetNames() []string {
	names := make([]string, 0, len(c.LimitSets))
	for n := range c.LimitSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
