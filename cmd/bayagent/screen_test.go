package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestScreenPIN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "screen.pin")
	pin := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"screen", "pin", "--file", path}, args...), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, stderr := pin("123456\n"); code != exitUsage || !strings.Contains(stderr, "guessed first") {
		t.Fatalf("a trivial PIN: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a refused PIN wrote the file")
	}
	code, _, stderr := pin("418027\n")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "pbkdf2-sha256$") || strings.Contains(string(b), "418027") {
		t.Fatalf("PIN file %q %v", b, err)
	}
	code, stdout, _ := pin("", "--random")
	if code != exitOK || !regexp.MustCompile(`^[0-9]{6}\n$`).MatchString(stdout) {
		t.Fatalf("--random: exit %d, printed %q", code, stdout)
	}
	if c, _, _ := runCmd(t, "screen"); c != exitUsage {
		t.Errorf("screen without pin: exit %d", c)
	}
}
