package obdsim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// vehiclesDir holds the profiles that cmd/vehiclesim and the demo serve.
const vehiclesDir = "../../../testdata/vehicles"

func TestProfilesInTestdataAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vehiclesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d profiles in %s, want at least 4", len(files), vehiclesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); p.Name != want {
				t.Errorf("name %q, want the file name %q", p.Name, want)
			}
			if p.Description == "" {
				t.Error("no description")
			}
			if p.Protocol == ProtocolJ1939 {
				return // a truck: validated above, served by j1939sim
			}
			if _, err := New(p, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func loadProfile(t *testing.T, name string) *Profile {
	t.Helper()
	p, err := Load(filepath.Join(vehiclesDir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newVehicle(t *testing.T, name string) *Vehicle {
	t.Helper()
	v, err := New(loadProfile(t, name), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// minimalProfile is the smallest valid profile; the error tests edit it.
const minimalProfile = `
name: tiny
bus: {id_bits: 11, bitrate: 500000}
vin: LFV2A21K8A4052691
ecus:
  - address: 7E8
    name: ECM-Engine
    ignition: spark
    readiness: {misfire: complete, catalyst: incomplete}
    dtcs: {stored: [P0420]}
    freeze_frame: {dtc: P0420, values: {engine_speed: 2000}}
    live: {engine_speed: 780, vehicle_speed: 0}
    latency: 10ms
`

func TestParseMinimal(t *testing.T) {
	p, err := Parse(strings.NewReader(minimalProfile))
	if err != nil {
		t.Fatal(err)
	}
	e := p.ECUs[0]
	if e.Address != 0x7E8 {
		t.Errorf("address %#x, want 0x7E8 (unquoted 7E8 is hex, not the float 7e8)", e.Address)
	}
	if e.Latency != Duration(10*time.Millisecond) {
		t.Errorf("latency %v, want 10ms", time.Duration(e.Latency))
	}
	if e.Live["engine_speed"] != 780 || e.FreezeFrame.DTC != "P0420" {
		t.Errorf("live %v freeze frame %+v", e.Live, e.FreezeFrame)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		old, new  string // replace old by new in minimalProfile
		want      error
		wantField string // must appear in the message
	}{
		{"unknown top-level field", "vin: LFV", "vinn: LFV", ErrSyntax, "vinn"},
		{"unknown ECU field", "ignition: spark", "ignition: spark\n    ignitoin: spark", ErrSyntax, "ignitoin"},
		{"unknown faults field", "latency: 10ms", "faults: {drop_frames: true}", ErrSyntax, "drop_frames"},
		{"wrong type", "id_bits: 11", "id_bits: eleven", ErrSyntax, "eleven"},
		{"second document", "latency: 10ms", "latency: 10ms\n---\nname: other", ErrSyntax, "more than one YAML document"},
		{"missing name", "name: tiny", "", ErrMissing, "name"},
		{"short VIN", "LFV2A21K8A4052691", "LFV2A21K8A405269", ErrBadVIN, "vin"},
		{"long VIN", "LFV2A21K8A4052691", "LFV2A21K8A40526911", ErrBadVIN, "vin"},
		{"VIN with O", "LFV2A21K8A4052691", "LFV2A21K8A4O52691", ErrBadVIN, "vin"},
		{"missing VIN", "vin: LFV2A21K8A4052691", "", ErrMissing, "vin"},
		{"bad id bits", "id_bits: 11", "id_bits: 12", ErrBadValue, "bus.id_bits"},
		{"bad bitrate", "bitrate: 500000", "bitrate: 125000", ErrBadValue, "bus.bitrate"},
		{"protocol", "name: tiny", "name: tiny\nprotocol: kline", ErrProtocol, "protocol"},
		{"address not hex", "address: 7E8", "address: 7G8", ErrBadAddress, "7G8"},
		{"address not a response id", "address: 7E8", "address: 7E0", ErrBadAddress, "ecus[0].address"},
		{"29-bit address on 11-bit bus", "address: 7E8", "address: 18DAF110", ErrBadAddress, "ecus[0].address"},
		{"address is a list", "address: 7E8", "address: [7E8]", ErrSyntax, "address"},
		{"duplicate address", "latency: 10ms", "latency: 10ms\n  - {address: 7E8, name: TCM-Trans, ignition: spark}", ErrBadAddress, "ecus[1].address"},
		{"bad stored DTC", "stored: [P0420]", "stored: [P0420, X0420]", ErrBadDTC, "ecus[0].dtcs.stored[1]"},
		{"lower-case DTC", "stored: [P0420]", "pending: [p0300]", ErrBadDTC, "ecus[0].dtcs.pending[0]"},
		{"bad freeze frame DTC", "dtc: P0420", "dtc: P04", ErrBadDTC, "ecus[0].freeze_frame.dtc"},
		{"unknown live value", "vehicle_speed: 0", "vehicle_sped: 0", ErrUnknownValue, "vehicle_sped"},
		{"live value out of range", "vehicle_speed: 0", "vehicle_speed: 300", ErrUnknownValue, "ecus[0].live"},
		{"derived PID set by hand", "freeze_frame: {dtc: P0420, values: {engine_speed: 2000}}", "freeze_frame: {dtc: P0420, values: {freeze_frame_dtc: 1056}}", ErrUnknownValue, "ecus[0].freeze_frame.values"},
		{"missing ignition", "ignition: spark", "", ErrMissing, "ecus[0].ignition"},
		{"bad ignition", "ignition: spark", "ignition: diesel", ErrBadValue, "ecus[0].ignition"},
		{"unknown monitor", "catalyst: incomplete", "catalist: incomplete", ErrBadValue, "ecus[0].readiness"},
		{"bad readiness state", "catalyst: incomplete", "catalyst: ready", ErrBadValue, "ecus[0].readiness.catalyst"},
		{"bad ECU name", "name: ECM-Engine", "name: EngineControlModule", ErrBadValue, "ecus[0].name"},
		{"bad latency", "latency: 10ms", "latency: fast", ErrSyntax, "fast"},
		{"bad CVN", "latency: 10ms", "calids: [ABC]\n    cvns: [12345]", ErrBadValue, "ecus[0].cvns[0]"},
		{"CVN count", "latency: 10ms", "calids: [ABC, DEF]\n    cvns: [12345678]", ErrBadValue, "ecus[0].cvns"},
		{"long CALID", "latency: 10ms", "calids: [ABCDEFGHIJKLMNOPQ]", ErrBadValue, "ecus[0].calids"},
		{"two VIN holders", "latency: 10ms", "vin: true\n  - {address: 7E9, name: TCM-Trans, ignition: spark, vin: true}", ErrBadValue, "ecus[1].vin"},
		{"bad IUPR monitor", "latency: 10ms", "iupr: {obdcond: 1, igncntr: 2, monitors: [{name: evap}]}", ErrBadValue, "ecus[0].iupr"},
		{"negative fc_wait", "latency: 10ms", "faults: {fc_wait: -1}", ErrBadValue, "ecus[0].faults.fc_wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimalProfile, tt.old, tt.new, 1)
			if src == minimalProfile {
				t.Fatalf("%q not found in the profile", tt.old)
			}
			_, err := Parse(strings.NewReader(src))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("error %q does not name %q", err, tt.wantField)
			}
		})
	}
}

func TestValidateNamesFieldsInFieldError(t *testing.T) {
	p, err := Parse(strings.NewReader(minimalProfile))
	if err != nil {
		t.Fatal(err)
	}
	p.ECUs[0].DTCs.Permanent = []string{"P04200"}
	p.VIN = "SHORT"
	err = p.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError", err)
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &fe) {
			fields = append(fields, fe.Field)
		}
	}
	if want := []string{"vin", "ecus[0].dtcs.permanent[0]"}; !slices.Equal(fields, want) {
		t.Errorf("fields %q, want %q", fields, want)
	}
}

func TestParseEmpty(t *testing.T) {
	if _, err := Parse(strings.NewReader("")); !errors.Is(err, ErrSyntax) {
		t.Errorf("empty input: %v, want ErrSyntax", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want fs.ErrNotExist", err)
	}
}

// FuzzParse checks that no profile text makes Parse panic, and that what
// it accepts builds a vehicle.
func FuzzParse(f *testing.F) {
	f.Add(minimalProfile)
	for _, name := range []string{"petrol-p0420", "petrol-29bit"} {
		b, err := os.ReadFile(filepath.Join(vehiclesDir, name+".yaml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("ecus: [{address: [1]}]")
	f.Add("bus: {id_bits: 29}\necus: [{address: 0x18DAF1FF, latency: -1s}]")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(strings.NewReader(src))
		if err != nil {
			return
		}
		if _, err := New(p, Options{}); err != nil {
			t.Fatalf("Parse accepted a profile that New rejects: %v", err)
		}
	})
}
