package record

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	s := testSealer(t, "bay-01")
	keys := Keys{"bay-01": s.PublicKey()}
	good := filepath.Join("..", "..", "testdata", "records", "chain-good.jsonl")
	bad := filepath.Join("..", "..", "testdata", "records", "chain-problems.jsonl")
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{"good file", []string{good}, "", 0, "OK: 7 lines"},
		{"problem file", []string{bad}, "", 1, "PROBLEMS FOUND"},
		{"json", []string{"-json", good}, "", 0, `"signatures_checked": true`},
		{"stdin", []string{"-"}, lines(chain(t, testSealer(t, "bay-01"), 2)...), 0, "OK: 2 lines"},
		{"no args", nil, "", 2, ""},
		{"two args", []string{good, bad}, "", 2, ""},
		{"missing file", []string{"/nonexistent/x"}, "", 2, ""},
		{"bad flag", []string{"-x", good}, "", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := VerifyCommand(tc.args, strings.NewReader(tc.stdin), &out, &errb, keys)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("code %d (want %d), out:\n%s\nerr:\n%s", code, tc.code, out.String(), errb.String())
			}
			if tc.name == "json" && !json.Valid(out.Bytes()) {
				t.Fatal("-json output is not JSON")
			}
		})
	}
}
