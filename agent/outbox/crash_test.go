package outbox_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/bayagent/bayagent/agent/internal/selfexec"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

const crashChildEnv = "BAYAGENT_OUTBOX_CRASH_CHILD"

func crashSealer(t testing.TB) *record.Sealer {
	seed := sha256.Sum256([]byte("crash test key"))
	s, err := record.NewSealer(record.SealerConfig{Key: ed25519.NewKeyFromSeed(seed[:]), Device: "bay-crash", Shop: "330106000123456"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCrashChild is the subprocess of TestCrashSafety: it appends records
// from four goroutines forever, printing each seq once Append returned,
// until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("subprocess of TestCrashSafety")
	}
	o, err := outbox.Open(path, outbox.Options{Sealer: crashSealer(t)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r, err := o.Append(context.Background(), record.KindScan, "J-1", map[string]int{"g": g, "i": i})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(4)
				}
				mu.Lock()
				os.Stdout.WriteString(strconv.FormatUint(r.Seq, 10) + "\n")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashSafety kills an appending subprocess with SIGKILL at random
// moments, many times, and checks that every record whose Append returned
// survived, that the sequence is contiguous and that the chain verifies.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 30 subprocesses (make soak: $BAYAGENT_SOAK_CYCLES)")
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	path := filepath.Join(t.TempDir(), "outbox.db")
	printed := map[uint64]bool{}
	iterations := selfexec.Cycles(30)
	for it := 0; it < iterations; it++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		var stderr safeBuffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-exec the test binary (qemu-user without binfmt?): %v", err)
			}
			t.Fatal(err)
		}
		killAfter := rng.IntN(60) // 0: kill while the child starts up
		sc := bufio.NewScanner(out)
		n := 0
		if killAfter == 0 {
			cmd.Process.Kill()
		}
		for sc.Scan() {
			seq, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			printed[seq] = true
			n++
			if n == killAfter {
				cmd.Process.Kill() // SIGKILL; lines already written are still read
			}
		}
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("iteration %d: child did not die by the signal: %v\n%s", it, err, stderr.String())
		}
	}
	o, err := outbox.Open(path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen after crashes: %v", err)
	}
	defer o.Close()
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("a crash corrupted the database: %v", m)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("bbolt check after crashes: %v", err)
	}
	s := crashSealer(t)
	rep := verifyExport(t, o, s)
	if !rep.OK() || len(rep.Devices) != 1 || rep.Devices[0].FirstSeq != 1 {
		t.Fatalf("chain after crashes:\n%s", rep)
	}
	last := rep.Devices[0].LastSeq
	for seq := range printed {
		if seq > last {
			t.Errorf("seq %d was reported stored but is missing (last stored %d)", seq, last)
		}
	}
	st, _ := o.Stats()
	if st.HeadSeq != last || st.Depth != int64(last) {
		t.Fatalf("stats %+v, chain ends at %d", st, last)
	}
	t.Logf("%d iterations: %d records stored, %d acknowledged to the child before SIGKILL", iterations, last, len(printed))
	if selfexec.Soak() {
		fmt.Printf("SOAK TestCrashSafety: cycles=%d stored=%d reported_stored=%d lost=0\n", iterations, last, len(printed))
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
