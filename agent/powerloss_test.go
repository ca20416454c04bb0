//go:build linux

package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/internal/powerfs"
	"github.com/bayagent/bayagent/agent/internal/selfexec"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/canbus"
)

const powerChildEnv = "BAYAGENT_AGENT_POWER_CHILD"

// TestPowerLossAgentChild is the subprocess of TestPowerLossAgent: the
// agent on the state directory $BAYAGENT_AGENT_POWER_CHILD, its uplink
// never started, taking job commands as fast as it can: a note to the open
// job (a new job when none is open), and after a few notes the close. It
// prints "note JOB TEXT" for every note answered stored and "closed JOB"
// for every close, until the power goes out under it.
func TestPowerLossAgentChild(t *testing.T) {
	dir := os.Getenv(powerChildEnv)
	if dir == "" {
		t.Skip("subprocess of TestPowerLossAgent")
	}
	fail := func(err error) {
		// After the cut every file-system operation fails: wait for the kill.
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
		time.Sleep(time.Hour)
	}
	a, err := agent.New(powerConfig(dir), agent.Deps{Version: "power-test", Hub: &canbus.MemHub{}})
	if err != nil {
		fail(err)
	}
	cmd := func(name string, args any) (map[string]any, error) {
		b, _ := json.Marshal(args)
		res, err := a.Command(context.Background(), name, b)
		if err != nil {
			return nil, err
		}
		m, _ := res.(map[string]any)
		return m, nil
	}
	for i := 0; ; i++ {
		text := fmt.Sprintf("note %d %s", i, randomID())
		res, err := cmd("add_note", map[string]any{"author": "T007", "text": text})
		var ue *uplink.Error
		if errors.As(err, &ue) && ue.Code == uplink.CodeNoOpenJob {
			if _, err := cmd("open_job", map[string]any{"job_id": "J-" + randomID(), "type": "repair", "plate": "浙A12345",
				"vin": "LFV2A21K8A4052691", "mileage_km": 1000, "complaint": "noise", "technician": "T007"}); err != nil {
				fail(err)
			}
			continue
		}
		if err != nil {
			fail(err)
		}
		id := res["job"].(string)
		fmt.Println("note", id, text)
		if i%7 == 6 {
			if _, err := cmd("close_job", map[string]any{
				"technician": "T007", "settlement_no": "S-1", "settle_date": "2026-03-14", "repair_date": "2026-03-14",
				"items": []map[string]any{{"name": "inspection", "working_hours": "0.5"}}, "parts": []any{},
			}); err != nil {
				fail(err)
			}
			fmt.Println("closed", id)
		}
	}
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func powerConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = device, shop, "bay1"
	cfg.Device.StateDir = filepath.Join(dir, "state")
	cfg.Device.KeyFile = filepath.Join(dir, "state", "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "state", "outbox.db")
	cfg.Vehicle.Interface = "mem:bay1"
	cfg.Uplink.Broker = "tcp://127.0.0.1:9"
	cfg.Uplink.AllowPlaintext = true
	return cfg
}

// powerNote is a note the agent answered stored.
type powerNote struct{ job, text string }

// TestPowerLossAgent cuts the power under the agent at a random
// file-system operation (powerfs keeps only what was fsynced), many times,
// while it stores job events. After every cut, on a copy of what survived:
// the outbox opens without being moved aside and passes bbolt's check;
// every note answered stored is a record and is in its job's file; every
// close answered is a closed job file; the agent starts on it, and then
// each job's file and its records agree (same events, none twice). At the
// end the whole chain verifies.
func TestPowerLossAgent(t *testing.T) {
	cycles := selfexec.Cycles(10)
	if testing.Short() {
		cycles = min(cycles, 3)
	}
	seed := mrand.Uint64()
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 3))
	fsys := powerfs.MountTest(t)
	var (
		notes    []powerNote
		closed   = map[string]bool{}
		records  int
		survived string
	)
	for c := range cycles {
		cmd := selfexec.Command("^TestPowerLossAgentChild$", powerChildEnv+"="+fsys.Dir())
		survived = fsys.Cycle(t, c, cmd, 1+rng.Int64N(600), 2*time.Minute, func(l string) bool {
			switch f := strings.SplitN(l, " ", 3); {
			case len(f) == 3 && f[0] == "note":
				notes = append(notes, powerNote{f[1], f[2]})
			case len(f) == 2 && f[0] == "closed":
				closed[f[1]] = true
			default:
				return false
			}
			return true
		})
		records = checkSurvivors(t, c, survived, notes, closed)
	}
	// The whole chain, signed by the key that survived.
	cfg := powerConfig(survived)
	key, err := devicekey.Load(cfg.Device.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	_, stream := exportRecords(t, cfg.Outbox.Path)
	rep := record.Verify(bytes.NewReader(stream), record.Keys{device: key.Public().(ed25519.PublicKey)})
	if !rep.OK() || rep.Devices[0].FirstSeq != 1 {
		t.Fatalf("the chain after %d power cuts:\n%s", cycles, rep)
	}
	fst := fsys.Stats()
	t.Logf("%d power cuts: %d notes and %d closes answered, %d records, none lost; %d file-system operations, %d fsyncs",
		fst.Cuts, len(notes), len(closed), records, fst.Ops, fst.Syncs)
	if selfexec.Soak() {
		fmt.Printf("SOAK TestPowerLossAgent: cycles=%d notes_stored=%d jobs_closed=%d records=%d lost=0 fs_ops=%d fsyncs=%d\n",
			fst.Cuts, len(notes), len(closed), records, fst.Ops, fst.Syncs)
	}
}

// checkSurvivors checks the state that survived a cut (a copy in dir) and
// returns the number of records.
func checkSurvivors(t *testing.T, c int, dir string, notes []powerNote, closed map[string]bool) int {
	t.Helper()
	cfg := powerConfig(dir)
	if m, _ := filepath.Glob(cfg.Outbox.Path + ".corrupt-*"); len(m) > 0 {
		t.Fatalf("cycle %d: a power cut corrupted the outbox: %v", c, m)
	}
	if _, err := os.Stat(cfg.Outbox.Path); errors.Is(err, os.ErrNotExist) {
		if len(notes) > 0 {
			t.Fatalf("cycle %d: the outbox is gone, with %d notes answered stored", c, len(notes))
		}
		return 0
	}
	o, err := outbox.Open(cfg.Outbox.Path, outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("cycle %d: the outbox does not open after the cut: %v", c, err)
	}
	if err := o.Check(); err != nil {
		o.Close()
		t.Fatalf("cycle %d: bbolt check: %v", c, err)
	}
	o.Close()

	// What was answered is on record, and in the job files. A closed job's
	// notes are in its closed file; an open one's in its open file.
	recs, _ := exportRecords(t, cfg.Outbox.Path)
	type jobRecs struct {
		notes  map[string]bool
		maxN   int
		closed bool
	}
	byJob := map[string]*jobRecs{}
	for _, r := range recs {
		if r.Job == "" {
			continue
		}
		jr := byJob[r.Job]
		if jr == nil {
			jr = &jobRecs{notes: map[string]bool{}}
			byJob[r.Job] = jr
		}
		var b struct {
			N    int    `json:"n"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		if b.N <= jr.maxN {
			t.Fatalf("cycle %d: job %s has event %d twice in its records (seq %d)", c, r.Job, b.N, r.Seq)
		}
		if b.N != jr.maxN+1 {
			t.Fatalf("cycle %d: job %s: event %d follows event %d (seq %d)", c, r.Job, b.N, jr.maxN, r.Seq)
		}
		jr.maxN = b.N
		jr.notes[b.Text] = r.Kind == record.KindNote || jr.notes[b.Text]
		jr.closed = jr.closed || r.Kind == record.KindJobClose
	}
	jobsDir := filepath.Join(cfg.Device.StateDir, "jobs")
	fileNotes := func(id string) (map[string]bool, bool) {
		got := map[string]bool{}
		if cj, err := job.ReadClosed(jobsDir, id); err == nil {
			for _, n := range cj.Notes {
				got[n.Text] = true
			}
			return got, true
		}
		b, err := os.ReadFile(filepath.Join(jobsDir, "open", "bay1.json"))
		if err != nil {
			return got, false
		}
		var j job.Job
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("cycle %d: the open job file does not decode: %v", c, err)
		}
		if j.ID != id {
			return got, false
		}
		for _, n := range j.Notes {
			got[n.Text] = true
		}
		return got, false
	}
	lastChecked := ""
	var inFile map[string]bool
	for i := len(notes) - 1; i >= 0 && i >= len(notes)-50; i-- { // the newest notes: older ones were checked before
		n := notes[i]
		if jr := byJob[n.job]; jr == nil || !jr.notes[n.text] {
			t.Fatalf("cycle %d: note %q of job %s was answered stored but is not on record", c, n.text, n.job)
		}
		if n.job != lastChecked {
			inFile, _ = fileNotes(n.job)
			lastChecked = n.job
		}
		if !inFile[n.text] {
			t.Fatalf("cycle %d: note %q of job %s was answered stored but is not in its job file", c, n.text, n.job)
		}
	}
	for id := range closed {
		if _, isClosed := fileNotes(id); !isClosed {
			t.Fatalf("cycle %d: job %s was answered closed but has no closed file", c, id)
		}
	}

	// The agent starts on what survived; then files and records agree.
	a, err := agent.New(cfg, agent.Deps{Version: "power-test", Hub: &canbus.MemHub{}})
	if err != nil {
		t.Fatalf("cycle %d: the agent does not start after the cut: %v", c, err)
	}
	a.Close()
	if b, err := os.ReadFile(filepath.Join(jobsDir, "open", "bay1.json")); err == nil {
		var j job.Job
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		jr := byJob[j.ID]
		if jr == nil || jr.closed || j.Events != jr.maxN {
			t.Fatalf("cycle %d: after the restart the open job %s has %d events; its records %+v", c, j.ID, j.Events, jr)
		}
	}
	for id, jr := range byJob {
		if !jr.closed {
			continue
		}
		cj, err := job.ReadClosed(jobsDir, id)
		if err != nil || cj.Events != jr.maxN {
			t.Fatalf("cycle %d: after the restart the closed job %s: %v, %d events; its records have %d", c, id, err, cj.Events, jr.maxN)
		}
	}
	return len(recs)
}
