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

	// Mosquitto (MQTT 3.1.1) acknowledges a publish the ACL denies and
	// drops it (2.0.11 then closes the connection; the client reconnects):
	// the observer must see only the allowed one.
	for _, topic := range []string{"bayagent/s1/dev-b/records", "bayagent/s1/dev-a/records"} {
		tok := a.Publish(topic, 1, false, topic)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	msgs := obs.WaitN(1, 5*time.Second)
	if msgs[0].Topic != "bayagent/s1/dev-a/records" {
		t.Fatalf("observer got %q first, want only the allowed topic", msgs[0].Topic)
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
