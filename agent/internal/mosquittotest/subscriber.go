package mosquittotest

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

var clientSeq atomic.Int64

// ClientOptions returns paho options for a test client of url: a unique
// client id, clean session, quick automatic reconnection. tlsCfg may be nil.
func ClientOptions(url string, tlsCfg *tls.Config) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("mosquittotest-%d-%d", time.Now().UnixNano()%1e6, clientSeq.Add(1))).
		SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(50 * time.Millisecond).
		SetConnectRetry(false)
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	return o
}

// Connect connects a paho client with o (see [ClientOptions]); the test
// fails when the connection is refused. The client is disconnected at
// cleanup.
func Connect(t testing.TB, o *mqtt.ClientOptions) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("mosquittotest: connect: timeout")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("mosquittotest: connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// Message is one message a Subscriber received.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Subscriber is a paho client that subscribes to one topic filter, again
// after every reconnection, and collects what arrives.
type Subscriber struct {
	t      testing.TB
	client mqtt.Client

	mu         sync.Mutex
	msgs       []Message
	subscribed int
	changed    chan struct{}
}

// SubOptions configures a Subscriber. The zero value subscribes with QoS 0
// on a clean session without TLS.
type SubOptions struct {
	QoS byte
	TLS *tls.Config
	// Session, when set, is the client id of a persistent session (clean
	// session off): with QoS 1 the broker keeps what arrives while the
	// subscriber is away (and, with Options.Persistence, across a broker
	// restart) and delivers it on reconnection.
	Session string
}

// Subscribe connects to url and subscribes to filter. It returns once the
// first SUBACK arrived.
func Subscribe(t testing.TB, url, filter string, so SubOptions) *Subscriber {
	t.Helper()
	s := &Subscriber{t: t, changed: make(chan struct{})}
	handler := func(_ mqtt.Client, m mqtt.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), QoS: m.Qos(), Retained: m.Retained()})
		s.notifyLocked()
		s.mu.Unlock()
	}
	o := ClientOptions(url, so.TLS).SetOrderMatters(true)
	if so.Session != "" {
		o.SetClientID(so.Session).SetCleanSession(false)
	}
	o.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(filter, so.QoS, handler)
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			s.mu.Lock()
			s.subscribed++
			s.notifyLocked()
			s.mu.Unlock()
		}
	})
	s.client = Connect(t, o)
	s.WaitSubscribed(1, 10*time.Second)
	return s
}

func (s *Subscriber) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Messages returns a copy of the messages received so far, in arrival order.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until cond holds for the messages received so far and
// returns them. The test fails with desc when no message arrives for
// timeout while cond does not hold, or after 6 timeouts in all: a slow
// stream that keeps coming (a loaded machine, qemu) is waited for, a
// stream that stopped is not.
func (s *Subscriber) WaitFor(timeout time.Duration, desc string, cond func([]Message) bool) []Message {
	s.t.Helper()
	total := time.NewTimer(6 * timeout)
	defer total.Stop()
	idle := time.NewTimer(timeout)
	defer idle.Stop()
	for {
		s.mu.Lock()
		msgs, ch := s.msgs, s.changed
		ok := cond(msgs)
		s.mu.Unlock()
		if ok {
			return append([]Message(nil), msgs...)
		}
		select {
		case <-ch:
			idle.Reset(timeout) // no stale tick since Go 1.23
		case <-idle.C:
			s.t.Fatalf("mosquittotest: nothing arrived for %v while waiting for %s (%d messages received)", timeout, desc, len(msgs))
		case <-total.C:
			s.t.Fatalf("mosquittotest: timeout after %v waiting for %s (%d messages received)", 6*timeout, desc, len(msgs))
		}
	}
}

// WaitN waits until at least n messages have arrived and returns them all.
func (s *Subscriber) WaitN(n int, timeout time.Duration) []Message {
	s.t.Helper()
	return s.WaitFor(timeout, fmt.Sprintf("%d messages", n), func(m []Message) bool { return len(m) >= n })
}

// WaitSubscribed waits until the subscription has been made n times (1 after
// Subscribe returns, 2 after the first reconnection, ...).
func (s *Subscriber) WaitSubscribed(n int, timeout time.Duration) {
	s.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, ch := s.subscribed, s.changed
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			s.t.Fatalf("mosquittotest: timeout after %v waiting for subscription #%d", timeout, n)
		}
	}
}

// Client returns the underlying paho client.
func (s *Subscriber) Client() mqtt.Client { return s.client }
