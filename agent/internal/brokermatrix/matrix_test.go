package brokermatrix_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/boxtest"
	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/internal/rabbitmqtest"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
)

const (
	shop   = "330106000123456"
	device = "bay-01"
	// EnvRabbitMQ=1 adds RabbitMQ to the matrix (make test-brokers).
	EnvRabbitMQ = "BAYAGENT_TEST_RABBITMQ"
)

// target is one broker: a plain listener for the test's own clients and
// the receiver, a TLS one for the box.
type target struct {
	plainURL, tlsAddr, caFile string
	certFile, keyFile         string // the box's client certificate, when the broker wants one
}

// TestBrokers runs the box against each broker.
func TestBrokers(t *testing.T) {
	t.Run("mosquitto", func(t *testing.T) {
		m := mosquittotest.Start(t, mosquittotest.Options{Devices: []mosquittotest.Device{{Shop: shop, ID: device}}})
		cert, key := m.ClientCert(device)
		exercise(t, target{plainURL: m.PlainURL, tlsAddr: m.TLSAddr, caFile: m.CA.File, certFile: cert, keyFile: key})
	})
	t.Run("embedded", func(t *testing.T) {
		ca := filepath.Join(t.TempDir(), "ca.pem")
		b, err := embedbroker.Start(embedbroker.Options{Plain: true, CAFile: ca})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		exercise(t, target{plainURL: "tcp://" + b.PlainAddr, tlsAddr: b.Addr, caFile: ca})
	})
	t.Run("rabbitmq", func(t *testing.T) {
		if os.Getenv(EnvRabbitMQ) != "1" {
			t.Skip("RabbitMQ runs under make test-brokers (" + EnvRabbitMQ + "=1)")
		}
		r := rabbitmqtest.Start(t)
		exercise(t, target{plainURL: r.PlainURL, tlsAddr: r.TLSAddr, caFile: r.CA.File})
	})
}

// status is what the box publishes on its status topic (retained) and
// what the broker publishes for it as its last will.
type status struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func statusOf(m mosquittotest.Message) status {
	var s status
	_ = json.Unmarshal(m.Payload, &s)
	return s
}

func exercise(t *testing.T, tg target) {
	log := agenttest.Logger(t)
	topics := uplink.DeviceTopics("bayagent", shop, device)
	box := boxtest.New(t, boxtest.Options{Shop: shop, Device: device, CertFile: tg.certFile, KeyFile: tg.keyFile, Logger: log})
	keys := t.TempDir()
	box.WriteKeyFile(keys)

	// The receiving side, on the plain listener. Subscriptions name their
	// topics: RabbitMQ sends retained messages to no wildcard filter.
	records := mosquittotest.Subscribe(t, tg.plainURL, topics.Records, mosquittotest.SubOptions{QoS: 1})
	replies := mosquittotest.Subscribe(t, tg.plainURL, topics.Reply, mosquittotest.SubOptions{QoS: 1})
	statuses := mosquittotest.Subscribe(t, tg.plainURL, topics.Status, mosquittotest.SubOptions{QoS: 1})
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rx, err := receiver.New(receiver.Options{Store: st, KeysDir: keys, Logger: log,
		MQTT: receiver.MQTTOptions{Broker: tg.plainURL, ClientID: "matrix-rx", CleanSession: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rxDone := make(chan error, 1)
	go func() { rxDone <- rx.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-rxDone; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	select {
	case <-rx.Ready():
	case err := <-rxDone:
		t.Fatalf("receiver: %v", err)
	}

	// The box over TLS, through a proxy that can break the connection.
	proxy := mosquittotest.NewProxy(t, tg.tlsAddr)
	box.Start("ssl://"+proxy.Addr(), tg.caFile)
	const n = 20
	box.Notes(n)

	// Records: every one, in order, each verifying with the device key.
	got := records.WaitN(n, time.Minute)
	for i, m := range got[:n] {
		r, err := record.Decode(m.Payload)
		if err != nil || r.Seq != uint64(i+1) || r.VerifySignature(box.Public) != nil {
			t.Fatalf("record %d: seq %d, %v, signature %v", i+1, r.Seq, err, r.VerifySignature(box.Public))
		}
	}
	boxtest.Eventually(t, time.Minute, "the receiver verified the chain", func() bool {
		ch, ok, err := st.Chain(context.Background(), device)
		return err == nil && ok && ch.VerifiedThrough == n && len(ch.Gaps) == 0
	})

	// The retained status: online, also for a subscriber that comes later.
	statuses.WaitFor(time.Minute, "online status", func(ms []mosquittotest.Message) bool {
		return len(ms) > 0 && statusOf(ms[len(ms)-1]).State == "online"
	})
	late := mosquittotest.Subscribe(t, tg.plainURL, topics.Status, mosquittotest.SubOptions{QoS: 1})
	late.WaitFor(time.Minute, "the retained online status", func(ms []mosquittotest.Message) bool {
		return len(ms) > 0 && ms[0].Retained && statusOf(ms[0]).State == "online"
	})

	// A command and its reply: resend of records 1-3 republishes them.
	cmd, _ := json.Marshal(map[string]any{"id": "matrix-1", "cmd": "resend", "args": map[string]any{"from_seq": 1, "to_seq": 3}})
	if tok := records.Client().Publish(topics.Cmd, 1, false, cmd); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("command: %v", tok.Error())
	}
	replies.WaitFor(time.Minute, "the reply to matrix-1", func(ms []mosquittotest.Message) bool {
		for _, m := range ms {
			var rep struct {
				ID string `json:"id"`
				OK bool   `json:"ok"`
			}
			if json.Unmarshal(m.Payload, &rep) == nil && rep.ID == "matrix-1" {
				return rep.OK
			}
		}
		return false
	})
	again := records.WaitN(n+3, time.Minute)
	for i, m := range again[n : n+3] {
		if r, err := record.Decode(m.Payload); err != nil || r.Seq != uint64(i+1) {
			t.Fatalf("resent record %d: seq %d, %v", i+1, r.Seq, err)
		}
	}

	// The last will: the connection breaks without a DISCONNECT; the
	// broker publishes "offline" (retained) for the box.
	proxy.Refuse(true)
	proxy.Cut()
	statuses.WaitFor(2*time.Minute, "the last will", func(ms []mosquittotest.Message) bool {
		s := statusOf(ms[len(ms)-1])
		return s.State == "offline" && s.Reason == "connection lost"
	})
	gone := mosquittotest.Subscribe(t, tg.plainURL, topics.Status, mosquittotest.SubOptions{QoS: 1})
	gone.WaitFor(time.Minute, "the retained last will", func(ms []mosquittotest.Message) bool {
		return len(ms) > 0 && ms[0].Retained && statusOf(ms[0]).State == "offline"
	})
	// Back: online again, and what was stored meanwhile arrives.
	proxy.Refuse(false)
	box.Notes(1)
	statuses.WaitFor(2*time.Minute, "online again", func(ms []mosquittotest.Message) bool {
		return statusOf(ms[len(ms)-1]).State == "online"
	})
	boxtest.Eventually(t, time.Minute, "the record stored while away verified", func() bool {
		ch, ok, err := st.Chain(context.Background(), device)
		return err == nil && ok && ch.VerifiedThrough == n+1
	})
}
