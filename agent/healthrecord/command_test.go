package healthrecord

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	c := buildExample(t, dir)
	want, err := os.ReadFile(exampleUpload)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []byte
		stderr string
	}{
		{"by id", []string{c.ID}, 0, want, ""},
		{"by file", []string{"-file", exampleJob}, 0, want, ""},
		{"no extension", []string{"-no-extension", c.ID}, 0, nil, ""},
		{"unknown id", []string{"J-none"}, 1, []byte{}, "unknown job"},
		{"missing file", []string{"-file", dir + "/nope.json"}, 1, []byte{}, "no such file"},
		{"no arguments", nil, 2, []byte{}, "usage"},
		{"both", []string{"-file", exampleJob, c.ID}, 2, []byte{}, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := ExportCommand(tt.args, &out, &errOut, dir, companyName)
			if code != tt.code {
				t.Fatalf("code %d, want %d; stderr %s", code, tt.code, errOut.String())
			}
			if tt.stdout != nil && !bytes.Equal(out.Bytes(), tt.stdout) {
				t.Errorf("stdout:\n%s", out.Bytes())
			}
			if tt.name == "no extension" && (out.Len() == 0 || bytes.Contains(out.Bytes(), []byte("x_bayagent"))) {
				t.Errorf("stdout:\n%s", out.Bytes())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}
}
