package uplink

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// dialer opens the network connection for paho: TCP, then TLS for ssl://,
// tls:// and mqtts://. The connection it returns ignores write deadlines
// (see noWriteDeadline) and never hands paho a PUBLISH larger than
// maxPublish (see limitReader).
func dialer(tlsCfg *tls.Config, timeout time.Duration, maxPublish int, tooLarge func(topic string, size int)) mqtt.OpenConnectionFunc {
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
		return limitConn{noWriteDeadline{c}, newLimitReader(c, maxPublish, tooLarge)}, nil
	}
}

// limitConn reads through a limitReader.
type limitConn struct {
	net.Conn
	r *limitReader
}

func (c limitConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tooLargeMarker starts the payload that replaces one too large to read:
// the marker, then the size of the payload in decimal. It is no JSON, so
// no command can look like it.
const tooLargeMarker = "\x00bayagent: payload too large: "

// limitReader passes the broker's MQTT packets to paho, except that a
// PUBLISH whose remaining length exceeds max is not read whole (paho would
// allocate it all: a 200 MB command would take 200 MB of a 512 MB box):
// its topic and packet id are kept, its payload is read and thrown away a
// buffer at a time, and paho gets the same PUBLISH with the payload
// tooLargeMarker and the size, which it acknowledges as usual and the
// uplink answers with command_too_large. MQTT 3.1.1 has no way to tell the
// broker a maximum packet size: the broker's own limit
// (message_size_limit, docs/broker.md) keeps such messages off the network.
type limitReader struct {
	r        *bufio.Reader
	max      int
	tooLarge func(topic string, size int)
	out      []byte // bytes to hand out before reading on
	left     int    // bytes of the current packet still to pass through
}

func newLimitReader(r io.Reader, max int, tooLarge func(string, int)) *limitReader {
	return &limitReader{r: bufio.NewReaderSize(r, 32<<10), max: max, tooLarge: tooLarge}
}

func (l *limitReader) Read(p []byte) (int, error) {
	for {
		if len(l.out) > 0 {
			n := copy(p, l.out)
			l.out = l.out[n:]
			return n, nil
		}
		if l.left > 0 {
			n, err := l.r.Read(p[:min(len(p), l.left)])
			l.left -= n
			return n, err
		}
		if err := l.next(); err != nil {
			return 0, err
		}
	}
}

// next reads the fixed header of the next packet and prepares what paho
// gets of it.
func (l *limitReader) next() error {
	h, err := l.r.ReadByte()
	if err != nil {
		return err
	}
	length, lenBytes, err := readLength(l.r)
	if err != nil {
		return err
	}
	l.out = append(append(l.out[:0], h), lenBytes...)
	if h>>4 != packets.Publish || length <= l.max {
		l.left = length
		return nil
	}
	// The variable header: topic, and the packet id for QoS 1 and 2.
	head := 2
	var tl [2]byte
	if _, err := io.ReadFull(l.r, tl[:]); err != nil {
		return err
	}
	topicLen := int(tl[0])<<8 | int(tl[1])
	head += topicLen
	if (h>>1)&3 > 0 {
		head += 2
	}
	if head > length {
		return fmt.Errorf("uplink: malformed PUBLISH from the broker: a %d-byte header in a %d-byte packet", head, length)
	}
	vh := make([]byte, head)
	copy(vh, tl[:])
	if _, err := io.ReadFull(l.r, vh[2:]); err != nil {
		return err
	}
	size := length - head
	if _, err := l.r.Discard(size); err != nil {
		return err
	}
	if l.tooLarge != nil {
		l.tooLarge(string(vh[2:2+topicLen]), size)
	}
	payload := fmt.Appendf(nil, "%s%d", tooLargeMarker, size)
	l.out = append(append(append(l.out[:0], h), encodeLength(len(vh)+len(payload))...), vh...)
	l.out = append(l.out, payload...)
	return nil
}

// readLength reads an MQTT remaining length (1 to 4 bytes) and returns it
// with its bytes.
func readLength(r *bufio.Reader) (int, []byte, error) {
	var raw []byte
	n, shift := 0, 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		raw = append(raw, b)
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, raw, nil
		}
		shift += 7
		if len(raw) == 4 {
			return 0, nil, errors.New("uplink: malformed remaining length from the broker")
		}
	}
}

func encodeLength(n int) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
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
