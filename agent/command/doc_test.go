package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/uplink"
)

// docPath is the command reference for integrators.
var docPath = filepath.Join("..", "..", "docs", "commands.md")

// docSection is one "## name" section of the reference.
type docSection struct {
	name string
	body string
}

func readDoc(t *testing.T) []docSection {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []docSection
	for i, part := range strings.Split("\n"+string(b), "\n## ") {
		if i == 0 {
			continue
		}
		name, body, _ := strings.Cut(part, "\n")
		out = append(out, docSection{strings.TrimSpace(name), body})
	}
	return out
}

var (
	tableRow  = regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([^|]+) \\|")
	jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)\n```")
	codeRef   = regexp.MustCompile("`([a-z_]+)`")
)

// TestDocCommands: docs/commands.md has a section for every command, in
// order, with its lane, every argument with its JSON type, an example
// request that decodes, an example reply, and the codes it can give.
func TestDocCommands(t *testing.T) {
	secs := readDoc(t)
	var documented []string
	byName := map[string]docSection{}
	for _, s := range secs {
		if _, ok := Lookup(s.name); ok {
			documented = append(documented, s.name)
			byName[s.name] = s
		}
	}
	if !slices.Equal(documented, Names()) {
		t.Fatalf("%s documents the commands %v, want %v in that order", docPath, documented, Names())
	}
	codes := uplink.Codes()
	for _, spec := range Specs() {
		s := byName[spec.Name]
		t.Run(spec.Name, func(t *testing.T) {
			if !strings.Contains(s.body, "Lane: `"+spec.Lane+"`") {
				t.Errorf("the section does not say Lane: `%s`", spec.Lane)
			}
			// Arguments: every documented path exists with its type, and
			// every argument is documented.
			want := argPaths(reflect.TypeOf(spec.New()).Elem(), "")
			got := map[string]string{}
			for _, m := range tableRow.FindAllStringSubmatch(s.body, -1) {
				got[m[1]] = strings.TrimSpace(m[2])
			}
			for path, typ := range want {
				if d, ok := got[path]; !ok {
					t.Errorf("argument %s is not documented", path)
				} else if d != typ {
					t.Errorf("argument %s is documented as %q, the code takes %q", path, d, typ)
				}
			}
			for path := range got {
				if _, ok := want[path]; !ok {
					t.Errorf("argument %s is documented but the command has none", path)
				}
			}
			// Examples: the request decodes, the reply is a reply to it.
			blocks := jsonBlock.FindAllStringSubmatch(s.body, -1)
			if len(blocks) != 2 {
				t.Fatalf("want an example request and reply, found %d JSON blocks", len(blocks))
			}
			var env struct {
				ID   string          `json:"id"`
				Cmd  string          `json:"cmd"`
				Args json.RawMessage `json:"args"`
			}
			if err := json.Unmarshal([]byte(blocks[0][1]), &env); err != nil || env.Cmd != spec.Name || env.ID == "" {
				t.Fatalf("example request %s: %v (cmd %q)", blocks[0][1], err, env.Cmd)
			}
			if _, err := Decode(env.Cmd, env.Args); err != nil {
				t.Errorf("example request is refused: %v", err)
			}
			var r uplink.Reply
			if err := json.Unmarshal([]byte(blocks[1][1]), &r); err != nil || r.ID != env.ID || !r.OK || len(r.Result) == 0 {
				t.Errorf("example reply %s: %v (want ok with a result, id %q)", blocks[1][1], err, env.ID)
			}
			// Errors: the codes named are reply codes.
			_, errs, ok := strings.Cut(s.body, "\nErrors: ")
			if !ok {
				t.Fatal("no Errors: line")
			}
			errs, _, _ = strings.Cut(errs, "\n\n")
			for _, m := range codeRef.FindAllStringSubmatch(errs, -1) {
				if !slices.Contains(codes, uplink.Code(m[1])) {
					t.Errorf("Errors: %s is not a reply code", m[1])
				}
			}
		})
	}
}

// TestDocCodes: the reply code table lists every code once, in order,
// with its description.
func TestDocCodes(t *testing.T) {
	var table string
	for _, s := range readDoc(t) {
		if s.name == "Reply codes" {
			table = s.body
		}
	}
	var got []uplink.Code
	for _, m := range tableRow.FindAllStringSubmatch(table, -1) {
		c := uplink.Code(m[1])
		got = append(got, c)
		if d := strings.TrimSpace(m[2]); d != c.Doc() {
			t.Errorf("code %s: documented as %q, the code says %q", c, d, c.Doc())
		}
	}
	if !slices.Equal(got, uplink.Codes()) {
		t.Errorf("%s lists the codes %v, want %v", docPath, got, uplink.Codes())
	}
}

// TestDocLimits: the limits the reference states are the code's.
func TestDocLimits(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		fmt.Sprintf("at most %d bytes", MaxArgsBytes),
		fmt.Sprintf("1 to %d Mode 01 PIDs", MaxLivePIDs),
		fmt.Sprintf("%g to %g (default %g)", MinLiveRateHz, MaxLiveRateHz, DefaultLiveRateHz),
		fmt.Sprintf("1 to %d (default %d)", MaxLiveDurationS, DefaultLiveSeconds),
		fmt.Sprintf("never above %g Hz and\n%d s", MaxLiveRateHz, MaxLiveDurationS),
		fmt.Sprintf("at most %d records per resend", MaxResendRecords),
		fmt.Sprintf("at most %d characters, e.g.", 16),
		fmt.Sprintf("at most %d characters", job.MaxText),
		fmt.Sprintf("A lane holds at most %d waiting commands", uplink.DefaultCommandQueue),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("%s does not say %q", docPath, want)
		}
	}
}

// argPaths maps the JSON path of every argument of t (a struct) to its
// documented type: nested objects in arrays as "items[].name".
func argPaths(t reflect.Type, prefix string) map[string]string {
	out := map[string]string{}
	for name, ft := range jsonFields(t) {
		path := prefix + name
		out[path] = docType(ft)
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			for k, v := range argPaths(ft.Elem(), path+"[].") {
				out[k] = v
			}
		}
	}
	return out
}

func docType(t reflect.Type) string {
	switch {
	case t == decimalType:
		return "decimal"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "array of objects"
	case t.Kind() == reflect.Slice:
		return "array of " + docType(t.Elem()) + "s"
	case t.Kind() == reflect.Struct:
		return "object"
	}
	return t.String()
}
