//go:build linux

package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/powerfs"
	"github.com/bayagent/bayagent/agent/internal/selfexec"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
)

const (
	powerChildEnv = "BAYAGENT_OUTBOX_POWER_CHILD"
	powerKeep     = 100 // records TestPowerLossChild keeps; older ones it acks
)

// TestPowerLossChild is the subprocess of TestPowerLossOutbox: it appends
// records from four goroutines, printing "stored SEQ" once Append
// returned, until the power goes out under it (its first error is printed
// as "error ..."; the parent accepts it only after the cut). Like the uplink, it removes
// records (Ack) as it goes, keeping the newest powerKeep: "acking SEQ"
// is printed before the records up to SEQ are removed.
func TestPowerLossChild(t *testing.T) {
	path := os.Getenv(powerChildEnv)
	if path == "" {
		t.Skip("subprocess of TestPowerLossOutbox")
	}
	report := func(err error) {
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
		select {} // wait for the SIGKILL
	}
	o, err := outbox.Open(path, outbox.Options{Sealer: crashSealer(t)})
	if err != nil {
		report(err)
	}
	st, err := o.Stats()
	if err != nil {
		report(err)
	}
	var mu sync.Mutex
	acked := st.FirstSeq - min(st.FirstSeq, 1) // records below FirstSeq are gone already
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				r, err := o.Append(context.Background(), record.KindNote, "J-1", map[string]int{"g": g, "i": i})
				mu.Lock()
				if err != nil {
					report(err)
				}
				fmt.Println("stored", r.Seq)
				var seqs []uint64
				if r.Seq > acked+2*powerKeep {
					for s := acked + 1; s <= r.Seq-powerKeep; s++ {
						seqs = append(seqs, s)
					}
					acked = r.Seq - powerKeep
					fmt.Println("acking", acked)
				}
				mu.Unlock()
				if len(seqs) > 0 {
					if _, err := o.Ack(seqs...); err != nil {
						mu.Lock()
						report(err)
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestPowerLossOutbox cuts the power under an appending process at a
// random file-system operation, many times (powerfs keeps only what was
// fsynced): every record whose Append returned must survive, the database
// must open again without being moved aside as corrupt, pass bbolt's
// check, and hold one contiguous, verifying chain.
func TestPowerLossOutbox(t *testing.T) {
	cycles := selfexec.Cycles(15)
	if testing.Short() {
		cycles = min(cycles, 4)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	fsys := powerfs.MountTest(t)
	path := filepath.Join(fsys.Dir(), "outbox.db")
	stored := map[uint64]bool{}
	var acking uint64 // records up to this seq may have been removed
	s := crashSealer(t)
	for c := range cycles {
		cmd := selfexec.Command("^TestPowerLossChild$", powerChildEnv+"="+path)
		survived := fsys.Cycle(t, c, cmd, 1+rng.Int64N(400), time.Minute, func(l string) bool {
			switch f := strings.Fields(l); {
			case len(f) == 2 && f[0] == "stored":
				seq, err := strconv.ParseUint(f[1], 10, 64)
				stored[seq] = true
				return err == nil
			case len(f) == 2 && f[0] == "acking":
				seq, err := strconv.ParseUint(f[1], 10, 64)
				acking = max(acking, seq)
				return err == nil
			}
			return false
		})
		copied := filepath.Join(survived, "outbox.db")
		if m, _ := filepath.Glob(copied + ".corrupt-*"); len(m) != 0 {
			t.Fatalf("cycle %d: a power cut corrupted the database: %v", c, m)
		}
		if _, err := os.Stat(copied); errors.Is(err, os.ErrNotExist) {
			if len(stored) > 0 {
				t.Fatalf("cycle %d: the database file is gone after the power cut, with the %d records reported stored", c, len(stored))
			}
			continue // cut before the database was created
		}
		o, err := outbox.Open(copied, outbox.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("cycle %d: reopen after the power cut: %v", c, err)
		}
		if err := o.Check(); err != nil {
			o.Close()
			t.Fatalf("cycle %d: bbolt check after the power cut: %v", c, err)
		}
		rep := verifyExport(t, o, s)
		st, _ := o.Stats()
		o.Close()
		if st.HeadSeq == 0 {
			if len(stored) > 0 {
				t.Fatalf("cycle %d: the database is empty, but %d records were reported stored", c, len(stored))
			}
			continue
		}
		if st.Depth == 0 {
			t.Fatalf("cycle %d: the outbox is empty (head %d): the newest records are never acked", c, st.HeadSeq)
		}
		if !rep.OK() || len(rep.Devices) != 1 || rep.Devices[0].FirstSeq > acking+1 || rep.Devices[0].LastSeq != st.HeadSeq {
			t.Fatalf("cycle %d: chain after the power cut (head %d, acked up to %d at most):\n%s", c, st.HeadSeq, acking, rep)
		}
		for seq := range stored {
			if seq > st.HeadSeq {
				t.Fatalf("cycle %d: seq %d was reported stored but is lost (the chain ends at %d)", c, seq, st.HeadSeq)
			}
		}
	}
	fst := fsys.Stats()
	t.Logf("%d power cuts: %d records reported stored, none lost; %d file-system operations, %d fsyncs", fst.Cuts, len(stored), fst.Ops, fst.Syncs)
	if selfexec.Soak() {
		fmt.Printf("SOAK TestPowerLossOutbox: cycles=%d stored=%d lost=0 fs_ops=%d fsyncs=%d\n", fst.Cuts, len(stored), fst.Ops, fst.Syncs)
	}
}
