package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// schemaPath is the published JSON Schema of the envelope.
var schemaPath = filepath.Join("..", "..", "docs", "record.schema.json")

// miniSchema validates the subset of JSON Schema (draft 2020-12) that
// docs/record.schema.json uses: type (object, string, integer), required,
// additionalProperties false, properties, const, pattern, minimum, maximum.
// It fails on any other keyword, so the schema cannot silently grow
// constraints this test does not check.
type miniSchema map[string]any

func loadSchema(t *testing.T) miniSchema {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s miniSchema
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema is %v", s["$schema"])
	}
	return s
}

func (s miniSchema) validate(path string, v any) error {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kw := s[k]
		switch k {
		case "$schema", "$id", "title", "description", "properties":
		case "type":
			if err := checkType(path, kw.(string), v); err != nil {
				return err
			}
		case "const":
			if fmt.Sprint(kw) != fmt.Sprint(v) {
				return fmt.Errorf("%s: %v is not the constant %v", path, v, kw)
			}
		case "pattern":
			str, ok := v.(string)
			if ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				return fmt.Errorf("%s: %q does not match %s", path, str, kw)
			}
		case "minimum", "maximum":
			n, ok := v.(json.Number)
			if !ok {
				continue
			}
			x, _ := new(big.Float).SetString(n.String())
			lim, _ := new(big.Float).SetString(kw.(json.Number).String())
			if c := x.Cmp(lim); k == "minimum" && c < 0 || k == "maximum" && c > 0 {
				return fmt.Errorf("%s: %v violates %s %v", path, n, k, kw)
			}
		case "required":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for _, r := range kw.([]any) {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: missing required %q", path, r)
				}
			}
		case "additionalProperties":
			obj, ok := v.(map[string]any)
			if !ok || kw != false {
				continue
			}
			props, _ := s["properties"].(map[string]any)
			for name := range obj {
				if _, ok := props[name]; !ok {
					return fmt.Errorf("%s: property %q not allowed", path, name)
				}
			}
		default:
			return fmt.Errorf("schema keyword %q at %s is not supported by the test validator", k, path)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if obj, ok := v.(map[string]any); ok {
			for name, sub := range props {
				if pv, ok := obj[name]; ok {
					if err := miniSchema(sub.(map[string]any)).validate(path+"."+name, pv); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func checkType(path, typ string, v any) error {
	ok := false
	switch typ {
	case "object":
		_, ok = v.(map[string]any)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "integer":
		if n, isNum := v.(json.Number); isNum {
			_, isInt := new(big.Int).SetString(n.String(), 10)
			ok = isInt
		}
	default:
		return fmt.Errorf("%s: type %q not supported by the test validator", path, typ)
	}
	if !ok {
		return fmt.Errorf("%s: %v is not of type %s", path, v, typ)
	}
	return nil
}

func validateLine(s miniSchema, line []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	return s.validate("$", v)
}

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
