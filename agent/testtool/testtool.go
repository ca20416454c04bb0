// Package testtool gets the outside programs the tests run, installing them when they are missing.
//
// Mosquitto, PostgreSQL, Chromium and fuse3 are real parts the tests start
// themselves. When one is missing, [Need] (or [Install], for a part that is
// tried rather than looked up) runs the repository's install script once
// for it; when it is still missing the test fails under CI=true and is
// skipped otherwise ([Missing]), with what the script said.
package testtool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	installs = map[string]*install{}
)

type install struct {
	once sync.Once
	err  error
}

// Install runs scripts/install-test-tools.sh tool (mosquitto, postgresql,
// chromium, fuse, ...) once per process; later calls for the same tool
// return the first call's result. The error carries what the script
// printed.
func Install(tool string) error {
	mu.Lock()
	in := installs[tool]
	if in == nil {
		in = &install{}
		installs[tool] = in
	}
	mu.Unlock()
	in.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			in.err = err
			return
		}
		out, err := exec.Command("bash", filepath.Join(root, "scripts", "install-test-tools.sh"), tool).CombinedOutput()
		if err != nil {
			in.err = fmt.Errorf("scripts/install-test-tools.sh %s: %w\n%s", tool, err, out)
		}
	})
	return in.err
}

// Need returns what find finds (a program's path, a directory), after
// installing tool when find finds nothing the first time. When it still
// finds nothing, what is missing is reported with Missing.
func Need(t testing.TB, tool, what string, find func() string) string {
	t.Helper()
	if p := find(); p != "" {
		return p
	}
	err := Install(tool)
	if p := find(); p != "" {
		return p
	}
	msg := fmt.Sprintf("%s not found, and scripts/install-test-tools.sh %s did not install it", what, tool)
	if err != nil {
		msg += ": " + err.Error()
	}
	Missing(t, msg)
	return ""
}

// Missing reports a real part the test cannot have: under CI=true the
// test fails, elsewhere it is skipped.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RepoRoot returns the repository's top directory, found from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "install-test-tools.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/install-test-tools.sh not found above the working directory")
		}
		dir = parent
	}
}
