package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
)

// maxDepth bounds the nesting of command arguments.
const maxDepth = 8

var decimalType = reflect.TypeFor[job.Decimal]()

// decodeStrict decodes one JSON object into v (a pointer to a struct)
// refusing what encoding/json lets through: unknown members (also those
// differing only in case), duplicate members, values of the wrong JSON type,
// integers out of range, invalid UTF-8, deep nesting and trailing data.
// Each error is a *check.FieldError wrapping ErrArgs that names the member by
// its JSON path (e.g. "items[2].name"). Empty input and null decode to the
// zero value.
func decodeStrict(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if !utf8.Valid(b) {
		return &check.FieldError{Field: "args", Problem: "must be valid UTF-8", Err: ErrArgs}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t := reflect.TypeOf(v).Elem()
	if err := walk(dec, t, "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &check.FieldError{Field: "args", Problem: "must be one JSON object without trailing data", Err: ErrArgs}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		// walk checked every member, so this is unexpected; still an error
		// of the arguments, not a crash.
		return &check.FieldError{Field: "args", Problem: err.Error(), Err: ErrArgs}
	}
	return nil
}

func argErr(path, format string, a ...any) error {
	if path == "" {
		path = "args"
	}
	return &check.FieldError{Field: path, Problem: fmt.Sprintf(format, a...), Err: ErrArgs}
}

func syntaxErr(path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return argErr("args", "is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return argErr("args", "is not valid JSON: unexpected end")
	}
	return argErr(path, "is not valid JSON: %v", err)
}

// walk reads one JSON value from dec and checks it against t.
func walk(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxDepth {
		return argErr(path, "is nested too deeply (more than %d levels)", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(path, err)
	}
	if tok == nil { // null: the zero value
		return nil
	}
	switch {
	case t == decimalType:
		switch tok.(type) {
		case string, json.Number:
			return nil
		}
		return argErr(path, "must be a decimal number such as 1.5, got %s", describe(tok))
	case t.Kind() == reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return argErr(path, "must be a JSON object, got %s", describe(tok))
		}
		fields := jsonFields(t)
		seen := make(map[string]bool)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return syntaxErr(path, err)
			}
			key := kt.(string) // object keys are strings
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			ft, ok := fields[key]
			if !ok {
				names := make([]string, 0, len(fields))
				for n := range fields {
					names = append(names, n)
				}
				slices.Sort(names)
				return argErr(sub, "is not a known argument (allowed: %s)", strings.Join(names, ", "))
			}
			if seen[key] {
				return argErr(sub, "appears twice")
			}
			seen[key] = true
			if err := walk(dec, ft, sub, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // '}'
		if err != nil {
			return syntaxErr(path, err)
		}
		return nil
	case t.Kind() == reflect.Slice:
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return argErr(path, "must be a JSON array, got %s", describe(tok))
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return syntaxErr(path, err)
		}
		return nil
	case t.Kind() == reflect.String:
		if _, ok := tok.(string); !ok {
			return argErr(path, "must be a string, got %s", describe(tok))
		}
	case t.Kind() == reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return argErr(path, "must be true or false, got %s", describe(tok))
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return argErr(path, "must be a whole number, got %s", describe(tok))
		}
		// int is 32 bits on arm: keep every integer argument in int32.
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			return argErr(path, "must be a whole number from %d to %d: %s", math.MinInt32, math.MaxInt32, check.Clip(string(n)))
		}
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			return argErr(path, "must be a whole number, got %s", describe(tok))
		}
		// Sequence numbers: exact in every JSON reader up to 2^53-1.
		if v, err := strconv.ParseUint(string(n), 10, 64); err != nil || v > record.MaxSeq {
			return argErr(path, "must be a whole number from 0 to %d: %s", uint64(record.MaxSeq), check.Clip(string(n)))
		}
	case t.Kind() == reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return argErr(path, "must be a number, got %s", describe(tok))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return argErr(path, "must be a finite number: %s", check.Clip(string(n)))
		}
	default:
		return argErr(path, "has an unsupported type %s", t)
	}
	return nil
}

func describe(tok json.Token) string {
	switch x := tok.(type) {
	case json.Delim:
		if x == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return fmt.Sprintf("the string %q", check.Clip(x))
	case json.Number:
		return "the number " + check.Clip(string(x))
	case bool:
		return strconv.FormatBool(x)
	}
	return "null"
}

// jsonFields maps the JSON member names of a struct to their types,
// flattening embedded structs as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}
