package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

var drainN = flag.Int("drain.n", 10000, "records in the backlog of BenchmarkDrainBacklog (the issue's target is 100000)")

type nopCommander struct{}

func (nopCommander) Lane(string) string { return "" }

func (nopCommander) Command(context.Context, string, json.RawMessage) (any, error) {
	return nil, uplink.ErrUnknownCommand
}

// BenchmarkDrainBacklog drains a backlog of sealed records from a real
// outbox (bbolt) through the uplink to Mosquitto, the way the agent does
// after an outage, and in the same run sends the same records with
// `mosquitto_pub -q 1 -l` to the same broker. It reports both rates, their
// ratio, and the process's peak memory during the drain: VmHWM (which
// counts the outbox file's pages mapped by bbolt) and the peak of RssAnon
// (the heap and stacks), sampled every 20 ms.
//
//	go test -run '^$' -bench BenchmarkDrainBacklog -benchtime 1x ./agent -drain.n=100000
func BenchmarkDrainBacklog(b *testing.B) {
	n := *drainN
	br := mosquittotest.Start(b, mosquittotest.Options{})
	pubBin := mosquittotest.Binary(b, "mosquitto_pub")
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	var upTime, pubTime, upCPU, pubCPU time.Duration
	var peakAnon int64
	iter := 0
	for b.Loop() {
		iter++
		box, files := fillBacklog(b, key, n)
		u, err := uplink.New(uplink.Options{
			Broker: br.PlainURL, AllowPlaintext: true, Shop: "s1", Device: "dev-a",
			ClientID: fmt.Sprintf("drain-%d", iter),
		}, &queue{box: box}, nopCommander{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		sampling := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { peakAnon = max(peakAnon, samplePeak(sampling)) })
		start, cpu0 := time.Now(), selfCPU()
		go func() { done <- u.Run(ctx) }()
		// The uplink signals connection changes, not acks: poll its
		// counter (a benchmark, not a test: the poll only bounds the
		// measured time to within 5 ms).
		tick := time.NewTicker(5 * time.Millisecond)
		deadline := time.After(10 * time.Minute)
		for u.Stats().Acked < uint64(n) {
			select {
			case <-tick.C:
			case err := <-done:
				b.Fatalf("uplink stopped: %v", err)
			case <-deadline:
				b.Fatalf("drain stuck at %d of %d", u.Stats().Acked, n)
			}
		}
		tick.Stop()
		upTime += time.Since(start)
		upCPU += selfCPU() - cpu0
		close(sampling)
		wg.Wait()
		cancel()
		<-done
		if st, err := box.Stats(); err != nil || st.Depth != 0 {
			b.Fatalf("outbox after the drain: %+v, %v", st, err)
		}
		box.Close()

		for _, f := range files {
			in, err := os.Open(f)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(pubBin, "-h", "127.0.0.1", "-p", strconv.Itoa(mosquittotest.Port(br.PlainAddr)),
				"-q", "1", "-i", fmt.Sprintf("drain-pub-%d", iter), "-t", "bayagent/s1/dev-a/records", "-l")
			cmd.Stdin = in
			start = time.Now()
			out, err := cmd.CombinedOutput()
			pubTime += time.Since(start)
			in.Close()
			if err != nil {
				b.Fatalf("mosquitto_pub: %v\n%s", err, out)
			}
			pubCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
	}
	total := float64(n * iter)
	up, pub := total/upTime.Seconds(), total/pubTime.Seconds()
	b.ReportMetric(up, "agent_rec/s")
	b.ReportMetric(pub, "mosquitto_pub_rec/s")
	b.ReportMetric(up/pub, "ratio")
	// CPU time per record, which a loaded machine disturbs less than the
	// rates: the agent's (this process during the drain) and mosquitto_pub's.
	b.ReportMetric(float64(upCPU.Microseconds())/total, "agent-cpu-us/rec")
	b.ReportMetric(float64(pubCPU.Microseconds())/total, "mosquitto_pub-cpu-us/rec")
	b.ReportMetric(float64(procStatus("VmHWM"))/1024, "peak-rss-MB")
	b.ReportMetric(float64(peakAnon)/1024, "peak-anon-MB")
}

// fillBacklog stores n sealed records (about 450 bytes each) in a new
// outbox, and writes them as mosquitto_pub -l input files of at most
// 50,000 lines (mosquitto_pub 2.0.11 -l stops at the first message id that
// wraps around).
func fillBacklog(b *testing.B, key ed25519.PrivateKey, n int) (*outbox.Outbox, []string) {
	b.Helper()
	dir := b.TempDir()
	sealer, err := record.NewSealer(record.SealerConfig{Key: key, Device: "dev-a", Shop: "s1"})
	if err != nil {
		b.Fatal(err)
	}
	box, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{Sealer: sealer, MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	body := map[string]any{"author": "T007", "text": strings.Repeat("checked the exhaust line ", 8)}
	var wg sync.WaitGroup
	per := (n + 7) / 8
	for w := range 8 {
		wg.Go(func() {
			for i := w * per; i < min(n, (w+1)*per); i++ {
				if _, err := box.Append(context.Background(), "note", "J-1", body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	w := &lineSplitter{dir: dir, max: 50000}
	if err := box.Export(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	files := w.files
	// Measure the drain, not the filling: give the filling's memory back.
	runtime.GC()
	debug.FreeOSMemory()
	return box, files
}

// lineSplitter writes JSON lines into files of at most max lines.
type lineSplitter struct {
	dir   string
	max   int
	files []string
	f     *os.File
	w     *bufio.Writer
	lines int
}

func (s *lineSplitter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		if s.f == nil {
			f, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("records-%d.jsonl", len(s.files))))
			if err != nil {
				return 0, err
			}
			s.f, s.w, s.lines = f, bufio.NewWriter(f), 0
			s.files = append(s.files, f.Name())
		}
		line, after, found := bytes.Cut(rest, []byte{'\n'})
		s.w.Write(line)
		if !found {
			break
		}
		s.w.WriteByte('\n')
		rest = after
		if s.lines++; s.lines == s.max {
			if err := s.Close(); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

func (s *lineSplitter) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// samplePeak returns the largest RssAnon (kB) seen until stop is closed.
func samplePeak(stop <-chan struct{}) int64 {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	peak := procStatus("RssAnon")
	for {
		select {
		case <-stop:
			return max(peak, procStatus("RssAnon"))
		case <-t.C:
			peak = max(peak, procStatus("RssAnon"))
		}
	}
}

// procStatus reads a kB field of /proc/self/status (0 where there is none).
// selfCPU returns the user and system CPU time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}
