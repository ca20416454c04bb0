package systemtest_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/boxtest"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/internal/selfexec"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore/pgtest"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

const (
	shopA, nameA, passwordA = "330106000123456", "杭州西湖汽车维修有限公司", "pw-a"
	// Shop B's name in the receiver's configuration is not the one the
	// provincial system registered: its uploads are refused.
	shopB, nameB, passwordB = "330106000654321", "杭州拱墅汽车维修有限公司", "pw-b"
)

type rxInstance struct {
	rx     *receiver.Receiver
	st     store.Store
	cancel context.CancelFunc
	done   chan error
}

// TestTwoReceiversFiveBoxes: five boxes publish 10,000 records through
// one Mosquitto to two receivers sharing the load ($share) and one
// PostgreSQL. In the middle, with the receivers away, the broker restarts
// without persistence and loses what it had queued for them. At the end
// every record is stored exactly once, every chain is verified, the lost
// records came back through resend, a forged and an edited record are
// quarantined, the jobs of one shop are uploaded (an access token expiring
// on the way is renewed) and those of the other are refused with the
// provincial system's reason.
func TestTwoReceiversFiveBoxes(t *testing.T) {
	perBox := 2000
	if os.Getenv(selfexec.EnvExec) != "" {
		perBox = 400 // under qemu-user every signature costs twenty times more
	}
	const boxes = 5
	log := agenttest.Logger(t).With("test", "system")
	quiet := slog.New(slog.NewTextHandler(agenttest.LogWriter{T: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	mosq := mosquittotest.Start(t, mosquittotest.Options{})
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	sim := provsim.New(provsim.Options{Companies: []provsim.Company{
		{Code: shopA, Password: passwordA, Name: nameA},
		{Code: shopB, Password: passwordB, Name: "杭州拱墅区另一家汽车维修公司"},
	}})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	keys := t.TempDir()

	var bs []*boxtest.Box
	for i := range boxes {
		shop := shopA
		if i == boxes-1 {
			shop = shopB
		}
		b := boxtest.New(t, boxtest.Options{Shop: shop, Device: fmt.Sprintf("bay-%02d", i+1), Logger: quiet})
		b.WriteKeyFile(keys)
		bs = append(bs, b)
	}

	up, err := upload.NewShared(upload.Options{
		BaseURL: srv.URL + "/restservices/lcipprodatarest", Client: srv.Client(), Logger: log,
		Company: func(shop string) (upload.Company, error) {
			pw := map[string]string{shopA: passwordA, shopB: passwordB}[shop]
			return upload.Company{Code: shop, Password: pw}, nil
		},
	}, healthrecord.Shared{OmitExtension: true})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{shopA: nameA, shopB: nameB}
	startRx := func(i int) *rxInstance {
		st, err := pgstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		rx, err := receiver.New(receiver.Options{
			Store: st, KeysDir: keys, Uploader: up,
			MQTT:        receiver.MQTTOptions{Broker: mosq.PlainURL, ClientID: fmt.Sprintf("rx-%d", i), ShareGroup: "receivers"},
			CompanyName: func(shop string) (string, bool) { n, ok := names[shop]; return n, ok },
			GapTimeout:  500 * time.Millisecond, ResendInterval: time.Second, WalkInterval: 100 * time.Millisecond,
			SweepInterval: time.Second, UploadPoll: 100 * time.Millisecond, UploadBackoffMin: 100 * time.Millisecond,
			UploadBackoffMax: time.Second,
			Logger:           log.With("receiver", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &rxInstance{rx: rx, st: st, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- rx.Run(ctx) }()
		select {
		case <-rx.Ready():
		case err := <-r.done:
			t.Fatalf("receiver %d: %v", i, err)
		}
		return r
	}
	stopRx := func(r *rxInstance) {
		if r.cancel == nil {
			return
		}
		r.cancel()
		r.cancel = nil
		if err := <-r.done; err != nil {
			t.Errorf("receiver: %v", err)
		}
		r.st.Close()
	}
	rxs := []*rxInstance{startRx(1), startRx(2)}
	t.Cleanup(func() {
		for _, r := range rxs {
			stopRx(r)
		}
	})
	for _, b := range bs {
		b.Start(mosq.PlainURL, "")
	}

	// produce makes every box store n records in parallel: notes, with one
	// job of four records in the middle.
	jobN := 0
	produce := func(n int) {
		jobN++
		var wg sync.WaitGroup
		for _, b := range bs {
			wg.Go(func() {
				b.Notes(n/2 - 2)
				b.RepairJob(fmt.Sprintf("J-%s-%d", b.Device(), jobN), 2)
				b.Notes(n - n/2 - 2)
			})
		}
		wg.Wait()
	}
	waitAcked := func() {
		for _, b := range bs {
			b.WaitAcked(2 * time.Minute)
		}
	}

	produce(perBox * 2 / 5)
	waitAcked()
	// A job is uploaded before the token expires below, so that an upload
	// after the restart meets the expired token (on a loaded machine the
	// receivers may not have got to the first jobs by now).
	boxtest.Eventually(t, time.Minute, "a job uploaded with the first token", func() bool {
		return sim.Counts().Records > 0
	})
	// The receivers go away (their sessions stay at the broker), the
	// boxes go on, then the broker restarts without persistence: what it
	// acknowledged to the boxes and queued for the receivers is lost.
	for _, r := range rxs {
		stopRx(r)
	}
	// What the boxes publish now is queued for the receivers only, and
	// lost with the broker's restart: lost[i] is that range of box i.
	lost := make([]record.SeqRange, len(bs))
	for i, b := range bs {
		lost[i].From = b.Head() + 1
	}
	produce(perBox / 5)
	waitAcked()
	for i, b := range bs {
		lost[i].To = b.Head()
	}
	mosq.Restart()
	sim.ExpireTokens() // the access token expires meanwhile
	rxs = []*rxInstance{startRx(1), startRx(2)}
	produce(perBox - perBox*2/5 - perBox/5)

	// A forged record (another key) and an edited one (a real record with
	// its body changed) for bay-01.
	inject(t, mosq.PlainURL, bs[0])

	st := rxs[0].st
	ctx := context.Background()
	boxtest.Eventually(t, 3*time.Minute, "every chain complete", func() bool {
		for _, b := range bs {
			ch, ok, err := st.Chain(ctx, b.Device())
			if err != nil || !ok || ch.VerifiedThrough != b.Head() || len(ch.Gaps) != 0 {
				return false
			}
		}
		return true
	})
	// The injected records may still be on their way when the chains
	// are complete (they carry seqs already stored).
	boxtest.Eventually(t, time.Minute, "the forged and the edited record quarantined", func() bool {
		c, err := st.Counts(ctx)
		return err == nil && c.Quarantined[store.ReasonBadSignature] >= 2
	})
	total := 0
	for i, b := range bs {
		ch, _, _ := st.Chain(ctx, b.Device())
		n, _ := st.StoredCount(ctx, b.Device())
		if n != int64(b.Head()) || ch.BreakCount != 0 || len(ch.Permanent) != 0 || b.Head() != uint64(perBox) {
			t.Errorf("%s: %d stored of %d sealed, %d breaks, permanent %v", b.Device(), n, b.Head(), ch.BreakCount, ch.Permanent)
		}
		if !b.Resent(lost[i].From, lost[i].To) {
			t.Errorf("%s: records %d-%d, lost by the broker, were not all asked for with resend", b.Device(), lost[i].From, lost[i].To)
		}
		total += int(n)
	}
	c, err := st.Counts(ctx)
	if err != nil || c.Records != int64(boxes*perBox) || total != boxes*perBox {
		t.Errorf("store holds %d records (%v), want %d exactly once", c.Records, err, boxes*perBox)
	}
	if c.Quarantined[store.ReasonBadSignature] != 2 {
		t.Errorf("quarantined %v, want the forged and the edited record", c.Quarantined)
	}
	var resends, received uint64
	for i, r := range rxs {
		s := r.rx.Stats()
		resends += s.ResendsSent
		received += s.Received
		if s.Received == 0 {
			t.Errorf("receiver %d got no record: the shared subscription did not share", i+1)
		}
	}
	if resends == 0 {
		t.Error("no resend was sent, yet the broker lost records")
	}

	// Jobs: shop A's uploaded once each, shop B's refused with the reason.
	boxtest.Eventually(t, time.Minute, "every job uploaded or rejected", func() bool {
		js, err := st.Jobs(ctx, "")
		if err != nil || len(js) != boxes*3 {
			return false
		}
		for _, j := range js {
			if j.State != store.JobUploaded && j.State != store.JobRejected {
				return false
			}
		}
		return true
	})
	js, _ := st.Jobs(ctx, "")
	for _, j := range js {
		switch {
		case j.Shop == shopA && j.State != store.JobUploaded:
			t.Errorf("job %s/%s: %s %s", j.Device, j.Job, j.State, j.LastError)
		case j.Shop == shopB && (j.State != store.JobRejected || !strings.Contains(j.LastError, "companyname")):
			t.Errorf("job %s/%s of shop B: %s %q, want rejected naming companyname", j.Device, j.Job, j.State, j.LastError)
		}
	}
	seen := map[string]int{}
	for _, u := range sim.Uploads() {
		seen[u.Key]++
	}
	if len(seen) != (boxes-1)*3 {
		t.Errorf("the provincial system accepted %d distinct jobs, want %d", len(seen), (boxes-1)*3)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("job %s uploaded %d times", k, n)
		}
	}
	if sc := sim.Counts(); sc.TokenRefusals == 0 || sc.Tokens < 3 {
		t.Errorf("simulator counts %+v: want the expired token refused and renewed", sc)
	}
	t.Logf("%d records from %d boxes; %d messages received, %d resends", boxes*perBox, boxes, received, resends)
}

// inject publishes for b's device a record signed by another key and one
// of b's records with its body edited.
func inject(t *testing.T, broker string, b *boxtest.Box) {
	t.Helper()
	held, err := b.Box.Range(3, 3)
	if err != nil || len(held) != 1 {
		t.Fatalf("record 3 of %s: %v", b.Device(), err)
	}
	edited := strings.Replace(string(held[0].Data), `"note `, `"NOTE `, 1)
	if edited == string(held[0].Data) {
		t.Fatalf("record 3 is not a note: %s", held[0].Data)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	forger, _ := record.NewSealer(record.SealerConfig{Key: other, Device: b.Device(), Shop: shopA})
	_, forged, _, err := forger.SealNext(record.Head{Seq: 4}, record.KindNote, "", map[string]string{"text": "forged"})
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("injector"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("injector: %v", tok.Error())
	}
	defer c.Disconnect(100)
	topic := uplink.DeviceTopics(uplink.DefaultPrefix, shopA, b.Device()).Records
	for _, p := range [][]byte{forged, []byte(edited)} {
		if tok := c.Publish(topic, 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("inject: %v", tok.Error())
		}
	}
}
