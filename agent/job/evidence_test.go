package job

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/reflectfill"
)

// TestEvidenceRoundTrip: the mapping between the drivers' structs and the
// evidence format is lossless: a scan, emission or dtc_clear body with
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
}
