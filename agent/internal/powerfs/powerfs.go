//go:build linux

// Package powerfs is a FUSE file system for power-loss tests.
//
// It keeps in memory what was written but not yet fsynced, and loses it when
// the test cuts the power.
//
// # The durability model
//
// The model is what POSIX promises, not what a forgiving journal gives:
//
//   - A file's data, size and mode become durable when the file is fsynced
//     (fsync or fdatasync); until then, a power cut restores what the last
//     fsync saw (nothing, for a file never synced).
//   - A directory's entries (create, mkdir, rename, unlink, rmdir) become
//     durable when the directory itself is fsynced. A file created, written
//     and fsynced in a directory that is never fsynced is gone after the
//     cut; a rename that was not followed by an fsync of the directory is
//     undone.
//
// So a program survives the cuts only if it syncs what it relies on, in
// the right order: exactly what bbolt, the job files and the device key
// must do on an SD card.
//
// # A cut
//
// [FS.CutAfter] arms a cut at the n-th mutating operation (write, truncate,
// chmod, fsync, create, mkdir, rename, unlink, rmdir) from now: that
// operation and every later one fails with EIO, as on a box whose power
// went out, and [FS.Off] is closed. The test then kills the processes that
// used the mount (they would never have run on) and calls [FS.PowerOn],
// which unmounts (dropping the kernel's caches), throws away everything
// not durable, and mounts the durable state again. [FS.Period] runs one
// such powered period of a process; [FS.Cycle] is a test's whole cycle:
// the period, the check of what the process printed, and a copy of what
// survived.
//
// [FS.SetCapacity] bounds the data the file system holds, so that a test
// can fill the "disk" (ENOSPC) and free it again. [FS.Deny] makes opening a
// file fail with EACCES, which root cannot otherwise be shown.
//
// Mounting needs /dev/fuse and either root (the mount is made directly) or
// fusermount3 from the fuse3 package, which scripts/install-test-tools.sh
// installs. It works under qemu-user too (the FUSE protocol's structures
// have one layout on every architecture), so the power-loss tests also run
// in the arm and arm64 runs. go-fuse is held at v2.11.0: v2.12 does not
// build for 32-bit ARM (its splice package assigns syscall.Splice's int to
// an int64).
package powerfs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const pageSize = 4096

// inode is one file or directory of the model.
type inode struct {
	ino   uint64
	mode  uint32 // type and permission bits, as seen now
	smode uint32 // as of the last fsync
	mtime time.Time

	// Regular files: pages of pageSize bytes (absent = zeros). A page
	// not in dirty may be shared with spages and is copied before a write.
	pages  map[int64][]byte
	dirty  map[int64]struct{}
	size   int64
	spages map[int64][]byte
	ssize  int64

	// Directories.
	kids  map[string]*inode
	skids map[string]*inode
}

func (n *inode) isDir() bool { return n.mode&syscall.S_IFMT == syscall.S_IFDIR }

// FS is a mounted power-loss file system. Its methods are safe for
// concurrent use.
type FS struct {
	dir string

	mu       sync.Mutex
	root     *inode
	nextIno  uint64
	server   *fuse.Server
	dead     bool
	off      chan struct{}
	cutAt    int64 // operations left before the cut; 0 = not armed
	ops      int64 // mutating operations since Mount
	syncs    int64 // fsyncs since Mount
	cuts     int64
	capacity int64 // bytes; 0 = unbounded
	denied   map[*inode]bool
}

// ErrMount: the file system could not be mounted (no /dev/fuse, no
// permission, fusermount3 missing).
var ErrMount = errors.New("powerfs: cannot mount")

// Mount mounts an empty file system at dir, an existing empty directory.
// Unmount it with Unmount.
func Mount(dir string) (*FS, error) {
	f := &FS{dir: dir, nextIno: 2, off: make(chan struct{}), denied: map[*inode]bool{}}
	f.root = f.newInode(syscall.S_IFDIR | 0o755)
	f.root.ino = 1
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

// Dir returns the mount point.
func (f *FS) Dir() string { return f.dir }

func (f *FS) mount() error {
	zero := time.Duration(0)
	second := time.Second
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:      "powerfs",
			Name:        "powerfs",
			DirectMount: os.Geteuid() == 0,
			// Serve requests one at a time in arrival order: the model is
			// serial anyway, and a cut then falls between two operations.
			SingleThreaded: true,
			MaxWrite:       128 << 10,
			Debug:          os.Getenv("POWERFS_DEBUG") != "",
		},
		EntryTimeout:    &second,
		AttrTimeout:     &second,
		NegativeTimeout: &zero,
		NullPermissions: true,
	}
	srv, err := fs.Mount(f.dir, &node{fsys: f, m: f.root}, opts)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrMount, f.dir, err)
	}
	f.server = srv
	return nil
}

// Unmount unmounts the file system. Every process using it must have
// closed its files (or died) first.
func (f *FS) Unmount() error {
	f.mu.Lock()
	srv := f.server
	f.server = nil
	f.mu.Unlock()
	if srv == nil {
		return nil
	}
	var err error
	for range 50 { // the kernel may still be releasing a killed process's files
		if err = srv.Unmount(); err == nil {
			srv.Wait()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("powerfs: unmount %s: %w", f.dir, err)
}

// CutAfter arms a power cut at the n-th mutating operation from now
// (n >= 1). Off is closed when it happens.
func (f *FS) CutAfter(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutAt = max(n, 1)
}

// Cut cuts the power now.
func (f *FS) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutLocked()
}

func (f *FS) cutLocked() {
	if !f.dead {
		f.dead = true
		f.cuts++
		f.cutAt = 0
		close(f.off)
	}
}

// Off is closed once the power is cut (until PowerOn).
func (f *FS) Off() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.off
}

// PowerOn ends a cut (or simulates one first if the power is still on):
// it unmounts, throws away everything not durable and mounts the durable
// state again. The processes that used the mount must be dead.
func (f *FS) PowerOn() error {
	f.Cut()
	if err := f.Unmount(); err != nil {
		return err
	}
	f.mu.Lock()
	f.revert(f.root, map[*inode]bool{})
	f.dead = false
	f.off = make(chan struct{})
	f.mu.Unlock()
	return f.mount()
}

// revert restores the durable state of n and of what it durably holds.
func (f *FS) revert(n *inode, seen map[*inode]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	n.mode = n.smode
	if n.isDir() {
		n.kids = cloneMap(n.skids)
		for _, k := range n.kids {
			f.revert(k, seen)
		}
		return
	}
	n.pages = cloneMap(n.spages)
	n.dirty = map[int64]struct{}{}
	n.size = n.ssize
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// SetCapacity bounds the bytes of file data the file system holds (0:
// unbounded). A write or truncate beyond it fails with ENOSPC.
func (f *FS) SetCapacity(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.capacity = n
}

// Used returns the bytes of file data held now.
func (f *FS) Used() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usedLocked()
}

func (f *FS) usedLocked() int64 {
	var total int64
	seen := map[*inode]bool{}
	var walk func(n *inode)
	walk = func(n *inode) {
		if seen[n] {
			return
		}
		seen[n] = true
		total += n.size
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(f.root)
	return total
}

// Deny makes opening the file at rel (a path relative to the mount point)
// fail with EACCES, or undoes that when deny is false.
func (f *FS) Deny(rel string, deny bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.root
	for _, part := range strings.Split(path.Clean("/" + rel)[1:], "/") {
		if part == "" {
			continue
		}
		if n = n.kids[part]; n == nil {
			return fmt.Errorf("powerfs: %s: %w", rel, os.ErrNotExist)
		}
	}
	if deny {
		f.denied[n] = true
	} else {
		delete(f.denied, n)
	}
	return nil
}

// CopyTo copies the file system's current content (after PowerOn: what
// survived the cut) into the directory dst, from the model itself. A test
// checks the copy rather than the mount: a process must never mmap a file
// of a FUSE file system it serves itself (a page fault waiting for the
// server can deadlock with the server's own memory management), and
// bbolt maps its file.
func (f *FS) CopyTo(dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var walk func(n *inode, p string) error
	walk = func(n *inode, p string) error {
		if n.isDir() {
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			for name, k := range n.kids {
				if err := walk(k, filepath.Join(p, name)); err != nil {
					return err
				}
			}
			return nil
		}
		b := make([]byte, n.size)
		for pg, data := range n.pages {
			if off := pg * pageSize; off < n.size {
				copy(b[off:], data)
			}
		}
		return os.WriteFile(p, b, iofs.FileMode(n.mode&0o777)|0o200)
	}
	return walk(f.root, dst)
}

// Stats are counters since Mount.
type Stats struct {
	Ops   int64 // mutating operations
	Syncs int64 // fsyncs of files and directories
	Cuts  int64 // power cuts
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Ops: f.ops, Syncs: f.syncs, Cuts: f.cuts}
}

func (f *FS) newInode(mode uint32) *inode {
	n := &inode{ino: f.nextIno, mode: mode, smode: mode, mtime: time.Now()}
	f.nextIno++
	if n.isDir() {
		n.kids, n.skids = map[string]*inode{}, map[string]*inode{}
	} else {
		n.pages, n.spages, n.dirty = map[int64][]byte{}, map[int64][]byte{}, map[int64]struct{}{}
	}
	return n
}

// lock takes the model's lock for an operation; mutating operations count
// toward an armed cut. It returns EIO (with the lock released) when the
// power is off.
func (f *FS) lock(mutating bool) syscall.Errno {
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return syscall.EIO
	}
	if mutating {
		f.ops++
		if f.cutAt > 0 {
			f.cutAt--
			if f.cutAt == 0 {
				f.cutLocked()
				f.mu.Unlock()
				return syscall.EIO
			}
		}
	}
	return 0
}

// node is the go-fuse face of an inode.
type node struct {
	fs.Inode
	fsys *FS
	m    *inode
}

var (
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeReaddirer = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeReader    = (*node)(nil)
	_ fs.NodeWriter    = (*node)(nil)
	_ fs.NodeFsyncer   = (*node)(nil)
	_ fs.NodeFlusher   = (*node)(nil)
	_ fs.NodeStatfser  = (*node)(nil)
)

func (f *FS) attr(n *inode, out *fuse.Attr) {
	out.Ino = n.ino
	out.Mode = n.mode
	out.Size = uint64(n.size)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = pageSize
	out.Nlink = 1
	if n.isDir() {
		out.Nlink = 2
		out.Size = 4096
	}
	out.SetTimes(&n.mtime, &n.mtime, &n.mtime)
}

func (n *node) child(ctx context.Context, m *inode, out *fuse.EntryOut) *fs.Inode {
	n.fsys.attr(m, &out.Attr)
	return n.NewInode(ctx, &node{fsys: n.fsys, m: m}, fs.StableAttr{Mode: m.mode & syscall.S_IFMT, Ino: m.ino})
}

// Lookup implements fs.NodeLookuper.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.fsys.lock(false); e != 0 {
		return nil, e
	}
	defer n.fsys.mu.Unlock()
	c := n.m.kids[name]
	if c == nil {
		return nil, syscall.ENOENT
	}
	return n.child(ctx, c, out), 0
}

// Getattr implements fs.NodeGetattrer.
func (n *node) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := n.fsys.lock(false); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	n.fsys.attr(n.m, &out.Attr)
	return 0
}

// Setattr implements fs.NodeSetattrer: size (truncate) and mode; times and
// owners are accepted and ignored.
func (n *node) Setattr(_ context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.fsys.lock(true); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		if n.m.isDir() {
			return syscall.EISDIR
		}
		if e := n.fsys.truncate(n.m, int64(sz)); e != 0 {
			return e
		}
	}
	if mode, ok := in.GetMode(); ok {
		n.m.mode = n.m.mode&syscall.S_IFMT | mode&0o7777
	}
	n.m.mtime = time.Now()
	n.fsys.attr(n.m, &out.Attr)
	return 0
}

func (f *FS) truncate(m *inode, sz int64) syscall.Errno {
	if sz < 0 {
		return syscall.EINVAL
	}
	if f.capacity > 0 && sz > m.size && f.usedLocked()+sz-m.size > f.capacity {
		return syscall.ENOSPC
	}
	if sz < m.size {
		last := (sz + pageSize - 1) / pageSize // first page wholly beyond sz
		for p := range m.pages {
			if p >= last {
				delete(m.pages, p)
				m.dirty[p] = struct{}{}
			}
		}
		if off := sz % pageSize; off != 0 {
			p := sz / pageSize
			if pg := f.writable(m, p); pg != nil {
				clear(pg[off:])
			}
		}
	}
	m.size = sz
	return 0
}

// writable returns page p of m ready to be changed (copied if it may be
// shared with the durable state), or nil when the page is absent.
func (f *FS) writable(m *inode, p int64) []byte {
	pg, ok := m.pages[p]
	if !ok {
		return nil
	}
	if _, d := m.dirty[p]; !d {
		pg = slices.Clone(pg)
		m.pages[p] = pg
		m.dirty[p] = struct{}{}
	}
	return pg
}

// Readdir implements fs.NodeReaddirer.
func (n *node) Readdir(context.Context) (fs.DirStream, syscall.Errno) {
	if e := n.fsys.lock(false); e != 0 {
		return nil, e
	}
	defer n.fsys.mu.Unlock()
	names := make([]string, 0, len(n.m.kids))
	for name := range n.m.kids {
		names = append(names, name)
	}
	slices.Sort(names)
	ents := make([]fuse.DirEntry, len(names))
	for i, name := range names {
		c := n.m.kids[name]
		ents[i] = fuse.DirEntry{Name: name, Mode: c.mode & syscall.S_IFMT, Ino: c.ino}
	}
	return fs.NewListDirStream(ents), 0
}

func (f *FS) add(dir *inode, name string, mode uint32) (*inode, syscall.Errno) {
	if !dir.isDir() {
		return nil, syscall.ENOTDIR
	}
	if dir.kids[name] != nil {
		return nil, syscall.EEXIST
	}
	c := f.newInode(mode)
	dir.kids[name] = c
	dir.mtime = time.Now()
	return c, 0
}

// Mkdir implements fs.NodeMkdirer.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.fsys.lock(true); e != 0 {
		return nil, e
	}
	defer n.fsys.mu.Unlock()
	c, e := n.fsys.add(n.m, name, syscall.S_IFDIR|mode&0o7777)
	if e != 0 {
		return nil, e
	}
	return n.child(ctx, c, out), 0
}

// Create implements fs.NodeCreater.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := n.fsys.lock(true); e != 0 {
		return nil, nil, 0, e
	}
	defer n.fsys.mu.Unlock()
	c := n.m.kids[name]
	switch {
	case c != nil && flags&syscall.O_EXCL != 0:
		return nil, nil, 0, syscall.EEXIST
	case c != nil && c.isDir():
		return nil, nil, 0, syscall.EISDIR
	case c != nil:
		if flags&syscall.O_TRUNC != 0 {
			if e := n.fsys.truncate(c, 0); e != 0 {
				return nil, nil, 0, e
			}
		}
	default:
		var e syscall.Errno
		if c, e = n.fsys.add(n.m, name, syscall.S_IFREG|mode&0o7777); e != 0 {
			return nil, nil, 0, e
		}
	}
	return n.child(ctx, c, out), nil, 0, 0
}

// Unlink implements fs.NodeUnlinker.
func (n *node) Unlink(_ context.Context, name string) syscall.Errno {
	return n.remove(name, false)
}

// Rmdir implements fs.NodeRmdirer.
func (n *node) Rmdir(_ context.Context, name string) syscall.Errno {
	return n.remove(name, true)
}

// remove removes the child name: an empty directory when dir (Rmdir),
// anything else otherwise (Unlink).
func (n *node) remove(name string, dir bool) syscall.Errno {
	if e := n.fsys.lock(true); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	c := n.m.kids[name]
	switch {
	case c == nil:
		return syscall.ENOENT
	case c.isDir() && !dir:
		return syscall.EISDIR
	case !c.isDir() && dir:
		return syscall.ENOTDIR
	case len(c.kids) > 0:
		return syscall.ENOTEMPTY
	}
	delete(n.m.kids, name)
	n.m.mtime = time.Now()
	return 0
}

// Rename implements fs.NodeRenamer (plain renames and RENAME_NOREPLACE).
func (n *node) Rename(_ context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := n.fsys.lock(true); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	dst, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	const noReplace = 1 // RENAME_NOREPLACE
	if flags&^noReplace != 0 {
		return syscall.EINVAL
	}
	c := n.m.kids[name]
	if c == nil {
		return syscall.ENOENT
	}
	if old := dst.m.kids[newName]; old != nil {
		switch {
		case flags&noReplace != 0:
			return syscall.EEXIST
		case old.isDir() && !c.isDir():
			return syscall.EISDIR
		case !old.isDir() && c.isDir():
			return syscall.ENOTDIR
		case old.isDir() && len(old.kids) > 0:
			return syscall.ENOTEMPTY
		}
	}
	delete(n.m.kids, name)
	dst.m.kids[newName] = c
	now := time.Now()
	n.m.mtime, dst.m.mtime = now, now
	return 0
}

// Open implements fs.NodeOpener.
func (n *node) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	trunc := flags&syscall.O_TRUNC != 0
	if e := n.fsys.lock(trunc); e != 0 {
		return nil, 0, e
	}
	defer n.fsys.mu.Unlock()
	if n.fsys.denied[n.m] {
		return nil, 0, syscall.EACCES
	}
	if trunc {
		if e := n.fsys.truncate(n.m, 0); e != 0 {
			return nil, 0, e
		}
	}
	return nil, 0, 0
}

// Read implements fs.NodeReader.
func (n *node) Read(_ context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := n.fsys.lock(false); e != 0 {
		return nil, e
	}
	defer n.fsys.mu.Unlock()
	m := n.m
	if off >= m.size {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), m.size)
	buf := dest[:end-off]
	for pos := off; pos < end; {
		p, po := pos/pageSize, pos%pageSize
		k := min(pageSize-po, end-pos)
		if pg, ok := m.pages[p]; ok {
			copy(buf[pos-off:pos-off+k], pg[po:po+k])
		} else {
			clear(buf[pos-off : pos-off+k])
		}
		pos += k
	}
	return fuse.ReadResultData(buf), 0
}

// Write implements fs.NodeWriter.
func (n *node) Write(_ context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if e := n.fsys.lock(true); e != 0 {
		return 0, e
	}
	defer n.fsys.mu.Unlock()
	m := n.m
	end := off + int64(len(data))
	if f := n.fsys; f.capacity > 0 && end > m.size && f.usedLocked()+end-m.size > f.capacity {
		return 0, syscall.ENOSPC
	}
	for pos := off; pos < end; {
		p, po := pos/pageSize, pos%pageSize
		k := min(pageSize-po, end-pos)
		pg := n.fsys.writable(m, p)
		if pg == nil {
			pg = make([]byte, pageSize)
			m.pages[p] = pg
			m.dirty[p] = struct{}{}
		}
		copy(pg[po:po+k], data[pos-off:pos-off+k])
		pos += k
	}
	m.size = max(m.size, end)
	m.mtime = time.Now()
	return uint32(len(data)), 0
}

// Fsync implements fs.NodeFsyncer for files (fsync, fdatasync) and
// directories (fsync of a directory handle).
func (n *node) Fsync(context.Context, fs.FileHandle, uint32) syscall.Errno {
	if e := n.fsys.lock(true); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	n.fsys.syncs++
	m := n.m
	m.smode = m.mode
	if m.isDir() {
		m.skids = cloneMap(m.kids)
		return 0
	}
	for p := range m.dirty {
		if pg, ok := m.pages[p]; ok {
			m.spages[p] = pg
		} else {
			delete(m.spages, p)
		}
	}
	last := (m.size + pageSize - 1) / pageSize
	for p := range m.spages {
		if p >= last {
			delete(m.spages, p)
		}
	}
	clear(m.dirty)
	m.ssize = m.size
	return 0
}

// Flush implements fs.NodeFlusher (close): nothing becomes durable.
func (n *node) Flush(context.Context, fs.FileHandle) syscall.Errno { return 0 }

// Statfs implements fs.NodeStatfser.
func (n *node) Statfs(_ context.Context, out *fuse.StatfsOut) syscall.Errno {
	if e := n.fsys.lock(false); e != 0 {
		return e
	}
	defer n.fsys.mu.Unlock()
	capacity := n.fsys.capacity
	if capacity == 0 {
		capacity = 1 << 40
	}
	free := max(capacity-n.fsys.usedLocked(), 0)
	out.Bsize, out.Frsize = pageSize, pageSize
	out.Blocks = uint64(capacity / pageSize)
	out.Bfree = uint64(free / pageSize)
	out.Bavail = out.Bfree
	out.Files, out.Ffree = 1<<20, 1<<20
	out.NameLen = 255
	return 0
}
