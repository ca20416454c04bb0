//go:build linux

package powerfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/powerfs"
)

func syncPath(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", p, err)
	}
}

func write(t *testing.T, p, data string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func powerOn(t *testing.T, f *powerfs.FS) {
	t.Helper()
	if err := f.PowerOn(); err != nil {
		t.Fatal(err)
	}
}

// TestDurabilityModel checks the rules of the package doc on a real mount.
func TestDurabilityModel(t *testing.T) {
	f := powerfs.MountTest(t)
	d := f.Dir()
	write(t, filepath.Join(d, "synced"), "one", true)
	write(t, filepath.Join(d, "unsynced"), "two", false)
	if err := os.Mkdir(filepath.Join(d, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	syncPath(t, d) // the three entries are durable
	write(t, filepath.Join(d, "sub", "orphan"), "three", true)
	write(t, filepath.Join(d, "synced"), "ONE MORE", false) // not synced: the old content stays
	if err := os.Rename(filepath.Join(d, "unsynced"), filepath.Join(d, "renamed")); err != nil {
		t.Fatal(err)
	}
	powerOn(t, f)

	if s, ok := content(t, filepath.Join(d, "synced")); !ok || s != "one" {
		t.Errorf("synced file after the cut: %q, %v; want its fsynced content", s, ok)
	}
	if s, ok := content(t, filepath.Join(d, "unsynced")); !ok || s != "" {
		t.Errorf("unsynced file after the cut: %q, %v; want it present (directory synced) and empty (never fsynced)", s, ok)
	}
	if _, ok := content(t, filepath.Join(d, "renamed")); ok {
		t.Error("a rename not followed by an fsync of the directory survived the cut")
	}
	if _, ok := content(t, filepath.Join(d, "sub", "orphan")); ok {
		t.Error("a file in a directory never fsynced survived the cut")
	}

	// The safe way: temporary file, fsync, rename, fsync of the directory.
	tmp := filepath.Join(d, ".state.tmp")
	write(t, tmp, "safe", true)
	if err := os.Rename(tmp, filepath.Join(d, "state")); err != nil {
		t.Fatal(err)
	}
	syncPath(t, d)
	powerOn(t, f)
	if s, ok := content(t, filepath.Join(d, "state")); !ok || s != "safe" {
		t.Errorf("atomically written file after the cut: %q, %v", s, ok)
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"state", "sub", "synced", "unsynced"}; !slices.Equal(names, want) {
		t.Errorf("entries after the cuts: %q, want %q", names, want)
	}
}

// TestCutAfter checks that an armed cut fails that operation and all
// later ones with EIO and closes Off.
func TestCutAfter(t *testing.T) {
	f := powerfs.MountTest(t)
	p := filepath.Join(f.Dir(), "log")
	fl, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	if err := fl.Sync(); err != nil {
		t.Fatal(err)
	}
	syncPath(t, f.Dir())
	f.CutAfter(3)
	var errs []error
	for _, s := range []string{"a", "b", "c", "d"} {
		_, err := fl.WriteString(s)
		errs = append(errs, err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], syscall.EIO) || !errors.Is(errs[3], syscall.EIO) {
		t.Fatalf("writes around the cut: %v; want ok, ok, EIO, EIO", errs)
	}
	select {
	case <-f.Off():
	default:
		t.Fatal("Off not closed after the cut")
	}
	fl.Close()
	powerOn(t, f)
	if s, ok := content(t, p); !ok || s != "" {
		t.Errorf("after the cut: %q, %v; want the empty synced file", s, ok)
	}
	if st := f.Stats(); st.Cuts != 1 {
		t.Errorf("stats %+v: want 1 cut (PowerOn after a cut does not cut again)", st)
	}
}

func TestCapacityAndDeny(t *testing.T) {
	f := powerfs.MountTest(t)
	p := filepath.Join(f.Dir(), "big")
	f.SetCapacity(10000)
	fl, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Write(make([]byte, 8000)); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Write(make([]byte, 8000)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write beyond the capacity: %v, want ENOSPC", err)
	}
	fl.Close()
	f.SetCapacity(0)
	write(t, p, "small", true)
	if err := f.Deny("big", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(p); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("read of a denied file: %v, want EACCES", err)
	}
	if err := f.Deny("big", false); err != nil {
		t.Fatal(err)
	}
	if s, _ := content(t, p); s != "small" {
		t.Fatalf("after Deny(false): %q", s)
	}
}

// TestRemove: unlink removes anything but a directory, rmdir only an empty
// directory, each with the errno a real file system gives.
func TestRemove(t *testing.T) {
	f := powerfs.MountTest(t)
	dir := f.Dir()
	write(t, filepath.Join(dir, "file"), "x", false)
	for _, d := range []string{"empty", "full"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "full", "kid"), "x", false)
	for _, c := range []struct {
		op   func(string) error
		name string
		want error
	}{
		{syscall.Unlink, "missing", syscall.ENOENT},
		{syscall.Unlink, "empty", syscall.EISDIR},
		{syscall.Rmdir, "missing", syscall.ENOENT},
		{syscall.Rmdir, "file", syscall.ENOTDIR},
		{syscall.Rmdir, "full", syscall.ENOTEMPTY},
		{syscall.Unlink, "file", nil},
		{syscall.Rmdir, "empty", nil},
	} {
		if err := c.op(filepath.Join(dir, c.name)); !errors.Is(err, c.want) && err != c.want {
			t.Errorf("remove %s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, gone := range []string{"file", "empty"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after removing it: %v", gone, err)
		}
	}
}
