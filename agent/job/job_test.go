package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

const exampleClosed = "../../testdata/jobs/emission-repair.json"

func TestDecodeClosedExample(t *testing.T) {
	b, err := os.ReadFile(exampleClosed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeClosed(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "J-2026-0314-01" || c.Events != 10 || len(c.Scans) != 2 || len(c.Tests) != 1 || c.FaultDescription() != c.Complaint {
		t.Errorf("decoded %+v", c.Job)
	}
	tests := map[string]string{
		"trailing data": string(b) + "{}",
		"unknown field": `{"version":1,"nope":1}`,
		"events count":  string(bytes.Replace(b, []byte(`"events": 10`), []byte(`"events": 9`), 1)),
		"not closed":    string(bytes.Replace(b, []byte(`"closed_by": "T007"`), []byte(`"closed_by": ""`), 1)),
		"bad VIN":       string(bytes.ReplaceAll(b, []byte(`"vin": "LFV2A21K8A4052691"`), []byte(`"vin": "LFV2A21K9A4052691"`))),
	}
	for name, in := range tests {
		if _, err := DecodeClosed(bytes.NewReader([]byte(in))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeClosed(f *testing.F) {
	if b, err := os.ReadFile(exampleClosed); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"settlement":{"items":[{"working_hours":1e99}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeClosed(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		// An accepted job encodes and decodes to itself.
		out, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeClosed(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatal("round trip changed the job")
		}
	})
}
