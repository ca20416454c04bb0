package job

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bayagent/bayagent/agent/emission"
	"github.com/bayagent/bayagent/agent/internal/reflectfill"
	"github.com/bayagent/bayagent/drivers/analyzer"
)

// TestEvidenceRoundTrip: the mapping between the drivers' structs and the
// evidence format is lossless: a scan, emission, emission_test or
// dtc_clear body with
// every field set reads back equal from its JSON. A field a driver adds
// and the mapping forgets fails here.
func TestEvidenceRoundTrip(t *testing.T) {
	check := func(name string, in, out any) {
		t.Helper()
		reflectfill.Fill(in)
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(reflect.ValueOf(in).Elem().Interface(), reflect.ValueOf(out).Elem().Interface()) {
			t.Errorf("%s does not read back equal:\n%+v\n%+v\n%s", name, in, out, b)
		}
	}
	check("scan", new(ScanBody), new(ScanBody))
	check("emission", new(EmissionBody), new(EmissionBody))
	check("dtc_clear", new(DTCClearBody), new(DTCClearBody))
	check("emission_test", new(EmissionTestBody), new(EmissionTestBody))
}

// TestEmissionTestBodyUnchanged: the emission_test body in its own
// evidence type writes the same bytes as the emission package's types did
// before (the JSON of the same structs without the mapping), with every
// field set, with none, and with empty but present lists, so the records
// already stored keep their format.
func TestEmissionTestBodyUnchanged(t *testing.T) {
	type before EmissionTestBody // the same fields, without MarshalJSON
	filled := new(EmissionTestBody)
	reflectfill.Fill(filled)
	empty := EmissionTestBody{Test: emission.Result{Samples: []emission.Sample{}, Modes: []emission.ModeResult{{Averages: []analyzer.Quantity{}}}}}
	for name, b := range map[string]EmissionTestBody{"filled": *filled, "zero": {}, "empty lists": empty} {
		got, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(before(b))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: the body changed:\n got %s\nwant %s", name, got, want)
		}
	}
}
