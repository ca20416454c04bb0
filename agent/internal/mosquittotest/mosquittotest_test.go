package mosquittotest

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func TestBrokerTLSAndACL(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{Devices: []Device{{"s1", "dev-a"}, {"s1", "dev-b"}}})
	obs := Subscribe(t, b.PlainURL, "bayagent/#", SubOptions{QoS: 1})

	cert, key := b.ClientCert("dev-a")
	a := Connect(t, ClientOptions(b.TLSURL, b.CA.ClientTLS(t, cert, key)))
	certB, keyB := b.ClientCert("dev-b")
	devB := Connect(t, ClientOptions(b.TLSURL, b.CA.ClientTLS(t, certB, keyB)))

	// Mosquitto (MQTT 3.1.1) acknowledges a publish the ACL denies and
	// drops it; 2.0.11 then also closes the connection, so that publish may
	// end with an error instead. dev-a writes its own topic, then dev-b's;
	// dev-b then writes a marker. The observer must see dev-a's record and
	// the marker, and never dev-a's write to dev-b's topic.
	publish := func(c mqtt.Client, topic, payload string, mustAck bool) {
		t.Helper()
		tok := c.Publish(topic, 1, false, payload)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("publish %s: no answer", topic)
		}
		if mustAck && tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	publish(a, "bayagent/s1/dev-a/records", "allowed", true)
	publish(a, "bayagent/s1/dev-b/records", "forged", false)
	publish(devB, "bayagent/s1/dev-b/records", "marker", true)
	msgs := obs.WaitN(2, 5*time.Second)
	for _, m := range msgs {
		if string(m.Payload) == "forged" {
			t.Fatalf("observer received dev-a's write to dev-b's topic: %+v", msgs)
		}
	}
	if string(msgs[0].Payload) != "allowed" || string(msgs[1].Payload) != "marker" {
		t.Fatalf("observer got %+v, want the allowed record then the marker", msgs)
	}

	// Restart keeps the ports.
	b.Restart()
	obs.WaitSubscribed(2, 10*time.Second)
}

func TestBrokerRefusesBadClientCerts(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{Devices: []Device{{"s1", "dev-a"}}})
	rogue := NewCA(t, t.TempDir(), "rogue")
	rc, rk := rogue.Issue(t, t.TempDir(), "rogue-client", "dev-a", false)
	for _, tc := range []struct {
		name      string
		cert, key string
	}{
		{"no client certificate", "", ""},
		{"certificate from another CA", rc, rk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ClientOptions(b.TLSURL, b.CA.ClientTLS(t, tc.cert, tc.key)).SetAutoReconnect(false)
			c := mqtt.NewClient(o)
			tok := c.Connect()
			if !tok.WaitTimeout(10 * time.Second) {
				t.Fatal("connect did not finish")
			}
			if tok.Error() == nil {
				c.Disconnect(0)
				t.Fatal("connection accepted, want refused")
			}
		})
	}
}

func TestProxyCut(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{})
	p := NewProxy(t, b.PlainAddr)
	obs := Subscribe(t, b.PlainURL, "will/#", SubOptions{QoS: 1})
	o := ClientOptions("tcp://"+p.Addr(), nil).SetAutoReconnect(false).SetWill("will/x", "gone", 1, false)
	Connect(t, o)
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut = %d, want 1", n)
	}
	if m := obs.WaitN(1, 10*time.Second); string(m[0].Payload) != "gone" {
		t.Fatalf("will payload %q", m[0].Payload)
	}
}
