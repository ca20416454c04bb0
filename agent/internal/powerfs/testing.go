//go:build linux

package powerfs

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/testtool"
)

// MountTest mounts an empty file system on a new temporary directory for
// the test and unmounts it on cleanup. When mounting fails it installs
// fuse3 once with scripts/install-test-tools.sh and tries again; if that
// fails too, the test fails under CI=true and is skipped otherwise.
func MountTest(t testing.TB) *FS {
	t.Helper()
	dir := t.TempDir()
	f, err := Mount(dir)
	var installErr error
	if err != nil {
		installErr = testtool.Install("fuse")
		f, err = Mount(dir)
	}
	if err != nil {
		msg := "powerfs: " + err.Error() + " (needs /dev/fuse, and root or fusermount3 from fuse3)"
		if installErr != nil {
			msg += "; " + installErr.Error()
		}
		testtool.Missing(t, msg)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// Period runs one powered period of a power-loss test: it arms a cut after
// cutAfter operations, starts cmd (a process using the mount), hands each
// line the process prints on its standard output to line (with off true
// when the power was already off as the line was read: an error the
// process reports then is the cut's), and once the
// power is off kills the process (SIGKILL), reads what it printed before,
// and powers on again. It returns the process's standard error when the
// process exits before the cut or the cut does not come within timeout.
func (f *FS) Period(cmd *exec.Cmd, cutAfter int64, timeout time.Duration, line func(l string, off bool)) error {
	var stderr tail
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	f.CutAfter(cutAfter)
	if err := cmd.Start(); err != nil {
		f.Cut()
		return errors.Join(err, f.PowerOn())
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	off := f.Off()
	var failure error
	for failure == nil && off != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				failure = fmt.Errorf("powerfs: the process exited before the power cut: %s", stderr.String())
				break
			}
			line(l, false)
		case <-off:
			off = nil
		case <-timer.C:
			failure = fmt.Errorf("powerfs: no power cut within %v (%d operations armed): %s", timeout, cutAfter, stderr.String())
		}
	}
	f.Cut()
	_ = cmd.Process.Kill()
	for l := range lines {
		line(l, true)
	}
	_ = cmd.Wait()
	return errors.Join(failure, f.PowerOn())
}

// Cycle is cycle c of a power-loss test: it runs cmd for one Period and
// hands each line the process prints to line, which reports whether it
// understood it. Cycle fails the test when Period fails or a line was not
// understood (but for an "error ..." line read once the power was off:
// that error is the cut's). It returns a new temporary directory holding
// what survived the cut (see CopyTo).
func (f *FS) Cycle(t testing.TB, c int, cmd *exec.Cmd, cutAfter int64, timeout time.Duration, line func(l string) bool) (survived string) {
	t.Helper()
	var problems []string
	err := f.Period(cmd, cutAfter, timeout, func(l string, off bool) {
		if !line(l) && !(off && strings.HasPrefix(l, "error ")) {
			problems = append(problems, l)
		}
	})
	if err != nil {
		t.Fatalf("cycle %d: %v", c, err)
	}
	if len(problems) > 0 {
		t.Fatalf("cycle %d: the process said %q", c, problems)
	}
	survived = t.TempDir()
	if err := f.CopyTo(survived); err != nil {
		t.Fatal(err)
	}
	return survived
}

// tail keeps the last 16 KiB written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > 32<<10 {
		w.b = append([]byte(nil), w.b[len(w.b)-16<<10:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
