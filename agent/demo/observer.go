package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
)

// message is one MQTT message the observer received.
type message struct {
	Topic   string
	Payload []byte
}

// observer is the health-record system's side of the demo: an MQTT client
// subscribed to everything the device publishes, which also sends the
// technician's commands. It is not reconnected: a lost connection fails
// every wait with the reason.
type observer struct {
	client paho.Client
	t      uplink.Topics
	ids    int
	// operator signs the commands (the agent lists its public key in
	// uplink.command_keys), as the shop's software would.
	operator ed25519.PrivateKey

	mu      sync.Mutex
	msgs    []message
	lost    error
	changed chan struct{} // closed and replaced on every change
}

// errConnectionLost: the observer lost its broker connection.
var errConnectionLost = errors.New("demo: the health-record side lost its broker connection")

// connectObserver connects to the broker and subscribes to the device's
// topics; it returns once the subscription is acknowledged.
func connectObserver(ctx context.Context, url string, tlsCfg *tls.Config, t uplink.Topics) (*observer, error) {
	o := &observer{t: t, changed: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(url).
		SetClientID("bayagent-demo-hr-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			o.mu.Lock()
			o.lost = fmt.Errorf("%w: %v", errConnectionLost, err)
			o.notifyLocked()
			o.mu.Unlock()
		})
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
	}
	o.client = paho.NewClient(opts)
	if err := wait(ctx, o.client.Connect()); err != nil {
		return nil, fmt.Errorf("demo: connect to %s: %w", url, err)
	}
	sub := o.client.Subscribe(t.Root+"/#", 1, func(_ paho.Client, m paho.Message) {
		o.mu.Lock()
		o.msgs = append(o.msgs, message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...)})
		o.notifyLocked()
		o.mu.Unlock()
	})
	if err := wait(ctx, sub); err != nil {
		o.client.Disconnect(0)
		return nil, fmt.Errorf("demo: subscribe to %s/#: %w", t.Root, err)
	}
	return o, nil
}

// wait waits for a paho token, or for ctx.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *observer) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// Close disconnects.
func (o *observer) Close() { o.client.Disconnect(250) }

// waitFor waits until cond holds for the messages received so far, the
// connection is lost, or ctx ends. cond runs with the observer locked.
func (o *observer) waitFor(ctx context.Context, what string, cond func([]message) bool) error {
	for {
		o.mu.Lock()
		ok, lost, changed := cond(o.msgs), o.lost, o.changed
		o.mu.Unlock()
		switch {
		case ok:
			return nil
		case lost != nil:
			return fmt.Errorf("waiting for %s: %w", what, lost)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		}
	}
}

// records returns the records received so far, decoded, with their wire
// lines (byte-exact, as they arrived).
func (o *observer) records() ([]record.Record, [][]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return decodeRecords(o.msgs, o.t.Records)
}

func decodeRecords(msgs []message, topic string) ([]record.Record, [][]byte, error) {
	var recs []record.Record
	var lines [][]byte
	for _, m := range msgs {
		if m.Topic != topic {
			continue
		}
		r, err := record.Decode(m.Payload)
		if err != nil {
			return nil, nil, fmt.Errorf("demo: an undecodable record arrived: %w", err)
		}
		recs = append(recs, r)
		lines = append(lines, m.Payload)
	}
	return recs, lines, nil
}

// waitRecord waits for a record of the job (any job when job is "-") and
// kind for which match holds (nil: any), and returns it.
func (o *observer) waitRecord(ctx context.Context, kind, job string, match func(body []byte) bool) (record.Record, error) {
	var found record.Record
	err := o.waitFor(ctx, "a "+kind+" record", func(msgs []message) bool {
		for _, m := range msgs {
			if m.Topic != o.t.Records {
				continue
			}
			r, err := record.Decode(m.Payload)
			if err != nil || r.Kind != kind || (job != "-" && r.Job != job) {
				continue
			}
			if match == nil || match(r.Body) {
				found = r
				return true
			}
		}
		return false
	})
	return found, err
}

// errRefused: the agent answered a command with an error.
var errRefused = errors.New("demo: the agent refused a command")

// command publishes a command on the device's command topic and waits for
// its reply; a reply with ok false is errRefused with the agent's message.
func (o *observer) command(ctx context.Context, name string, args any) (uplink.Reply, error) {
	o.ids++
	id := "demo-" + strconv.Itoa(o.ids)
	payload, err := command.Sign(o.operator, operatorKeyName, Shop, Device, id, name, args, time.Now(), "demo-"+rand.Text())
	if err != nil {
		return uplink.Reply{}, err
	}
	if err := wait(ctx, o.client.Publish(o.t.Cmd, 1, false, payload)); err != nil {
		return uplink.Reply{}, fmt.Errorf("demo: publish %s: %w", name, err)
	}
	var r uplink.Reply
	err = o.waitFor(ctx, "the reply to "+name, func(msgs []message) bool {
		for _, m := range msgs {
			var got uplink.Reply
			if m.Topic == o.t.Reply && json.Unmarshal(m.Payload, &got) == nil && got.ID == id {
				r = got
				return true
			}
		}
		return false
	})
	if err != nil {
		return uplink.Reply{}, err
	}
	if !r.OK {
		return r, fmt.Errorf("%w: %s: %s", errRefused, name, r.Error)
	}
	return r, nil
}
