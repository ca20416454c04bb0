package uplink

import (
	"bytes"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestLimitReader is part of hole 6 of issue 12: a 200 MB command was
// refused only after it had been read whole (RSS 484 MB). The connection
// hands paho a PUBLISH beyond the limit with its payload replaced by the
// marker and the size, having read the payload a buffer at a time: a
// 64 MiB command costs far less than 64 MiB of memory. The packets around
// it pass unchanged.
func TestLimitReader(t *testing.T) {
	const big = 64 << 20
	const topic = "bayagent/s1/dev-a/cmd"
	pkt := func(p packets.ControlPacket) []byte {
		var b bytes.Buffer
		if err := p.Write(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	connack := pkt(packets.NewControlPacket(packets.Connack))
	small := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	small.TopicName, small.Qos, small.MessageID, small.Payload = topic, 1, 8, []byte(`{"id":"c2","cmd":"start_scan"}`)
	// The big PUBLISH: its header, then big zero bytes of payload.
	head := append([]byte{0x32}, encodeLength(2+len(topic)+2+big)...)
	head = append(head, 0, byte(len(topic)))
	head = append(head, topic...)
	head = append(head, 0, 7) // packet id 7
	stream := io.MultiReader(bytes.NewReader(connack), bytes.NewReader(head), io.LimitReader(zeros{}, big), bytes.NewReader(pkt(small)))

	var seen []string
	l := newLimitReader(stream, 1024, func(topic string, size int) { seen = append(seen, topic+" "+strconv.Itoa(size)) })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got []packets.ControlPacket
	for range 3 {
		p, err := packets.ReadPacket(l)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	runtime.ReadMemStats(&after)
	if _, ok := got[0].(*packets.ConnackPacket); !ok {
		t.Fatalf("first packet %v, want the CONNACK", got[0])
	}
	p, ok := got[1].(*packets.PublishPacket)
	if !ok || p.TopicName != topic || p.MessageID != 7 || p.Qos != 1 || string(p.Payload) != tooLargeMarker+strconv.Itoa(big) {
		t.Fatalf("second packet %v, want the PUBLISH with id 7 and the marker", got[1])
	}
	if s, ok := got[2].(*packets.PublishPacket); !ok || s.MessageID != 8 || string(s.Payload) != string(small.Payload) {
		t.Fatalf("third packet %v, want the small PUBLISH unchanged", got[2])
	}
	if len(seen) != 1 || seen[0] != topic+" "+strconv.Itoa(big) {
		t.Fatalf("tooLarge calls %q", seen)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("reading a %d-byte command allocated %d bytes", big, alloc)
	}
}

func FuzzLimitReader(f *testing.F) {
	f.Add([]byte{0x20, 0x02, 0x00, 0x00}, 16)
	f.Add([]byte{0x32, 0x0a, 0x00, 0x01, 't', 0x00, 0x01, 'a', 'b', 'c', 'd', 'e'}, 4)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 4)
	f.Add([]byte{0x30, 0x05, 0xff, 0xff, 'x', 'y', 'z'}, 1)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		l := newLimitReader(bytes.NewReader(b), max%4096, nil)
		for range 8 {
			if _, err := packets.ReadPacket(l); err != nil {
				return
			}
		}
	})
}
