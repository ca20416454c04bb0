// Package yamlfile reads the YAML files of the box and its simulators: strictly, one document each.
//
// One way of reading them for every kind (vehicle profiles, analyzer
// readings, the receiver's configuration; the agent's configuration walks
// the tree itself for its line-numbered errors but shares [Duration]): a
// key the Go type does not have is an error, so is a second document, and
// durations are written as Go writes them ("500ms", "2s", "10m").
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrEmpty: the input holds no YAML document.
var ErrEmpty = errors.New("empty file")

// Decode decodes the one YAML document of r into v, which may hold
// defaults. A key v has no field for is an error, and so is a second
// document; an empty input leaves v as it is and returns ErrEmpty.
func Decode(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document; one per file")
	}
	return nil
}

// Validator is a decoded value that checks itself.
type Validator[T any] interface {
	*T
	Validate() error
}

// Parse decodes r into a new T (Decode) and validates it. A decoding
// error, an empty input included, wraps errSyntax; a validation error is
// returned as Validate gives it.
func Parse[T any, P Validator[T]](r io.Reader, errSyntax error) (*T, error) {
	v := new(T)
	if err := Decode(r, v); err != nil {
		return nil, fmt.Errorf("%w: %w", errSyntax, err)
	}
	if err := P(v).Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// Load reads the file at path with parse, naming the file in the error.
func Load[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, err
	}
	v, err := parse(bytes.NewReader(b))
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Duration is a time.Duration written as a Go duration string: "2s",
// "500ms", "10m", "1h30m". A bare number is refused: its unit would be a
// guess.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as Go does ("2s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a Go duration string; its error is a *ValueError.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &ValueError{Line: n.Line, Msg: "want a duration such as 2s or 500ms, got a " + KindName(n)}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &ValueError{Line: n.Line, Msg: fmt.Sprintf("want a duration such as 2s, 500ms or 10m (units ns, us, ms, s, m, h), got %q", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// ValueError is a value of the wrong form at a line of the file.
type ValueError struct {
	Line int    // 1-based; 0 when unknown
	Msg  string // what is wrong and what is wanted
}

func (e *ValueError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// KindName names the kind of node n for an error message: "mapping",
// "list", "alias", "document" or "value".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	default:
		return "value"
	}
}
