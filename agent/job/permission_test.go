//go:build linux

package job

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/powerfs"
)

// TestUnreadableJobFile is hole 3 of issue 12: a job file that cannot be
// read for its permissions is an error, not corruption. It is not moved
// aside, its bay is not freed, and its job id cannot be opened again. The
// state directory is on powerfs, whose Deny makes opening the file fail
// with EACCES as it would for the agent's user (root, running the tests,
// could read any file).
func TestUnreadableJobFile(t *testing.T) {
	f := powerfs.MountTest(t)
	dir := filepath.Join(f.Dir(), "jobs")
	m, _ := newManager(t, dir)
	if _, err := m.OpenJob(ctx, "b", repairOpening("J-1")); err != nil {
		t.Fatal(err)
	}
	if err := f.Deny("jobs/open/b.json", true); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{Emit: (&recorder{}).emit})
	if !errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with an unreadable job file: %v; want a permission error, not corruption", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, openDir))
	if len(ents) != 1 || ents[0].Name() != "b.json" {
		t.Fatalf("the open directory holds %v; the unreadable file must stay where it is", ents)
	}
	if err := f.Deny("jobs/open/b.json", false); err != nil {
		t.Fatal(err)
	}
	m2, _ := newManager(t, dir)
	if j, ok := m2.Current("b"); !ok || j.ID != "J-1" {
		t.Fatal("the job is not open again once its file is readable")
	}
	if _, err := m2.OpenJob(ctx, "c", repairOpening("J-1")); !errors.Is(err, ErrJobExists) {
		t.Fatalf("opening the same job id at another bay: %v, want ErrJobExists", err)
	}
}
