package yamlfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var errSyntax = errors.New("test: syntax")

type doc struct {
	Name  string   `yaml:"name"`
	Every Duration `yaml:"every"`
}

func (d *doc) Validate() error {
	if d.Name == "" {
		return errors.New("name: required")
	}
	return nil
}

func TestParse(t *testing.T) {
	d, err := Parse[doc](strings.NewReader("name: a\nevery: 1m30s\n"), errSyntax)
	if err != nil || d.Name != "a" || d.Every.D() != 90*time.Second || d.Every.String() != "1m30s" {
		t.Fatalf("Parse: %+v, %v", d, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty file"},
		{"name: a\nnmae: b\n", "field nmae not found"},
		{"name: a\n---\nname: b\n", "more than one YAML document"},
		{"name: a\nevery: 5\n", `line 2: want a duration such as 2s, 500ms or 10m (units ns, us, ms, s, m, h), got "5"`},
		{"name: a\nevery: [1s]\n", "line 2: want a duration such as 2s or 500ms, got a list"},
	} {
		_, err := Parse[doc](strings.NewReader(tc.in), errSyntax)
		if !errors.Is(err, errSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %v naming %q", tc.in, err, errSyntax, tc.want)
		}
	}
	if _, err := Parse[doc](strings.NewReader("every: 1s\n"), errSyntax); err == nil || errors.Is(err, errSyntax) {
		t.Errorf("a validation error: %v, want Validate's own", err)
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	d := doc{Name: "default", Every: Duration(time.Second)}
	if err := Decode(strings.NewReader("every: 2s\n"), &d); err != nil || d.Name != "default" || d.Every.D() != 2*time.Second {
		t.Fatalf("Decode: %+v, %v", d, err)
	}
	if err := Decode(strings.NewReader(""), &d); !errors.Is(err, ErrEmpty) || d.Name != "default" {
		t.Fatalf("empty: %+v, %v", d, err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.yaml")
	if err := os.WriteFile(path, []byte("name: x\nevery: fast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(r io.Reader) (*doc, error) { return Parse[doc](r, errSyntax) }
	if _, err := Load(path, parse); !errors.Is(err, errSyntax) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load: %v, want the path and %v", err, errSyntax)
	}
	if _, err := Load(path+".missing", parse); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
