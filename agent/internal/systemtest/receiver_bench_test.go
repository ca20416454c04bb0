package systemtest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore/pgtest"
)

var rxN = flag.Int("rx.n", 10000, "records in the backlog of BenchmarkReceiver (spread over 5 devices)")
var rxDeadline = flag.Duration("rx.deadline", 10*time.Minute, "how long BenchmarkReceiver waits for a configuration")

const benchShop = "330106000123456"

// BenchmarkReceiver measures how many records per second a receiver takes
// from the broker, verifies (against the enrolled key: by signature or
// through the hash chain, see package receiver) and commits to its store, beside mosquitto_sub writing the same records to a
// file, in the same run against the same Mosquitto: one receiver on bbolt,
// one on PostgreSQL, and two receivers sharing the load ($share) and one
// PostgreSQL database.
//
// Each configuration takes the same backlog: 5 devices' records (about
// 450 bytes each) published with `mosquitto_pub -q 1 -l` while its
// consumers are away, queued by the broker in their persistent sessions
// (QoS 1); the clock runs from the consumers' start to the last record
// written (mosquitto_sub: its exit after -C n messages; receivers: every
// record stored). Each configuration starts with an empty store. Beside
// them, sig_each: the same records decoded and every one's own signature
// verified on every core, with no broker and no store: the ceiling of a
// receiver that verifies each signature. *-chained is the part of the
// records a configuration authenticated through the chain.
//
//	go test -run '^$' -bench BenchmarkReceiver -benchtime 2x ./agent/internal/systemtest -rx.n=20000
func BenchmarkReceiver(b *testing.B) {
	n := *rxN
	const devices = 5
	per := n / devices
	n = per * devices
	mosq := mosquittotest.Start(b, mosquittotest.Options{})
	pubBin := mosquittotest.Binary(b, "mosquitto_pub")
	subBin := mosquittotest.Binary(b, "mosquitto_sub")
	pg := pgtest.Start(b, pgtest.Options{})
	dir := b.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		b.Fatal(err)
	}
	// The backlog: one mosquitto_pub -l input file per device.
	var files []string
	body := map[string]any{"author": "T007", "text": strings.Repeat("checked the exhaust line ", 8)}
	for d := range devices {
		dev := fmt.Sprintf("bay-%02d", d+1)
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(devicekey.NewPublicInfo(dev, key.Public().(ed25519.PublicKey)))
		if err := os.WriteFile(filepath.Join(keys, dev+".key.pub.json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		s, err := record.NewSealer(record.SealerConfig{Key: key, Device: dev, Shop: benchShop})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		for range per {
			_, wire, err := s.Seal(record.KindNote, "", body)
			if err != nil {
				b.Fatal(err)
			}
			buf.Write(wire)
			buf.WriteByte('\n')
		}
		f := filepath.Join(dir, dev+".jsonl")
		if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	port := strconv.Itoa(mosquittotest.Port(mosq.PlainAddr))
	publish := func() {
		var wg sync.WaitGroup
		for i, f := range files {
			wg.Go(func() {
				cmd := exec.Command(pubBin, "-h", "127.0.0.1", "-p", port, "-q", "1", "-i", fmt.Sprintf("bench-pub-%d", i),
					"-t", fmt.Sprintf("bayagent/%s/bay-%02d/records", benchShop, i+1), "-l")
				in, err := os.Open(f)
				if err != nil {
					b.Error(err)
					return
				}
				defer in.Close()
				cmd.Stdin = in
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Errorf("mosquitto_pub: %v\n%s", err, out)
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
	// forget drops a client's persistent session, so that what is
	// published for the next configuration does not queue up in it.
	forget := func(id string) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mosq.PlainURL).SetClientID(id).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			b.Fatalf("forget %s: %v", id, tok.Error())
		}
		c.Disconnect(0)
	}

	// The baseline: mosquitto_sub -c (persistent session) at QoS 1,
	// every message a line of the file.
	subArgs := func(extra ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", port, "-q", "1", "-c", "-i", "bench-sub",
			"-t", "bayagent/+/+/records"}, extra...)
	}
	sub := func() time.Duration {
		if out, err := exec.Command(subBin, subArgs("-E")...).CombinedOutput(); err != nil {
			b.Fatalf("mosquitto_sub -E: %v\n%s", err, out)
		}
		publish()
		out, err := os.Create(filepath.Join(dir, "sub.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		cmd := exec.Command(subBin, subArgs("-C", strconv.Itoa(n))...)
		cmd.Stdout = out
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("mosquitto_sub: %v\n%s", err, stderr.String())
		}
		took := time.Since(start)
		if st, err := out.Stat(); err != nil || st.Size() < int64(n*400) {
			b.Fatalf("mosquitto_sub wrote %v bytes (%v)", st.Size(), err)
		}
		forget("bench-sub")
		return took
	}

	// rx runs k receivers on stores from open, sharing the load when k > 1.
	// minShare is the smallest part of a backlog one of two receivers took.
	minShare := 1.0
	// chained is the part of the records the receivers authenticated
	// through the chain (the rest by their own signature).
	rx := func(k int, open func() []store.Store, chained *float64) time.Duration {
		stores := open()
		defer func() {
			for _, s := range stores {
				s.Close()
			}
		}()
		mk := func(i int) *receiver.Receiver {
			m := receiver.MQTTOptions{Broker: mosq.PlainURL, ClientID: fmt.Sprintf("bench-rx-%d", i)}
			if k > 1 {
				m.ShareGroup = "bench"
			}
			r, err := receiver.New(receiver.Options{Store: stores[i], KeysDir: keys, MQTT: m, GapTimeout: time.Hour, Logger: benchLog})
			if err != nil {
				b.Fatal(err)
			}
			return r
		}
		run := func(rs []*receiver.Receiver) func() {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, r := range rs {
				wg.Go(func() {
					if err := r.Run(ctx); err != nil {
						b.Error(err)
					}
				})
			}
			return func() { cancel(); wg.Wait() }
		}
		// Make the sessions and their subscriptions, go away, let the
		// backlog queue up, come back with the clock running.
		var rs []*receiver.Receiver
		for i := range k {
			rs = append(rs, mk(i))
		}
		stop := run(rs)
		for _, r := range rs {
			<-r.Ready()
		}
		stop()
		publish()
		rs = rs[:0]
		for i := range k {
			rs = append(rs, mk(i))
		}
		start := time.Now()
		stop = run(rs)
		defer stop()
		stored := func() (sum uint64) {
			for _, r := range rs {
				sum += r.Stats().Stored
			}
			return sum
		}
		// The receiver signals nothing per record: poll its counters (a
		// benchmark, not a test: the poll bounds the measured time to
		// within 5 ms).
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(*rxDeadline)
		for stored() < uint64(n) {
			select {
			case <-tick.C:
			case <-deadline:
				b.Fatalf("%d receiver(s): %d of %d stored", k, stored(), n)
			}
		}
		took := time.Since(start)
		var bySig, byChain uint64
		for i, r := range rs {
			s := r.Stats()
			bySig, byChain = bySig+s.BySignature, byChain+s.ByChain
			if k > 1 && s.Stored == 0 || len(s.Rejected) > 0 {
				b.Fatalf("receiver %d of %d: %+v", i+1, k, s)
			}
			if k > 1 {
				minShare = min(minShare, float64(s.Stored)/float64(n))
			}
		}
		*chained = float64(byChain) / float64(bySig+byChain)
		if c, err := stores[0].Counts(context.Background()); err != nil || c.Records != int64(n) {
			b.Fatalf("store holds %d records (%v), want %d", c.Records, err, n)
		}
		stop()
		for i := range k {
			forget(fmt.Sprintf("bench-rx-%d", i))
		}
		return took
	}
	bolt := func() []store.Store {
		s, err := boltstore.Open(filepath.Join(b.TempDir(), "receiver.db"))
		if err != nil {
			b.Fatal(err)
		}
		return []store.Store{s}
	}
	postgres := func(k int) func() []store.Store {
		return func() []store.Store {
			dsn := pg.NewDatabase(b)
			var out []store.Store
			for range k {
				s, err := pgstore.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				out = append(out, s)
			}
			return out
		}
	}

	// Beside them: decoding the backlog and verifying every record's own
	// signature on every core, with no broker and no store (the ceiling of
	// a receiver that verifies each signature).
	var wires [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		wires = append(wires, bytes.Split(bytes.TrimSpace(data), []byte{'\n'})...)
	}
	pubs := map[string]ed25519.PublicKey{}
	for d := range devices {
		dev := fmt.Sprintf("bay-%02d", d+1)
		data, err := os.ReadFile(filepath.Join(keys, dev+".key.pub.json"))
		if err != nil {
			b.Fatal(err)
		}
		pub, _, err := devicekey.ParsePublic(data)
		if err != nil {
			b.Fatal(err)
		}
		pubs[dev] = pub
	}
	sigEach := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(wires); i += workers {
					r, err := record.Decode(wires[i])
					if err != nil || !ed25519.Verify(pubs[r.Device], r.Canonical(), r.Sig) {
						b.Errorf("record %d does not verify: %v", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}

	var tSub, tBolt, tPG, tPG2, tSig time.Duration
	var chBolt, chPG, chPG2 float64
	iters := 0
	for b.Loop() {
		iters++
		tSig += sigEach()
		tSub += sub()
		tBolt += rx(1, bolt, &chBolt)
		tPG += rx(1, postgres(1), &chPG)
		tPG2 += rx(2, postgres(2), &chPG2)
	}
	rate := func(d time.Duration) float64 { return float64(n*iters) / d.Seconds() }
	b.ReportMetric(rate(tSig), "sig_each_rec/s")
	b.ReportMetric(chBolt, "bolt-chained")
	b.ReportMetric(chPG, "pg-chained")
	b.ReportMetric(chPG2, "pg2-chained")
	b.ReportMetric(rate(tSub), "mosquitto_sub_rec/s")
	b.ReportMetric(rate(tBolt), "bolt_rec/s")
	b.ReportMetric(rate(tPG), "pg_rec/s")
	b.ReportMetric(rate(tPG2), "pg2_rec/s")
	b.ReportMetric(rate(tBolt)/rate(tSub), "bolt/sub")
	b.ReportMetric(rate(tPG)/rate(tSub), "pg/sub")
	b.ReportMetric(rate(tPG2)/rate(tPG), "pg2/pg")
	b.ReportMetric(minShare, "pg2-min-share")
}

// benchLog shows the receivers' warnings and errors only.
var benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
