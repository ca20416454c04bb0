package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// parser walks the YAML tree against Config's structs, so that every problem
// is reported at once with its key path and line: unknown keys (listing the
// known ones), values of the wrong type and ${VAR} errors.
type parser struct {
	lookup func(string) (string, bool)
	lines  map[string]int
	errs   []error
}

func (p *parser) fail(path string, line int, kind error, format string, a ...any) {
	p.errs = append(p.errs, &FieldError{Field: path, Line: line, Msg: fmt.Sprintf(format, a...), kind: kind})
}

func (p *parser) document(doc *yaml.Node, c *Config) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.fail("", doc.Line, ErrSyntax, "want one YAML mapping of sections (device, vehicle, ...)")
		return
	}
	p.mapping(doc.Content[0], reflect.ValueOf(c).Elem(), "")
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// mapping reads a mapping node into the struct v.
func (p *parser) mapping(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "want a mapping of sections"
		if path != "" {
			what = "want a mapping of keys (" + strings.Join(keys(v.Type()), ", ") + ")"
		}
		p.fail(path, n.Line, ErrSyntax, "%s, got a %s", what, yamlfile.KindName(n))
		return
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(path, k.Line, ErrSyntax, "a key must be a plain name, got a %s", yamlfile.KindName(k))
			continue
		}
		kp := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			p.fail(kp, k.Line, ErrSyntax, "given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		p.lines[kp] = k.Line
		f, ok := fieldByKey(v.Type(), k.Value)
		if !ok {
			if path == "uplink" && strings.EqualFold(k.Value, "password") {
				p.fail(kp, k.Line, ErrSecret, "the password must not be in the configuration file: put it in an environment variable (for example in a systemd EnvironmentFile readable only by root) and give that variable's name in uplink.password_env")
				continue
			}
			want := "sections"
			if path != "" {
				want = "keys of " + path
			}
			p.fail(kp, k.Line, ErrUnknownKey, "unknown key (%s: %s)", want, strings.Join(keys(v.Type()), ", "))
			continue
		}
		fv := v.Field(f)
		if fv.Kind() == reflect.Struct {
			p.mapping(val, fv, kp)
			continue
		}
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			p.list(val, fv, kp)
			continue
		}
		p.value(val, fv, kp)
	}
}

// list reads a sequence of mappings into the slice of structs fv (the
// items are "path[i]").
func (p *parser) list(n *yaml.Node, fv reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(path, n.Line, ErrInvalid, "want a list, got a %s", yamlfile.KindName(n))
		return
	}
	if len(n.Content) == 0 {
		fv.Set(reflect.Zero(fv.Type()))
		return
	}
	out := reflect.MakeSlice(fv.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p.mapping(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	fv.Set(out)
}

// value reads a scalar node into the field fv.
func (p *parser) value(n *yaml.Node, fv reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		return // keep the default
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(path, n.Line, ErrInvalid, "want a single value, got a %s", yamlfile.KindName(n))
		return
	}
	text, err := expand(n.Value, p.lookup)
	if err != nil {
		p.errs = append(p.errs, &FieldError{Field: path, Line: n.Line, Err: err, kind: ErrEnv})
		return
	}
	if reflect.PointerTo(fv.Type()).Implements(unmarshalerType) {
		tmp := *n
		tmp.Value = text
		if err := fv.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(&tmp); err != nil {
			if ve, ok := errors.AsType[*yamlfile.ValueError](err); ok {
				err = errors.New(ve.Msg) // the FieldError names the line
			}
			p.errs = append(p.errs, &FieldError{Field: path, Line: n.Line, Err: err, kind: ErrInvalid})
		}
		return
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(text)
	case reflect.Int:
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, strconv.IntSize)
		if err != nil {
			p.fail(path, n.Line, ErrInvalid, "want a whole number, got %q", text)
			return
		}
		fv.SetInt(i)
	case reflect.Bool:
		switch text {
		case "true", "True", "TRUE":
			fv.SetBool(true)
		case "false", "False", "FALSE":
			fv.SetBool(false)
		default:
			p.fail(path, n.Line, ErrInvalid, "want true or false, got %q", text)
		}
	default: // not reached: Config has no field of another type
		p.fail(path, n.Line, ErrInvalid, "no reader for a value of type %s", fv.Type())
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByKey returns the index of the field of struct type t whose yaml tag
// is key.
func fieldByKey(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		if tag := yamlKey(t.Field(i)); tag != "" && tag == key {
			return i, true
		}
	}
	return 0, false
}

// keys lists the yaml keys of struct type t in declaration order.
func keys(t reflect.Type) []string {
	var ks []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" {
		return ""
	}
	return k
}

// expand replaces each ${NAME} in s by the value of the environment
// variable NAME. Other '$' characters are kept.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: unterminated ${ in %q", ErrEnv, s)
		}
		name := s[i+2 : i+2+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("%w: bad variable name %q in ${...} (want letters, digits and _, not starting with a digit)", ErrEnv, name)
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("%w: %s is not set (referenced as ${%s})", ErrEnv, name, name)
		}
		b.WriteString(v)
		s = s[i+2+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
