package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
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
	// The configuration says where the outbox is.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("device:\n  id: bay-01\n  shop: \"330106000123456\"\n  state_dir: /var/lib/elsewhere\n"+
		"vehicle:\n  interface: can:can0\nuplink:\n  broker: ssl://b.example.org\n  username: ${NOT_SET_IN_TEST}\n"+
		"outbox:\n  path: "+path+"\n"), 0o600)
	env := filepath.Join(t.TempDir(), "bayagent.env")
	os.WriteFile(env, []byte("NOT_SET_IN_TEST=u\n"), 0o600)
	code, stdout, stderr = runCmd(t, "outbox", "--config", cfg, "--env-file", env, "stats")
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.HeadSeq != 3 {
		t.Errorf("stats by --config: exit %d, %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, "outbox", "--config", cfg, "stats"); code == 0 || !strings.Contains(stderr, "--env-file") {
		t.Errorf("a ${NAME} missing: exit %d, stderr %q", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"outbox", "--config", "/nonexistent/config.yaml", "stats"}, "or give the outbox file with --db"},
		{[]string{"outbox", "--db", path, "frob"}, "unknown action"},
		{[]string{"outbox", "--db", filepath.Join(t.TempDir(), "none.db"), "stats"}, "none.db"},
	} {
		if code, _, stderr := runCmd(t, tc.args...); code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}
