// Package pgtest starts a real PostgreSQL server for tests and benchmarks.
//
// It makes a new cluster (initdb) in a temporary directory, listening only on
// a Unix socket there, stopped and removed by t.Cleanup. It needs no system
// service and no configuration of the machine.
//
// The server binaries are looked up in PATH and /usr/lib/postgresql/*/bin.
// When they are missing, Start runs the repository's
// scripts/install-test-tools.sh postgresql once per test binary; if they
// are still missing the test fails when the environment variable CI is
// "true" and is skipped otherwise. PostgreSQL refuses to run as root: as
// root, the server runs as the "postgres" user (created by Debian's
// package), or "nobody".
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/testtool"

	"github.com/jackc/pgx/v5"
)

// Options configures a server. The zero value suits tests.
type Options struct {
	// Durable keeps fsync and synchronous commits on (benchmarks); tests
	// turn them off, since PostgreSQL's own durability is not under test.
	Durable bool
}

// Server is a running PostgreSQL server owned by one test.
type Server struct {
	t      testing.TB
	dir    string // socket directory and data/
	cmd    *exec.Cmd
	exited chan struct{}
	log    *logFile
	dbs    atomic.Int64
}

// binDir returns the directory holding initdb and postgres.
func binDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Binaries returns the directory of the PostgreSQL server binaries,
// installing them with the repository script when missing. It fails the
// test when CI=true and skips it otherwise if they cannot be found.
func Binaries(t testing.TB) string {
	t.Helper()
	return testtool.Need(t, "postgresql", "pgtest: the PostgreSQL server binaries (initdb, postgres)", binDir)
}

// runAs returns the credential to run the server with: nil unless root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

// Start initialises a new cluster and starts PostgreSQL on a Unix socket
// in a new temporary directory. It is stopped by t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binaries(t)
	cred, err := runAs()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// t.TempDir is private to root (0700): the server's user could not
	// reach it. A directory of our own, readable by all, is removed by
	// Cleanup.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := &Server{t: t, dir: dir, exited: make(chan struct{}), log: &logFile{}}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	args := []string{"-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "max_connections=100",
		"-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: start postgres: %v", err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("postgres log (%s):\n%s", dir, s.log.String())
		}
	})
	if err := s.waitReady(); err != nil {
		t.Fatalf("pgtest: %v\n%s", err, s.log.String())
	}
	return s
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", s.dir, db)
}

// waitReady connects until the server answers, with a bounded number of
// tries and a short growing pause, or fails when it exits.
func (s *Server) waitReady() error {
	pause := 10 * time.Millisecond
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if try == 100 {
			return fmt.Errorf("postgres does not accept connections in %s: %w", s.dir, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-s.exited:
			t.Stop()
			return errors.New("postgres exited during startup (see log)")
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// stop shuts the server down (SIGINT: fast shutdown; SIGKILL after 10 s).
func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// NewDatabase creates an empty database and returns its connection
// string (a libpq key=value string).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.dsn(name)
}

// logFile keeps the server's log output (the last 256 KiB).
type logFile struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 256<<10 {
		l.b.Reset()
		l.b.WriteString("[... earlier log dropped ...]\n")
	}
	l.b.Write(p)
	return len(p), nil
}

func (l *logFile) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
