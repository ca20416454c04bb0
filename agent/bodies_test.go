package agent_test

import (
	"encoding"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/internal/minischema"
	"github.com/bayagent/bayagent/agent/internal/reflectfill"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

var updateBodies = flag.Bool("update-bodies", false, "rewrite docs/records/*.schema.json and testdata/records/bodies/*.json")

// kindBody is the Go type of each kind's body in the evidence format, and
// the value the agent marshals for it (the driver-facing job type for the
// kinds mapped from drivers, whose JSON is the evidence type's).
var kindBody = map[string]struct {
	evidence reflect.Type
	made     func() any
}{
	record.KindJobOpen:      {reflect.TypeFor[job.JobOpenBody](), func() any { return new(job.JobOpenBody) }},
	record.KindScan:         {reflect.TypeFor[record.ScanBody](), func() any { return new(job.ScanBody) }},
	record.KindEmission:     {reflect.TypeFor[record.EmissionBody](), func() any { return new(job.EmissionBody) }},
	record.KindEmissionTest: {reflect.TypeFor[record.EmissionTestBody](), func() any { return new(job.EmissionTestBody) }},
	record.KindDTCClear:     {reflect.TypeFor[record.DTCClearBody](), func() any { return new(job.DTCClearBody) }},
	record.KindNote:         {reflect.TypeFor[job.NoteBody](), func() any { return new(job.NoteBody) }},
	record.KindJobClose:     {reflect.TypeFor[job.JobCloseBody](), func() any { return new(job.JobCloseBody) }},
	record.KindJobCancel:    {reflect.TypeFor[job.JobCancelBody](), func() any { return new(job.JobCancelBody) }},
	record.KindPresence:     {reflect.TypeFor[agent.PresenceBody](), func() any { return new(agent.PresenceBody) }},
	record.KindAudit:        {reflect.TypeFor[agent.AuditBody](), func() any { return new(agent.AuditBody) }},
	record.KindOutboxReset:  {reflect.TypeFor[outbox.ResetBody](), func() any { return new(outbox.ResetBody) }},
	record.KindKeyRotation:  {reflect.TypeFor[record.KeyRotationBody](), func() any { return new(record.KeyRotationBody) }},
	record.KindClockSync:    {reflect.TypeFor[record.ClockSyncBody](), func() any { return new(record.ClockSyncBody) }},
}

// TestBodySchemas: every record kind has its body's JSON Schema in
// docs/records/<kind>.schema.json, made from its evidence type (a change to
// the type that changes the format fails here until the schema is
// rewritten on purpose with -update-bodies), and a golden body in
// testdata/records/bodies/<kind>.json: a body with every field set,
// marshalled by the agent's own types (for scan, emission and dtc_clear
// through the mapping from the drivers' structs), which the schema
// accepts and which must not change.
func TestBodySchemas(t *testing.T) {
	schemaDir := filepath.Join("..", "docs", "records")
	bodyDir := filepath.Join("..", "testdata", "records", "bodies")
	for _, kind := range record.Kinds() {
		kb, ok := kindBody[kind]
		if !ok {
			t.Errorf("kind %s has no body type in kindBody", kind)
			continue
		}
		g := &schemaGen{defs: map[string]any{}}
		root := g.object(kb.evidence)
		root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
		root["$id"] = "https://bayagent.github.io/schema/record/v2/" + kind + ".json"
		root["title"] = "Bayagent " + kind + " record body"
		root["description"] = record.KindDoc(kind) + ". The body member of a record of kind " + kind + " (docs/record.schema.json); see docs/records.md for the version rules."
		if len(g.defs) > 0 {
			root["$defs"] = g.defs
		}
		schema, err := json.MarshalIndent(root, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		schema = append(schema, '\n')

		v := kb.made()
		reflectfill.Fill(v)
		body, err := record.MarshalBody(v)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		golden := append(append([]byte(nil), body...), '\n')

		for _, f := range []struct {
			path string
			want []byte
		}{{filepath.Join(schemaDir, kind+".schema.json"), schema}, {filepath.Join(bodyDir, kind+".json"), golden}} {
			if *updateBodies {
				if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f.path, f.want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(f.path)
			if err != nil || string(got) != string(f.want) {
				t.Errorf("%s differs from what the code makes now (%v); if the change of the format is meant, "+
					"follow docs/records.md and run go test ./agent -run TestBodySchemas -args -update-bodies:\n%s", f.path, err, f.want)
			}
		}
		s, err := minischema.Load(filepath.Join(schemaDir, kind+".schema.json"))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if err := s.ValidateJSON(body); err != nil {
			t.Errorf("%s: the golden body fails its schema: %v", kind, err)
		}
	}
	for kind := range kindBody {
		if !slices.Contains(record.Kinds(), kind) {
			t.Errorf("kindBody has %s, which is no kind", kind)
		}
	}
}

// TestBodiesOwnTheirFormat is the proof that a driver may rename a field
// without changing the evidence: no body type of any kind holds a type of
// a driver or of the packages that wrap them (scan, findings, vehicle,
// emission). Their JSON names are all in agent/record, agent/job,
// agent/outbox, agent and agent/web, the mapping from the drivers' structs
// is written out field by field (agent/job/evidence.go, checked lossless
// by job.TestEvidenceRoundTrip), and a renamed driver field breaks that
// file's build instead of the format, which TestBodySchemas pins.
func TestBodiesOwnTheirFormat(t *testing.T) {
	foreign := []string{"/drivers/", "/agent/scan", "/agent/findings", "/agent/vehicle", "/agent/emission"}
	for _, kind := range record.Kinds() {
		seen := map[reflect.Type]bool{}
		var walk func(reflect.Type, string)
		walk = func(ty reflect.Type, path string) {
			for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Array || ty.Kind() == reflect.Map {
				ty = ty.Elem()
			}
			if seen[ty] {
				return
			}
			seen[ty] = true
			for _, f := range foreign {
				if strings.Contains(ty.PkgPath(), f) {
					t.Errorf("%s body: %s is %s from %s: map it to a type of its own", kind, path, ty, ty.PkgPath())
				}
			}
			if ty.Kind() == reflect.Struct && ty != reflect.TypeFor[time.Time]() {
				for i := range ty.NumField() {
					walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
				}
			}
		}
		walk(kindBody[kind].evidence, kind)
	}
}

// schemaGen makes a JSON Schema from a Go type the way encoding/json
// writes it: a struct is an object of its fields (embedded structs
// flattened), required unless omitempty/omitzero, nothing else allowed; a
// nil slice or pointer without omitempty may be null; named structs go to
// $defs.
type schemaGen struct {
	defs map[string]any
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
	rawType       = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) object(ty reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(ty, props, &required)
	sort.Strings(required)
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (g *schemaGen) fields(ty reflect.Type, props map[string]any, required *[]string) {
	for i := range ty.NumField() {
		f := ty.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		props[name] = g.schema(f.Type, !optional)
		if !optional {
			*required = append(*required, name)
		}
	}
}

func (g *schemaGen) schema(ty reflect.Type, nullable bool) map[string]any {
	switch {
	case ty == timeType:
		return map[string]any{"type": "string", "pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`}
	case ty == rawType:
		return map[string]any{}
	case ty.Implements(marshalerType) || ty.Implements(textType) || reflect.PointerTo(ty).Implements(textType):
		// What the type writes decides: marshal a filled one.
		v := reflect.New(ty)
		reflectfill.Fill(v.Interface())
		b, err := json.Marshal(v.Elem().Interface())
		if err != nil || len(b) == 0 {
			panic(fmt.Sprintf("schemaGen: %s: %v", ty, err))
		}
		switch b[0] {
		case '"':
			return map[string]any{"type": "string"}
		case '{':
			return map[string]any{"type": "object"}
		case '[':
			return map[string]any{"type": "array"}
		case 't', 'f':
			return map[string]any{"type": "boolean"}
		default:
			return map[string]any{"type": "number"}
		}
	}
	switch ty.Kind() {
	case reflect.Pointer:
		s := g.schema(ty.Elem(), false)
		if nullable {
			return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
		}
		return s
	case reflect.Slice:
		s := map[string]any{"type": "array", "items": g.schema(ty.Elem(), false)}
		if nullable {
			s["type"] = []string{"array", "null"}
		}
		return s
	case reflect.Map:
		if nullable {
			return map[string]any{"type": []string{"object", "null"}}
		}
		return map[string]any{"type": "object"}
	case reflect.Struct:
		name := ty.Name()
		if name == "" {
			return g.object(ty)
		}
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // reserved: recursion
			g.defs[name] = g.object(ty)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("schemaGen: no schema for %s", ty))
}
