package receiver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/boxtest"
	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

const (
	shop        = "330106000123456"
	companyName = "杭州西湖汽车维修有限公司"
	password    = "pw-330106"
	vin         = "LFV2A21K8A4052691"
)

func newBox(t *testing.T, device string) *boxtest.Box { return newBoxArchive(t, device, 0) }

func newBoxArchive(t *testing.T, device string, archive int64) *boxtest.Box {
	return boxtest.New(t, boxtest.Options{Shop: shop, Device: device, ArchiveMaxBytes: archive,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
}

// rig is a broker, a provincial simulator and a receiver on a bbolt
// store.
type rig struct {
	t      *testing.T
	broker *embedbroker.Broker
	sim    *provsim.Sim
	st     store.Store
	rx     *receiver.Receiver
	http   *httptest.Server
	keys   string
	opts   receiver.Options
	cancel context.CancelFunc
	done   chan error
}

func newRig(t *testing.T) *rig {
	t.Helper()
	brk, err := embedbroker.Start(embedbroker.Options{Plain: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(brk.Close)
	sim := provsim.New(provsim.Options{Companies: []provsim.Company{{Code: shop, Password: password, Name: companyName}}})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	up, err := upload.NewShared(upload.Options{
		BaseURL: srv.URL + "/restservices/lcipprodatarest", Client: srv.Client(),
		Company: func(s string) (upload.Company, error) { return upload.Company{Code: s, Password: password}, nil },
	}, healthrecord.Shared{OmitExtension: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, broker: brk, sim: sim, st: st, keys: t.TempDir()}
	r.opts = receiver.Options{
		Store: st, KeysDir: r.keys, Uploader: up,
		MQTT:        receiver.MQTTOptions{Broker: brk.PlainURL(), ClientID: "rx-test"},
		CompanyName: func(s string) (string, bool) { return companyName, s == shop },
		GapTimeout:  300 * time.Millisecond, ResendInterval: 300 * time.Millisecond, WalkInterval: 20 * time.Millisecond,
		SweepInterval: 200 * time.Millisecond, UploadPoll: 50 * time.Millisecond, UploadBackoffMin: 50 * time.Millisecond,
		UploadBackoffMax: 200 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	return r
}

func (r *rig) start() {
	r.t.Helper()
	rx, err := receiver.New(r.opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.rx = rx
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- rx.Run(ctx) }()
	select {
	case <-rx.Ready():
	case err := <-r.done:
		r.cancel = nil
		r.t.Fatalf("receiver stopped: %v", err)
	}
	r.http = httptest.NewServer(rx.Handler())
	r.t.Cleanup(func() {
		r.http.Close()
		r.stop()
	})
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("receiver Run: %v", err)
		}
		r.cancel = nil
	}
}

func (r *rig) get(path string, v any) int {
	r.t.Helper()
	resp, err := http.Get(r.http.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			r.t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func (r *rig) device(dev string) receiver.DeviceStatus {
	var s receiver.DeviceStatus
	r.get("/devices/"+dev, &s)
	return s
}

func (r *rig) metrics() string {
	resp, err := http.Get(r.http.URL + "/metrics")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestReceiveVerifyUpload: a box's records arrive, are verified and
// stored once, the chain is complete, and the closed job reaches the
// provincial simulator; a token expiring on the way is renewed.
func TestReceiveVerifyUpload(t *testing.T) {
	r := newRig(t)
	b := newBox(t, "bay-01")
	b.WriteKeyFile(r.keys)
	r.start()
	b.Start(r.broker.PlainURL(), "")
	b.Notes(5)
	b.RepairJob("J-1", 1)
	b.Notes(2)
	boxtest.Eventually(t, 20*time.Second, "the job uploaded", func() bool {
		j, ok, _ := r.st.Job(context.Background(), "bay-01", "J-1")
		return ok && j.State == store.JobUploaded
	})
	// The upload can overtake the verification of the last records: wait
	// for the chain to be verified through the last one.
	boxtest.Eventually(t, 20*time.Second, "the chain verified", func() bool {
		s := r.device("bay-01")
		return s.Stored == 10 && s.VerifiedThrough == 10
	})
	s := r.device("bay-01")
	if s.Stored != 10 || !s.Complete || s.VerifiedThrough != 10 || s.BreakCount != 0 || len(s.Gaps) != 0 {
		t.Fatalf("device status %+v", s)
	}
	var js []store.Job
	if r.get("/jobs/J-1", &js) != http.StatusOK || len(js) != 1 || !strings.Contains(js[0].Reply, "新增成功") || js[0].Attempts != 1 {
		t.Fatalf("job status %+v", js)
	}
	up := r.sim.Uploads()
	if len(up) != 1 || up[0].Key != "JS-J-1" {
		t.Fatalf("uploads %+v", up)
	}
	// A second job after the token expired: renewed, uploaded.
	r.sim.ExpireTokens()
	b.RepairJob("J-2", 1)
	boxtest.Eventually(t, 20*time.Second, "J-2 uploaded", func() bool {
		j, _, _ := r.st.Job(context.Background(), "bay-01", "J-2")
		return j.State == store.JobUploaded
	})
	if c := r.sim.Counts(); c.Tokens != 2 || c.TokenRefusals != 1 {
		t.Fatalf("simulator counts %+v", c)
	}
	m := r.metrics()
	for _, want := range []string{"bayreceiver_records_verified_total 13", `bayreceiver_uploads{state="uploaded"} 2`,
		"bayreceiver_gaps_missing_records 0", `bayreceiver_records_rejected_total{reason="bad_signature"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	if code := r.get("/devices/nope", nil); code != http.StatusNotFound {
		t.Errorf("unknown device: HTTP %d", code)
	}
}

// TestQuarantine: forged, edited, malformed, misplaced, unknown and
// conflicting records are kept aside with their reasons, never stored.
func TestQuarantine(t *testing.T) {
	r := newRig(t)
	good := newBox(t, "bay-01")
	good.WriteKeyFile(r.keys)
	r.start()
	good.Notes(2)
	recs, _ := good.Box.Range(1, 2)
	r1, _ := record.Decode(recs[0].Data)
	// Forged: a record signed by another key.
	_, other, _ := ed25519.GenerateKey(nil)
	forger, _ := record.NewSealer(record.SealerConfig{Key: other, Device: "bay-01", Shop: shop})
	_, forged, _, _ := forger.SealNext(record.Head{Seq: 2, Hash: r1.Hash()}, record.KindNote, "", map[string]string{"text": "forged"})
	// Edited: a real record with its body changed.
	edited := strings.Replace(string(recs[1].Data), `note 1`, `note X`, 1)
	// Conflict: the real device signs another record for seq 1.
	stranger := newBox(t, "bay-77") // no key enrolled
	stranger.Notes(1)
	strangerRec, _ := stranger.Box.Range(1, 1)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.broker.PlainURL()).SetClientID("injector"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(0)
	pub := func(topic string, payload []byte) {
		if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	topic := func(dev string) string { return uplink.DeviceTopics(uplink.DefaultPrefix, shop, dev).Records }
	pub(topic("bay-01"), recs[0].Data)
	pub(topic("bay-01"), recs[0].Data) // a duplicate: fine
	pub(topic("bay-01"), forged)
	pub(topic("bay-01"), []byte(edited))
	pub(topic("bay-01"), []byte(`{"schema":1,"device":"bay-01"`))
	pub(topic("bay-02"), recs[1].Data) // another device's topic
	pub(topic("bay-77"), strangerRec[0].Data)
	// Conflict: the device's own key signs another record for seq 1 (a
	// device that reused a sequence number).
	_, conflict, _, _ := good.Sealer.SealNext(record.Head{}, record.KindNote, "", map[string]string{"text": "another first record"})
	pub(topic("bay-01"), conflict)
	boxtest.Eventually(t, 10*time.Second, "six quarantined", func() bool {
		q, _ := r.st.QuarantinedRecords(context.Background(), "", 100)
		return len(q) == 6
	})
	q, _ := r.st.QuarantinedRecords(context.Background(), "", 100)
	reasons := map[string]int{}
	for _, e := range q {
		reasons[e.Reason]++
	}
	want := map[string]int{store.ReasonBadSignature: 2, store.ReasonMalformed: 1, store.ReasonWrongTopic: 1, store.ReasonUnknownDevice: 1, store.ReasonConflict: 1}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("reasons %v, want %v", reasons, want)
	}
	if n, _ := r.st.StoredCount(context.Background(), "bay-01"); n != 1 {
		t.Fatalf("%d records of bay-01 stored, want the one genuine record", n)
	}
	if st := r.rx.Stats(); st.Duplicates != 1 || st.Stored != 1 {
		t.Fatalf("stats %+v", st)
	}
	var view []receiver.QuarantineView
	r.get("/quarantine?device=bay-01", &view)
	// Batches are committed two at a time, so the order of the list is
	// the order they were stored in, not quite the order they came in.
	i := slices.IndexFunc(view, func(v receiver.QuarantineView) bool { return v.Reason == store.ReasonConflict })
	if len(view) != 5 || i < 0 || view[i].Topic != topic("bay-01") || view[i].Seq != 1 {
		t.Fatalf("GET /quarantine?device=bay-01: %+v", view)
	}
	if !strings.Contains(r.metrics(), `bayreceiver_store_quarantined{reason="bad_signature"} 2`) {
		t.Errorf("metrics:\n%s", r.metrics())
	}
}

// TestResendFillsGaps: records the broker acknowledged to the box but
// never delivered to the receiver (it had no session yet: as if the broker
// lost them) are found missing, asked for with resend, and come back from
// the box's archive; the job among them is uploaded.
func TestResendFillsGaps(t *testing.T) {
	r := newRig(t)
	b := newBox(t, "bay-01")
	b.WriteKeyFile(r.keys)
	b.Start(r.broker.PlainURL(), "")
	b.Notes(3)
	b.RepairJob("J-1", 1)         // seqs 4-6
	b.WaitAcked(20 * time.Second) // delivered to nobody
	r.opts.MQTT.CleanSession = true
	r.start()
	b.Notes(2) // 7-8 arrive: 1-6 are a gap
	boxtest.Eventually(t, 20*time.Second, "the chain complete", func() bool {
		s := r.device("bay-01")
		return s.Complete && s.VerifiedThrough == 8
	})
	boxtest.Eventually(t, 20*time.Second, "J-1 uploaded", func() bool {
		j, _, _ := r.st.Job(context.Background(), "bay-01", "J-1")
		return j.State == store.JobUploaded
	})
	st := r.rx.Stats()
	if st.ResendsSent < 1 || st.ResendReplies < 1 || st.Stored != 8 {
		t.Fatalf("stats %+v", st)
	}
	if s := r.device("bay-01"); s.PermanentMissing != 0 || len(s.Permanent) != 0 {
		t.Fatalf("status %+v", s)
	}
}

// TestPermanentGap: what the box's archive no longer holds becomes a
// permanent, reported gap; the chain goes on past it, and a job with an
// event in it is rejected with the reason, not uploaded.
func TestPermanentGap(t *testing.T) {
	r := newRig(t)
	// The job's records weigh about 660 (open), 490 (each note) and
	// 790 bytes (close), note 9 about 410, each a few bytes more as the
	// clock's mono_ms grows a digit. A 2000-byte archive keeps the last
	// three with room to spare, so the close (seq 8) is still there when
	// note 9's acknowledgement prunes the archive before the receiver's
	// resend arrives, and the opening never is. (At 1200 bytes, 8 and 9
	// together were right at the bound: 8 was dropped now and then.)
	b := newBoxArchive(t, "bay-01", 2000)
	b.WriteKeyFile(r.keys)
	b.Start(r.broker.PlainURL(), "")
	b.RepairJob("J-1", 6) // seqs 1-8: the opening and first notes leave the archive
	b.WaitAcked(20 * time.Second)
	r.opts.MQTT.CleanSession = true
	r.start()
	b.Notes(1) // 9
	boxtest.Eventually(t, 20*time.Second, "the chain verified past the permanent gap", func() bool {
		s := r.device("bay-01")
		return s.VerifiedThrough == 9 && len(s.Gaps) == 0
	})
	s := r.device("bay-01")
	if s.PermanentMissing == 0 || s.Permanent[0].From != 1 || s.Stored+int64(s.PermanentMissing) != 9 {
		t.Fatalf("status %+v", s)
	}
	boxtest.Eventually(t, 20*time.Second, "J-1 rejected", func() bool {
		j, _, _ := r.st.Job(context.Background(), "bay-01", "J-1")
		return j.State == store.JobRejected
	})
	if j, _, _ := r.st.Job(context.Background(), "bay-01", "J-1"); !strings.Contains(j.LastError, "permanent gap") || !strings.Contains(j.LastError, "job_open") {
		t.Fatalf("job %+v", j)
	}
	if len(r.sim.Uploads()) != 0 {
		t.Fatalf("uploaded %+v", r.sim.Uploads())
	}
}

// TestReceiveOverTLS: the receiver takes its records over ssl://, the
// broker's certificate verified against its CA.
func TestReceiveOverTLS(t *testing.T) {
	r := newRig(t)
	r.opts.MQTT.Broker, r.opts.MQTT.TLS = r.broker.URL(), &tls.Config{RootCAs: r.broker.Pool}
	b := newBox(t, "bay-01")
	b.WriteKeyFile(r.keys)
	r.start()
	b.Start(r.broker.PlainURL(), "")
	b.Notes(3)
	boxtest.Eventually(t, 20*time.Second, "three records stored and chained", func() bool {
		s := r.device("bay-01")
		return s.Stored == 3 && s.VerifiedThrough == 3
	})
}
