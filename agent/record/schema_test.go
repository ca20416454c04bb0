package record

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/minischema"
)

// schemaPath is the published JSON Schema of the envelope.
var schemaPath = filepath.Join("..", "..", "docs", "record.schema.json")

func loadSchema(t *testing.T) *minischema.Schema {
	t.Helper()
	s, err := minischema.Load(schemaPath)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return s
}

func validateLine(s *minischema.Schema, line []byte) error { return s.ValidateJSON(line) }

func TestSchemaAcceptsSealedRecords(t *testing.T) {
	s := loadSchema(t)
	for _, name := range []string{"chain-good.jsonl", "chain-problems.jsonl"} {
		f, err := os.Open(filepath.Join("..", "..", "testdata", "records", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, MaxLineBytes)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			_, decErr := Decode(line)
			schErr := validateLine(s, line)
			// The schema must accept every record Decode accepts. (Decode is
			// stricter: canonical form, time range.)
			if decErr == nil && schErr != nil {
				t.Errorf("%s:%d: decodes but fails the schema: %v", name, n, schErr)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil || n == 0 {
			t.Fatalf("%s: %v (%d lines)", name, err, n)
		}
	}
	// And records with every kind and an empty job.
	sl := testSealer(t, "b")
	for _, k := range append(Kinds(), "x9_") {
		_, w := mustSeal(t, sl, k, "", nil)
		if err := validateLine(s, w); err != nil {
			t.Errorf("%s: %v", w, err)
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	s := loadSchema(t)
	_, w := mustSeal(t, testSealer(t, "bay-01"), KindNote, "J-1", nil)
	good := string(w)
	if err := validateLine(s, w); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ name, from, to string }{
		{"schema 3", `"schema":2`, `"schema":3`},
		{"no clock", `,"clock":{"synced":true,"boot":"0f3a","mono_ms":1000}`, ``},
		{"clock extra", `"mono_ms":1000}`, `"mono_ms":1000,"x":1}`},
		{"clock boot upper", `"boot":"0f3a"`, `"boot":"0F3A"`},
		{"clock synced string", `"synced":true`, `"synced":"true"`},
		{"seq 0", `"seq":1,`, `"seq":0,`},
		{"seq string", `"seq":1,`, `"seq":"1",`},
		{"seq too big", `"seq":1,`, `"seq":9007199254740992,`},
		{"device space", `"device":"bay-01"`, `"device":"bay 01"`},
		{"kind upper", `"kind":"note"`, `"kind":"Note"`},
		{"job bad", `"job":"J-1"`, `"job":"-J"`},
		{"time no ms", `.123Z`, `Z`},
		{"body array", `"body":{}`, `"body":[]`},
		{"prev upper", `"prev":"0`, `"prev":"A`},
		{"extra field", `"schema":2,`, `"schema":2,"extra":true,`},
		{"missing sig", good[strings.Index(good, `,"sig"`) : len(good)-1], ``},
	} {
		line := strings.Replace(good, bad.from, bad.to, 1)
		if line == good {
			t.Fatalf("%s: mutation did not apply", bad.name)
		}
		if err := validateLine(s, []byte(line)); err == nil {
			t.Errorf("%s: schema accepted %s", bad.name, line)
		}
		if _, err := Decode([]byte(line)); err == nil {
			t.Errorf("%s: Decode accepted %s", bad.name, line)
		}
	}
}

// TestKinds: the one list of kinds is documented, valid, without
// duplicates, and the schema names every kind.
func TestKinds(t *testing.T) {
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			Kind struct{ Description string } `json:"kind"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`[a-z][a-z0-9_]*`).FindAllString(doc.Properties.Kind.Description, -1)
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if seen[k] {
			t.Errorf("kind %s listed twice", k)
		}
		seen[k] = true
		if err := ValidKind(k); err != nil {
			t.Errorf("kind %s: %v", k, err)
		}
		if KindDoc(k) == "" {
			t.Errorf("kind %s has no description", k)
		}
		if !slices.Contains(named, k) {
			t.Errorf("kind %s is not named in %s's description of kind", k, schemaPath)
		}
	}
	if KindDoc("x9_") != "" {
		t.Error("an unknown kind has a description")
	}
}
