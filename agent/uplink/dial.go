package uplink

import (
	"crypto/tls"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// dialer opens the network connection for paho: TCP, then TLS for ssl://,
// tls:// and mqtts://. The connection it returns ignores write deadlines
// (see noWriteDeadline).
func dialer(tlsCfg *tls.Config, timeout time.Duration) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		var (
			c   net.Conn
			err error
		)
		if tlsCfg == nil {
			c, err = d.Dial("tcp", uri.Host)
		} else {
			c, err = tls.DialWithDialer(d, "tcp", uri.Host, tlsCfg)
		}
		if err != nil {
			return nil, err
		}
		return noWriteDeadline{c}, nil
	}
}

// noWriteDeadline is a connection whose SetWriteDeadline does nothing. Paho
// sets and clears a write deadline around every packet when
// Options.WriteTimeout is set, which costs about a sixth of the drain
// throughput; the uplink needs WriteTimeout only to bound how long Publish
// waits to hand a packet over, and a connection that stops taking writes is
// detected by the keep-alive (paho closes it when PINGRESP is late, which
// ends any blocked write).
type noWriteDeadline struct{ net.Conn }

func (noWriteDeadline) SetWriteDeadline(time.Time) error { return nil }

// nullStore is a paho message store that keeps nothing. Each connection is
// a new clean-session client, and unacknowledged records are re-sent from
// the Queue, so paho's own copy of every in-flight packet is only overhead.
type nullStore struct{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}
