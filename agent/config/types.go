package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// Duration is a time.Duration written as a Go duration string in the file:
// "2s", "500ms", "10m", "1h30m" (the one YAML duration type,
// yamlfile.Duration).
type Duration = yamlfile.Duration

// Size is a number of bytes, written in the file as an integer or as an
// integer with a unit: B, KB/MB/GB (powers of 1000) or KiB/MiB/GiB (powers
// of 1024), case-insensitive, optionally separated by a space: "64MiB",
// "1GB", "512 KiB", "1048576".
type Size int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"b", 1},
}

// ParseSize parses a size as the file may write it (see Size).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.name) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.name)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size such as 64MiB, 1GB or 1048576 (units B, KB, MB, GB, KiB, MiB, GiB), got %q", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(n * mult), nil
}

// String formats s with the largest binary unit that divides it ("64MiB").
func (s Size) String() string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes s with a unit (see String).
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads an integer or a size string.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as 64MiB, got a %s", yamlfile.KindName(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
