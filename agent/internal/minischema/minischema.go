// Package minischema validates JSON against a subset of JSON Schema, for tests.
//
// The subset (draft 2020-12) is what the published schemas of docs/ use.
//
// Keywords: type (object, array, string, integer, number, boolean, null,
// or a list of them), properties, required, additionalProperties false,
// items, anyOf, const, enum, pattern, minimum, maximum, $ref to
// "#/$defs/<name>" and $defs. Any other keyword is an error, so a schema cannot grow
// constraints the tests do not check.
package minischema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Schema is a parsed schema document.
type Schema struct {
	root map[string]any
}

// Load reads the schema at path; its "$schema" must be draft 2020-12.
func Load(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse reads a schema document.
func Parse(b []byte) (*Schema, error) {
	var s map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("minischema: $schema is %v, want draft 2020-12", s["$schema"])
	}
	return &Schema{root: s}, nil
}

// ValidateJSON validates one JSON document.
func (s *Schema) ValidateJSON(doc []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	return s.validate(s.root, "$", v)
}

// Root returns the schema's top-level object (for tests that read its
// descriptions).
func (s *Schema) Root() map[string]any { return s.root }

func (s *Schema) validate(node map[string]any, path string, v any) error {
	keys := make([]string, 0, len(node))
	for k := range node {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kw := node[k]
		switch k {
		case "$schema", "$id", "title", "description", "properties", "$defs":
		case "$ref":
			name, ok := strings.CutPrefix(kw.(string), "#/$defs/")
			defs, _ := s.root["$defs"].(map[string]any)
			sub, found := defs[name].(map[string]any)
			if !ok || !found {
				return fmt.Errorf("%s: unresolved $ref %v", path, kw)
			}
			if err := s.validate(sub, path, v); err != nil {
				return err
			}
		case "type":
			if err := checkType(path, kw, v); err != nil {
				return err
			}
		case "const":
			if fmt.Sprint(kw) != fmt.Sprint(v) {
				return fmt.Errorf("%s: %v is not the constant %v", path, v, kw)
			}
		case "enum":
			found := false
			for _, e := range kw.([]any) {
				found = found || fmt.Sprint(e) == fmt.Sprint(v)
			}
			if !found {
				return fmt.Errorf("%s: %v is none of %v", path, v, kw)
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
			props, _ := node["properties"].(map[string]any)
			for name := range obj {
				if _, ok := props[name]; !ok {
					return fmt.Errorf("%s: property %q not allowed", path, name)
				}
			}
		case "anyOf":
			var errs []string
			for _, sub := range kw.([]any) {
				err := s.validate(sub.(map[string]any), path, v)
				if err == nil {
					errs = nil
					break
				}
				errs = append(errs, err.Error())
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s: matches none of anyOf: %s", path, strings.Join(errs, "; "))
			}
		case "items":
			arr, ok := v.([]any)
			if !ok {
				continue
			}
			for i, e := range arr {
				if err := s.validate(kw.(map[string]any), fmt.Sprintf("%s[%d]", path, i), e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("schema keyword %q at %s is not supported by the test validator", k, path)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		if obj, ok := v.(map[string]any); ok {
			names := make([]string, 0, len(props))
			for n := range props {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				if pv, ok := obj[name]; ok {
					if err := s.validate(props[name].(map[string]any), path+"."+name, pv); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func checkType(path string, kw, v any) error {
	var types []string
	switch t := kw.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	for _, typ := range types {
		ok := false
		switch typ {
		case "object":
			_, ok = v.(map[string]any)
		case "array":
			_, ok = v.([]any)
		case "string":
			_, ok = v.(string)
		case "boolean":
			_, ok = v.(bool)
		case "null":
			ok = v == nil
		case "number":
			_, ok = v.(json.Number)
		case "integer":
			if n, isNum := v.(json.Number); isNum {
				_, ok = new(big.Int).SetString(n.String(), 10)
			}
		default:
			return fmt.Errorf("%s: type %q not supported by the test validator", path, typ)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%s: %v is not of type %v", path, v, kw)
}
