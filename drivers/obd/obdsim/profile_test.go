package obdsim

import (
	"path/filepath"
	"strings"
	"testing"
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
			if p.Protocol != "" && p.Protocol != ProtocolISO15765 {
				return // another protocol's profile: validated above, served elsewhere
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
