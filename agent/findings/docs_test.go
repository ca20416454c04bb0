package findings_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/drivers/yamlfile"
)

// TestDocs: docs/precheck.md, the integrator's page on the pre-check,
// names every finding code and monitor, and its configuration example is
// the agent's default precheck section.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "precheck.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range findings.Codes() {
		if !strings.Contains(doc, "`"+string(c)+"`") {
			t.Errorf("docs/precheck.md does not name finding %s", c)
		}
	}
	for _, m := range findings.MonitorNames() {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("docs/precheck.md does not name monitor %s", m)
		}
	}
	_, block, ok := strings.Cut(doc, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok {
		t.Fatal("docs/precheck.md has no configuration example")
	}
	var got struct {
		Precheck config.Precheck `yaml:"precheck"`
	}
	if err := yamlfile.Decode(strings.NewReader(block), &got); err != nil {
		t.Fatalf("the example: %v", err)
	}
	if want := config.Default().Precheck; got.Precheck != want {
		t.Errorf("the example is not the default:\n got %+v\nwant %+v", got.Precheck, want)
	}
}
