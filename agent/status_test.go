package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestStatusDocumented: every member of the status message, the agent's
// (status.go) and the uplink's (uplink/run.go), is in the table of
// docs/commands.md's "The status topic", and the table lists no other.
func TestStatusDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "commands.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## The status topic\n")
	if !ok {
		t.Fatal("docs/commands.md has no section The status topic")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(sec, -1) {
		documented = append(documented, m[1])
	}
	var sent []string
	for _, src := range []struct{ file, pattern string }{
		{"status.go", `st\["([a-z_]+)"\]|"([a-z_]+)": a\.`},
		{filepath.Join("uplink", "run.go"), `m\["([a-z_]+)"\]|"([a-z_]+)": (?:state|"offline"|u\.opts|session|reason)`},
	} {
		b, err := os.ReadFile(src.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(src.pattern).FindAllStringSubmatch(string(b), -1) {
			for _, g := range m[1:] {
				if g != "" {
					sent = append(sent, g)
				}
			}
		}
	}
	// m["state"], m["device"], ... = ...: the members assigned together.
	b, _ := os.ReadFile(filepath.Join("uplink", "run.go"))
	for _, line := range regexp.MustCompile(`(?m)^\s*(m\["[a-z_]+"\](?:, m\["[a-z_]+"\])+) =`).FindAllStringSubmatch(string(b), -1) {
		for _, m := range regexp.MustCompile(`m\["([a-z_]+)"\]`).FindAllStringSubmatch(line[1], -1) {
			sent = append(sent, m[1])
		}
	}
	slices.Sort(sent)
	sent = slices.Compact(sent)
	for _, m := range sent {
		if !slices.Contains(documented, m) {
			t.Errorf("status member %q is sent but not documented in docs/commands.md", m)
		}
	}
	for _, m := range documented {
		if !slices.Contains(sent, m) {
			t.Errorf("docs/commands.md documents the status member %q, which nothing sends", m)
		}
	}
	if len(sent) < 20 {
		t.Errorf("found only %d status members in the sources: %v", len(sent), sent)
	}
}
