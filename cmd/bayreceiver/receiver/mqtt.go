package receiver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/bayagent/bayagent/agent/uplink"
)

// conn is the broker connection (paho): persistent session, automatic
// reconnection, subscriptions made again on every connection, PUBACKs
// sent by the receiver itself once a message is stored.
type conn struct {
	r      *Receiver
	client mqtt.Client
}

// filters returns the subscriptions: records and replies of every box.
func (r *Receiver) filters() (records, replies string) {
	p := ""
	if g := r.o.MQTT.ShareGroup; g != "" {
		p = "$share/" + g + "/"
	}
	every := uplink.DeviceTopics(r.o.MQTT.Prefix, "+", "+")
	return p + every.Records, p + every.Reply
}

func (r *Receiver) connect(ctx context.Context) (*conn, error) {
	m := r.o.MQTT
	c := &conn{r: r}
	subscribed := make(chan error, 1)
	var once sync.Once
	records, replies := r.filters()
	o := mqtt.NewClientOptions().
		AddBroker(m.Broker).
		SetClientID(m.ClientID).
		SetCleanSession(m.CleanSession).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetKeepAlive(m.KeepAlive).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { r.onMessage(msg) }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			r.log.Warn("receiver: broker connection lost; reconnecting", "err", err)
		}).
		SetOnConnectHandler(func(cl mqtt.Client) {
			tok := cl.SubscribeMultiple(map[string]byte{records: 1, replies: 1}, func(_ mqtt.Client, msg mqtt.Message) { r.onMessage(msg) })
			err := errors.New("subscription timed out")
			if tok.WaitTimeout(30 * time.Second) {
				err = tok.Error()
			}
			if err == nil {
				if st, ok := tok.(*mqtt.SubscribeToken); ok {
					for f, q := range st.Result() {
						if q > 2 {
							err = fmt.Errorf("the broker refused the subscription %s (code %#x)", f, q)
						}
					}
				}
			}
			if err != nil {
				r.log.Error("receiver: subscribe", "err", err)
			} else {
				r.log.Info("receiver: connected and subscribed", "broker", m.Broker, "records", records, "replies", replies)
				r.setPublisher(c)
			}
			once.Do(func() { subscribed <- err })
		})
	if m.TLS != nil {
		o.SetTLSConfig(m.TLS)
	}
	o.SetCustomOpenConnectionFn(dialBuffered)
	if m.Username != "" {
		o.SetUsername(m.Username)
		o.SetPassword(m.Password)
	}
	c.client = mqtt.NewClient(o)
	c.client.Connect() // retried in the background until it connects
	select {
	case err := <-subscribed:
		if err != nil {
			c.client.Disconnect(0)
			return nil, fmt.Errorf("receiver: %s: %w", m.Broker, err)
		}
	case <-ctx.Done():
		c.client.Disconnect(0)
		return nil, ctx.Err()
	}
	return c, nil
}

// onMessage runs in paho's delivery goroutine. A record goes to the
// verifier (waiting while it is busy: the broker holds the rest); a reply
// is handled beside the walks. While stopping, messages are left
// unacknowledged: the broker delivers them again.
func (r *Receiver) onMessage(msg mqtt.Message) {
	_, _, leaf, ok := uplink.ParseTopic(r.o.MQTT.Prefix, msg.Topic())
	switch {
	case ok && leaf == "records":
		m := inbound{topic: msg.Topic(), payload: append([]byte(nil), msg.Payload()...), at: r.o.Now().UTC(), ack: msg.Ack}
		select {
		case r.in <- m:
		case <-r.stopping:
		}
	case ok && leaf == "reply":
		r.onReply(msg.Topic(), msg.Payload())
		msg.Ack()
	default:
		msg.Ack() // not for us
	}
}

func (r *Receiver) setPublisher(p publisher) {
	r.pubMu.Lock()
	r.pub = p
	r.pubMu.Unlock()
}

func (r *Receiver) currentPublisher() publisher {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	return r.pub
}

// publish sends one QoS 1 message and waits for the broker's PUBACK.
func (c *conn) publish(ctx context.Context, topic string, payload []byte) error {
	if !c.client.IsConnectionOpen() {
		return errors.New("not connected to the broker")
	}
	tok := c.client.Publish(topic, 1, false, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close disconnects.
func (c *conn) close() {
	c.r.setPublisher(nil)
	c.client.Disconnect(250)
}

// dialBuffered opens the broker connection as paho would for tcp://,
// ssl://, tls:// and mqtts:// (without a proxy), with its reads buffered:
// paho reads every packet's fixed header a byte at a time, a system call
// each, and the records arrive by the thousand.
func dialBuffered(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	var c net.Conn
	var err error
	switch u.Scheme {
	case "tcp", "mqtt":
		c, err = d.Dial("tcp", u.Host)
	case "ssl", "tls", "mqtts":
		c, err = tls.DialWithDialer(d, "tcp", u.Host, o.TLSConfig)
	default:
		return nil, fmt.Errorf("receiver: broker scheme %q not supported", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// bufferedConn is a connection whose reads go through a buffer (paho
// reads from one goroutine).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
