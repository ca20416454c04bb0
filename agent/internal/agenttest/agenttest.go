// Package agenttest holds helpers for the agent's integration tests.
//
// They are a log writer that sends the agent's log to the test's log, a
// command client that talks to an agent over MQTT as the health-record system
// would (it sends commands and collects the replies and status messages), and
// readers of the sealed records that reached the broker.
package agenttest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

// LogWriter writes each Write as one line of the test's log.
type LogWriter struct{ T testing.TB }

// Write implements io.Writer.
func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger returns a text logger at debug level writing to the test's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Reply is the agent's answer to one command.
type Reply = uplink.Reply

// Result decodes a reply's result as a JSON object ("" members when there
// is none).
func Result(r Reply) map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Result, &m) != nil {
		return map[string]any{}
	}
	return m
}

// Status is one status message (a JSON object; see package uplink).
type Status map[string]any

// State is the status's "state": "online" or "offline".
func (s Status) State() string { v, _ := s["state"].(string); return v }

// Session is the status's connection session.
func (s Status) Session() string { v, _ := s["session"].(string); return v }

// String returns s[key] when it is a string, else "".
func (s Status) String(key string) string { v, _ := s[key].(string); return v }

// Number returns s[key] when it is a number.
func (s Status) Number(key string) (float64, bool) { v, ok := s[key].(float64); return v, ok }

// Commander sends commands to one device over MQTT and collects every
// reply and status message the device publishes. Its methods are for the
// test's goroutine; the collected state is safe for concurrent use.
type Commander struct {
	t      testing.TB
	topics uplink.Topics
	client mqtt.Client
	ids    atomic.Int64

	mu         sync.Mutex
	replies    map[string]Reply
	statuses   []Status
	bad        []string // payloads on the reply or status topic that did not decode
	subscribed int
	changed    chan struct{}

	signer *signer // nil: commands are sent unsigned
}

// signer signs commands for one device (see SignWith).
type signer struct {
	key                ed25519.PrivateKey
	name, shop, device string
}

// SignWith makes Send sign every command with the operator key named name,
// for device of shop (a box with uplink.command_keys needs it).
func (c *Commander) SignWith(key ed25519.PrivateKey, name, shop, device string) {
	c.signer = &signer{key, name, shop, device}
}

// NewCommander connects to the broker at url (the plain, anonymous
// listener of mosquittotest) and subscribes to the device's reply and
// status topics. It returns once both subscriptions are acknowledged. The
// client is disconnected at cleanup.
func NewCommander(t testing.TB, url string, tp uplink.Topics) *Commander {
	t.Helper()
	c := &Commander{t: t, topics: tp, replies: map[string]Reply{}, changed: make(chan struct{})}
	o := mosquittotest.ClientOptions(url, nil).SetOrderMatters(true)
	o.SetOnConnectHandler(func(cl mqtt.Client) {
		tok := cl.SubscribeMultiple(map[string]byte{tp.Reply: 1, tp.Status: 1}, c.onMessage)
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			c.mu.Lock()
			c.subscribed++
			c.notifyLocked()
			c.mu.Unlock()
		}
	})
	c.client = mosquittotest.Connect(t, o)
	c.Wait(10*time.Second, "the commander's subscription", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.subscribed > 0
	})
	return c
}

func (c *Commander) onMessage(_ mqtt.Client, m mqtt.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.notifyLocked()
	switch m.Topic() {
	case c.topics.Reply:
		var r Reply
		if err := json.Unmarshal(m.Payload(), &r); err != nil || r.ID == "" {
			c.bad = append(c.bad, fmt.Sprintf("reply %q: %v", m.Payload(), err))
			return
		}
		if _, dup := c.replies[r.ID]; dup {
			c.bad = append(c.bad, fmt.Sprintf("second reply to %s: %s", r.ID, m.Payload()))
			return
		}
		c.replies[r.ID] = r
	case c.topics.Status:
		var s Status
		if err := json.Unmarshal(m.Payload(), &s); err != nil {
			c.bad = append(c.bad, fmt.Sprintf("status %q: %v", m.Payload(), err))
			return
		}
		c.statuses = append(c.statuses, s)
	}
}

func (c *Commander) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Changed returns a channel closed at the next reply or status message.
func (c *Commander) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Send publishes one command (QoS 1) and returns its id once the broker
// has acknowledged it. It does not wait for the reply.
func (c *Commander) Send(name string, args any) string {
	c.t.Helper()
	id := fmt.Sprintf("%s-%d", name, c.ids.Add(1))
	var raw []byte
	var err error
	if s := c.signer; s != nil {
		raw, err = command.Sign(s.key, s.name, s.shop, s.device, id, name, args, time.Now(), "n-"+rand.Text())
	} else {
		raw, err = json.Marshal(uplink.Request{ID: id, Cmd: name, Args: args})
	}
	if err != nil {
		c.t.Fatalf("agenttest: encode command %s: %v", name, err)
	}
	tok := c.client.Publish(c.topics.Cmd, 1, false, raw)
	if !tok.WaitTimeout(10 * time.Second) {
		c.t.Fatalf("agenttest: publish command %s: no PUBACK within 10 s", name)
	}
	if err := tok.Error(); err != nil {
		c.t.Fatalf("agenttest: publish command %s: %v", name, err)
	}
	return id
}

// Reply returns the reply to command id, if it has arrived.
func (c *Commander) Reply(id string) (Reply, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.replies[id]
	return r, ok
}

// Replies returns a copy of every reply received, by command id.
func (c *Commander) Replies() map[string]Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]Reply, len(c.replies))
	for k, v := range c.replies {
		m[k] = v
	}
	return m
}

// Statuses returns the status messages received so far, in arrival order.
func (c *Commander) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Status(nil), c.statuses...)
}

// Problems returns the reply and status payloads that could not be
// decoded, and replies that arrived twice for one command.
func (c *Commander) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// Wait waits until cond holds, checking it now and after every reply or
// status message; the test fails after timeout with desc.
func (c *Commander) Wait(timeout time.Duration, desc string, cond func() bool) {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ch := c.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			c.t.Fatalf("agenttest: timeout after %v waiting for %s", timeout, desc)
		}
	}
}

// Do sends one command and waits up to timeout for its reply.
func (c *Commander) Do(timeout time.Duration, name string, args any) Reply {
	c.t.Helper()
	id := c.Send(name, args)
	var r Reply
	c.Wait(timeout, "the reply to "+id, func() bool {
		var ok bool
		r, ok = c.Reply(id)
		return ok
	})
	return r
}

// MustDo is Do that fails the test unless the reply is ok.
func (c *Commander) MustDo(timeout time.Duration, name string, args any) Reply {
	c.t.Helper()
	r := c.Do(timeout, name, args)
	if !r.OK {
		c.t.Fatalf("agenttest: command %s (%s) failed: %s", name, r.ID, r.Error)
	}
	return r
}

// Records decodes the sealed records among msgs that arrived on topic.
func Records(msgs []mosquittotest.Message, topic string) ([]record.Record, error) {
	var out []record.Record
	for _, m := range msgs {
		if m.Topic != topic {
			continue
		}
		r, err := record.Decode(m.Payload)
		if err != nil {
			return out, fmt.Errorf("undecodable record on %s: %w: %s", topic, err, m.Payload)
		}
		out = append(out, r)
	}
	return out, nil
}

// Stream returns the payloads of the messages on topic as JSON lines, in
// arrival order: the input of record.Verify and `bayagent verify`.
func Stream(msgs []mosquittotest.Message, topic string) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		if m.Topic == topic {
			b.Write(m.Payload)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
