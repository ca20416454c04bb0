package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

// TestOutboxCommands fills an outbox, acknowledges part of it (archived),
// then inspects it with the three actions and checks that the export,
// archive included, verifies.
func TestOutboxCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := record.NewSealer(record.SealerConfig{Key: key, Device: "bay-01", Shop: "330106000123456"})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(path, outbox.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := ob.Append(context.Background(), "note", "J-1", map[string]any{"text": "n", "i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ob.Ack(1); err != nil {
		t.Fatal(err)
	}
	// While the writer holds the file, the command says so instead of hanging.
	code, _, stderr := runCmd(t, "outbox", "--db", path, "--wait", "50ms", "stats")
	if code != exitError || !strings.Contains(stderr, "running agent") {
		t.Errorf("locked db: exit %d, stderr %q", code, stderr)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCmd(t, "outbox", "--db", path, "stats")
	var st outbox.Stats
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Depth != 2 || st.Archived != 1 || st.ArchiveFirstSeq != 1 || st.HeadSeq != 3 {
		t.Errorf("stats: exit %d, %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runCmd(t, "outbox", "--db", path, "ls")
	if code != 0 || strings.Count(stdout, "\n") != 3 || !strings.Contains(stdout, `"kind":"note"`) ||
		!strings.Contains(stdout, `{"seq":1,"state":"archived"`) || !strings.Contains(stdout, `{"seq":2,"state":"pending"`) {
		t.Errorf("ls: exit %d, %s", code, stdout)
	}
	code, stdout, _ = runCmd(t, "outbox", "--db", path, "export")
	if code != 0 {
		t.Fatalf("export: exit %d", code)
	}
	rep := record.Verify(bytes.NewReader([]byte(stdout)), record.Keys{"bay-01": key.Public().(ed25519.PublicKey)})
	if !rep.OK() || rep.Records != 3 {
		t.Errorf("exported stream does not verify:\n%s", rep)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"outbox", "stats"}, "--db is required"},
		{[]string{"outbox", "--db", path, "frob"}, "unknown action"},
		{[]string{"outbox", "--db", filepath.Join(t.TempDir(), "none.db"), "stats"}, "none.db"},
	} {
		if code, _, stderr := runCmd(t, tc.args...); code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}
