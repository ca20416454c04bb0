package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/internal/selfexec"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/canbus"
)

// crashChildEnv names the configuration file of the agent that
// TestCrashHelper runs as a subprocess of TestAgentCrash.
const crashChildEnv = "BAYAGENT_AGENT_CRASH_CHILD"

const (
	crashPrefix = "bayagent"
	crashShop   = "330106000123456"
	crashDevice = "bay-crash"

	crashIterations = 18                      // children killed with SIGKILL (make soak: $BAYAGENT_SOAK_CYCLES)
	crashMaxDelay   = 1200 * time.Millisecond // a child is killed 0 to this long after it started
	crashWindow     = 4                       // notes sent and not yet answered
	crashJobNotes   = 100                     // notes per job before it is closed (job.DefaultMaxEvents is 500)
	crashFinalNotes = 20                      // notes the last child stores before it is stopped gracefully
	crashProbeEvery = 200 * time.Millisecond  // see crashRun.drive
)

// TestCrashHelper is the subprocess of TestAgentCrash: the agent, as
// `bayagent run` runs it, with the configuration file named by
// $BAYAGENT_AGENT_CRASH_CHILD and no vehicle on its in-process bus. It
// runs until it is killed, or until its standard input ends (a graceful
// stop).
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("subprocess of TestAgentCrash")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(cfg.Log.NewHandler(os.Stderr))
	a, err := agent.New(cfg, agent.Deps{Version: "crash-test", Logger: log, Hub: &canbus.MemHub{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The parent closes our standard input to stop us gracefully; this
	// reader ends with the process.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAgentCrash kills the agent process with SIGKILL at random moments
// while it stores and publishes notes sent as commands, many times over,
// then lets a last agent drain its outbox and stops it gracefully. The
// record of every command answered ok (the agent answers once the record
// is durable: notes, job openings and closings) must have reached a
// persistent-session subscriber of the broker, and so must every record up
// to the last one the outbox sealed; the stream the subscriber received
// must verify with `bayagent verify`.
func TestAgentCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent as a subprocess many times")
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x6372617368))

	// Build the real bayagent command meanwhile.
	bin := filepath.Join(t.TempDir(), "bayagent")
	var buildErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		buildErr = goBuild(bin, "github.com/bayagent/bayagent/cmd/bayagent")
	}()
	t.Cleanup(func() { <-built })

	tp := uplink.DeviceTopics(crashPrefix, crashShop, crashDevice)
	broker := mosquittotest.Start(t, mosquittotest.Options{
		Prefix: crashPrefix, Devices: []mosquittotest.Device{{Shop: crashShop, ID: crashDevice}}, Persistence: true,
	})
	// The receiver of the health-record system: QoS 1 on a persistent
	// session, there before the first agent.
	recv := mosquittotest.Subscribe(t, broker.PlainURL, tp.Records, mosquittotest.SubOptions{QoS: 1, Session: "crash-receiver"})
	run := &crashRun{t: t, cmdr: agenttest.NewCommander(t, broker.PlainURL, tp), sent: map[string]string{},
		jobNotes: map[string]int{}, online: map[string]bool{}}

	state := t.TempDir()
	cfgPath := writeCrashConfig(t, broker, state)

	killedBeforeReady := 0
	iterations := selfexec.Cycles(crashIterations)
	for it := range iterations {
		c := startChild(t, cfgPath)
		delay := time.Duration(rng.Int64N(int64(crashMaxDelay)))
		ready := run.drive(c, time.After(delay), nil)
		if !ready {
			killedBeforeReady++
		}
		if err := c.wait(); !killedBySignal(err) {
			t.Fatalf("iteration %d: the agent did not die by SIGKILL: %v\n%s", it, err, c.stderr.tail())
		}
	}

	// The last agent stores a few more notes, then runs until every record
	// of a command answered ok has arrived, and stops gracefully.
	last := startChild(t, cfgPath)
	finalAcks := 0
	run.onNoteOK = func() { finalAcks++ }
	run.drive(last, nil, func() bool { return finalAcks >= crashFinalNotes })
	acked := run.acked()
	waitStored(t, recv, tp.Records, acked)
	last.stdin.Close()
	if err := last.wait(); err != nil {
		t.Fatalf("the last agent did not stop cleanly: %v\n%s", err, last.stderr.tail())
	}
	session := run.session
	run.cmdr.Wait(10*time.Second, "the last agent's offline status", func() bool {
		for _, s := range run.cmdr.Statuses() {
			if s.Session() == session && s.State() == "offline" {
				return true
			}
		}
		return false
	})
	for _, s := range run.cmdr.Statuses() {
		if s.Session() != session || s.State() != "offline" {
			continue
		}
		if d, ok := s.Number("outbox_depth"); !ok || d != 0 || s.String("reason") != "shutdown" {
			t.Errorf("the last agent's offline status: outbox_depth %v (%v), reason %q; want 0 after a graceful stop", d, ok, s.String("reason"))
		}
	}
	if p := run.cmdr.Problems(); len(p) > 0 {
		t.Errorf("bad replies or status messages: %q", p)
	}
	// Every record sealed, answered or not, arrives: up to the outbox's head.
	box, err := outbox.Open(filepath.Join(state, config.DefaultOutboxName), outbox.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := box.Stats()
	box.Close()
	if err != nil || st.Depth != 0 || st.HeadSeq == 0 {
		t.Fatalf("outbox after the graceful stop: %+v, %v; want records, none pending", st, err)
	}
	waitSeq(t, recv, tp.Records, st.HeadSeq)

	// The stream the receiver got, checked by the real verify command.
	stream := agenttest.Stream(recv.Messages(), tp.Records)
	file := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(file, stream, 0o600); err != nil {
		t.Fatal(err)
	}
	<-built
	if buildErr != nil {
		t.Fatalf("go build cmd/bayagent: %v", buildErr)
	}
	key := filepath.Join(state, "device.key.pub.json")
	var stdout, stderr bytes.Buffer
	verify := exec.Command(bin, "verify", "--json", "--key", key, file)
	verify.Stdout, verify.Stderr = &stdout, &stderr
	if err := verify.Run(); err != nil {
		t.Fatalf("bayagent verify --key %s %s: %v\n%s%s", key, file, err, stdout.String(), stderr.String())
	}
	var rep struct {
		Records           int  `json:"records"`
		SignaturesChecked bool `json:"signatures_checked"`
		Devices           []struct {
			Device     string `json:"device"`
			Records    int    `json:"records"`
			FirstSeq   uint64 `json:"first_seq"`
			LastSeq    uint64 `json:"last_seq"`
			Duplicates struct {
				Count int `json:"count"`
			} `json:"duplicates"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bayagent verify --json: %v\n%s", err, stdout.String())
	}
	if d := rep.Devices; !rep.SignaturesChecked || len(d) != 1 || d[0].Device != crashDevice || d[0].FirstSeq != 1 || d[0].LastSeq != st.HeadSeq {
		t.Fatalf("verify report: want the signed chain of %s from seq 1 to %d:\n%s", crashDevice, st.HeadSeq, stdout.String())
	}
	d := rep.Devices[0]
	t.Logf("%d agents killed (%d before they served commands), then one stopped gracefully; %d jobs; %d of %d notes, job openings and closings answered ok; "+
		"%d records (seq 1..%d) received %d times (%d duplicates)",
		iterations, killedBeforeReady, run.jobs, len(acked), len(run.sent), d.Records, d.LastSeq, rep.Records, d.Duplicates.Count)
	if selfexec.Soak() {
		fmt.Printf("SOAK TestAgentCrash: cycles=%d jobs=%d answered_ok=%d records=%d received=%d duplicates=%d lost=0\n",
			iterations, run.jobs, len(acked), d.Records, rep.Records, d.Duplicates.Count)
	}
}

// crashRun drives the agents of TestAgentCrash through commands: a job is
// kept open (a new one after crashJobNotes notes) and notes are sent to it,
// crashWindow at a time.
type crashRun struct {
	t    *testing.T
	cmdr *agenttest.Commander

	online   map[string]bool   // status sessions seen
	session  string            // the session of the current agent
	job      string            // the open job, "" for none
	jobs     int               // jobs opened (for the next job id)
	noteN    int               // notes sent (for the next note's text)
	jobNotes map[string]int    // notes sent per job
	sent     map[string]string // command id -> storedKey of the record it stores
	onNoteOK func()            // called for each note answered ok
}

// drive serves one agent until it exits. It kills the agent when kill
// fires (nil: never) and returns when the agent exited, or, when enough is
// not nil, once enough() holds and no command waits for its reply. It
// reports whether the agent served commands before it exited.
//
// The uplink publishes its "online" status before it subscribes to the
// command topic, and commands sent before that are dropped by the broker.
// So drive sends a harmless probe (live_stop) every crashProbeEvery until
// one is answered; only then does it send commands that change state.
func (r *crashRun) drive(c *child, kill <-chan time.Time, enough func() bool) (ready bool) {
	r.t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	var probe *time.Ticker
	var probeC <-chan time.Time
	probes := map[string]bool{}
	sendProbe := func() { probes[r.cmdr.Send("live_stop", map[string]any{})] = true }
	defer func() {
		if probe != nil {
			probe.Stop()
		}
	}()
	pending := map[string]string{} // command id -> "note", "close" or the job being opened
	seen := len(r.cmdr.Statuses())
	for {
		ch := r.cmdr.Changed()
		if st := r.cmdr.Statuses(); !ready && len(st) > seen {
			for _, s := range st[seen:] {
				if s.State() == "online" && !r.online[s.Session()] {
					// A new agent is connected: look for its answer.
					r.online[s.Session()] = true
					r.session, r.job = s.Session(), s.String("open_job")
					if probe == nil {
						probe = time.NewTicker(crashProbeEvery)
						probeC = probe.C
						sendProbe()
					}
				}
			}
			seen = len(st)
		}
		if !ready {
			for id := range probes {
				if _, ok := r.cmdr.Reply(id); ok {
					ready, probeC = true, nil
					probe.Stop()
				}
			}
		}
		if ready {
			for id, what := range pending {
				rep, ok := r.cmdr.Reply(id)
				if !ok {
					continue
				}
				delete(pending, id)
				if !rep.OK {
					r.t.Fatalf("command %s (%s) failed: %s\n%s", id, what, rep.Error, c.stderr.tail())
				}
				switch what {
				case "note":
					if r.onNoteOK != nil {
						r.onNoteOK()
					}
				case "close":
					r.job = ""
				default:
					r.job = what
				}
			}
			if enough != nil && enough() {
				if len(pending) == 0 {
					return ready
				}
			} else {
				r.send(pending)
			}
		}
		select {
		case <-ch:
		case <-probeC:
			sendProbe()
		case <-kill:
			if err := c.cmd.Process.Kill(); err != nil {
				r.t.Fatalf("kill the agent: %v", err)
			}
			kill = nil
		case <-c.done:
			return ready
		case <-deadline.C:
			r.t.Fatalf("the agent made no progress for 60 s (ready %v, %d commands unanswered)\n%s", ready, len(pending), c.stderr.tail())
		}
	}
}

// send sends what comes next: an open_job when no job is open, a
// close_job when the open job has had its notes, else notes up to the
// window. Opening and closing wait for the notes before them.
func (r *crashRun) send(pending map[string]string) {
	for _, what := range pending {
		if what != "note" {
			return
		}
	}
	switch {
	case r.job == "":
		if len(pending) == 0 {
			r.jobs++
			id := fmt.Sprintf("J-CRASH-%d", r.jobs)
			cmd := r.cmdr.Send("open_job", map[string]any{
				"job_id": id, "type": string(job.TypeRepair), "plate": "浙A0000" + fmt.Sprint(r.jobs%10), "vin": "LFV2A21K8A4052691", "mileage_km": 1000 + r.jobs,
				"complaint": "crash test", "technician": "T001",
			})
			pending[cmd] = id
			r.sent[cmd] = storedKey(record.KindJobOpen, id, "")
		}
	case r.jobNotes[r.job] >= crashJobNotes:
		if len(pending) == 0 {
			cmd := r.cmdr.Send("close_job", map[string]any{
				"technician": "T001", "settlement_no": "S-" + r.job, "settle_date": "2026-11-29", "repair_date": "2026-11-29",
				"items": []map[string]any{{"name": "inspection", "working_hours": "0.5"}},
				"parts": []map[string]any{},
			})
			pending[cmd] = "close"
			r.sent[cmd] = storedKey(record.KindJobClose, r.job, "")
		}
	default:
		for len(pending) < crashWindow {
			r.noteN++
			text := fmt.Sprintf("crash note %d", r.noteN)
			id := r.cmdr.Send("add_note", map[string]any{"author": "T001", "text": text})
			pending[id] = "note"
			r.sent[id] = storedKey(record.KindNote, r.job, text)
			r.jobNotes[r.job]++
		}
	}
}

// storedKey identifies the record a command stores: its kind, its job and,
// for a note, the note's text (unique in the test).
func storedKey(kind, job, text string) string { return kind + "|" + job + "|" + text }

// acked returns the storedKey of every record whose command was answered
// ok: the agent reported it stored.
func (r *crashRun) acked() map[string]bool {
	out := map[string]bool{}
	for id, rep := range r.cmdr.Replies() {
		if key, ok := r.sent[id]; ok && rep.OK {
			out[key] = true
		}
	}
	return out
}

// waitStored waits until the record of every storedKey in want has arrived
// on topic.
func waitStored(t *testing.T, recv *mosquittotest.Subscriber, topic string, want map[string]bool) {
	t.Helper()
	missing := make(map[string]bool, len(want))
	for k := range want {
		missing[k] = true
	}
	done := 0 // messages already looked at
	var bad error
	recv.WaitFor(30*time.Second, fmt.Sprintf("%d records reported stored", len(want)), func(msgs []mosquittotest.Message) bool {
		recs, err := agenttest.Records(msgs[done:], topic)
		if err != nil && bad == nil {
			bad = err
		}
		done = len(msgs)
		for _, rec := range recs {
			var b job.NoteBody
			if rec.Kind == record.KindNote && json.Unmarshal(rec.Body, &b) != nil {
				continue
			}
			delete(missing, storedKey(rec.Kind, rec.Job, b.Text))
		}
		return len(missing) == 0 || bad != nil
	})
	if bad != nil {
		t.Fatal(bad)
	}
}

// waitSeq waits until records up to seq have arrived on topic.
func waitSeq(t *testing.T, recv *mosquittotest.Subscriber, topic string, seq uint64) {
	t.Helper()
	done, highest := 0, uint64(0)
	var bad error
	recv.WaitFor(30*time.Second, fmt.Sprintf("record %d", seq), func(msgs []mosquittotest.Message) bool {
		recs, err := agenttest.Records(msgs[done:], topic)
		done = len(msgs)
		for _, r := range recs {
			highest = max(highest, r.Seq)
		}
		bad = err
		return highest >= seq || bad != nil
	})
	if bad != nil {
		t.Fatal(bad)
	}
}

// child is one agent process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before done is closed
}

func startChild(t *testing.T, cfgPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
	c := &child{cmd: cmd, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.ENOEXEC) {
			t.Skipf("cannot re-exec the test binary (qemu-user without binfmt?): %v", err)
		}
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits up to 30 s for the process to exit and returns cmd.Wait's
// result.
func (c *child) wait() error {
	select {
	case <-c.done:
		return c.err
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("did not exit within 30 s (killed): %v", c.err)
	}
}

func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// writeCrashConfig writes the agents' configuration file: their state
// directory persists across the crashes, the broker is the test's TLS
// listener with the device's client certificate.
func writeCrashConfig(t *testing.T, b *mosquittotest.Broker, state string) string {
	t.Helper()
	cert, key := b.ClientCert(crashDevice)
	yaml := fmt.Sprintf(`device:
  id: %s
  shop: "%s"
  bay: crash
  state_dir: %s
vehicle:
  interface: mem:crash
uplink:
  broker: %s
  topic_prefix: %s
  ca_file: %s
  cert_file: %s
  key_file: %s
log:
  level: info
`, crashDevice, crashShop, state, b.TLSURL, crashPrefix, b.CA.File, cert, key)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// goBuild builds pkg into the file out with the go command that runs the
// tests.
func goBuild(out, pkg string) error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		gocmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gocmd, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, msg)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > 2*w.max {
		w.b = append([]byte(nil), w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

// tail returns the last lines written, for a failure message.
func (w *tailBuffer) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(w.b)
	if len(s) > w.max {
		s = s[len(s)-w.max:]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 && len(w.b) > w.max {
		s = s[i+1:]
	}
	return "agent log (tail):\n" + s
}
