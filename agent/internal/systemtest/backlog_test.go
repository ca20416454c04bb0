package systemtest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/boxtest"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
)

// TestReceiverBacklogAtReconnect: a receiver coming back to its
// persistent session at Mosquitto finds more records queued than its
// inbound queue holds. Mosquitto sends them right after CONNACK, before
// the SUBACK of the receiver's subscriptions: the receiver must take them
// while it subscribes, and store them all.
func TestReceiverBacklogAtReconnect(t *testing.T) {
	log := agenttest.Logger(t)
	mosq := mosquittotest.Start(t, mosquittotest.Options{})
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := t.TempDir()
	b := boxtest.New(t, boxtest.Options{Shop: shopA, Device: "bay-01", Logger: log})
	b.WriteKeyFile(keys)
	run := func() (*receiver.Receiver, func()) {
		rx, err := receiver.New(receiver.Options{
			Store: st, KeysDir: keys, Batch: 4, // the inbound queue holds 8
			MQTT:   receiver.MQTTOptions{Broker: mosq.PlainURL, ClientID: "rx-backlog"},
			Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rx.Run(ctx) }()
		select {
		case <-rx.Ready():
		case err := <-done:
			cancel()
			t.Fatalf("receiver: %v", err)
		}
		return rx, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("receiver: %v", err)
			}
		}
	}
	_, stop := run() // the session and its subscriptions
	stop()
	b.Start(mosq.PlainURL, "")
	b.Notes(200)
	b.WaitAcked(time.Minute) // queued at the broker for the receiver
	rx, stop := run()
	defer stop()
	boxtest.Eventually(t, time.Minute, "the backlog stored", func() bool {
		ch, ok, err := st.Chain(context.Background(), "bay-01")
		return err == nil && ok && ch.VerifiedThrough == 200
	})
	if s := rx.Stats(); s.Stored != 200 || len(s.Rejected) != 0 {
		t.Fatalf("stats %+v", s)
	}
}
