package agent_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/clock"
	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/uplink"
)

// TestSignedCommands is hole 6 of issue 12: anything that could write to a
// box's command topic could clear its DTCs. With uplink.command_keys set, a
// command that changes the vehicle or a job runs only when an operator key
// signed it for this box: unsigned, signed by another key, for another
// box, replayed (same nonce) or stale ones are refused with their codes;
// commands that change nothing (live_stop) need no signature.
func TestSignedCommands(t *testing.T) {
	b := newBench(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	b.cfg.Uplink.CommandKeys = []config.CommandKey{{Name: "ops-1", PublicKey: base64.StdEncoding.EncodeToString(pub)}}
	// A synchronised clock: a signed command's time is checked against it.
	b.clock = clock.New(clock.Options{Kernel: func() (bool, error) { return true, nil }})
	b.start()
	b.waitOnline()

	n := 0
	signed := func(key ed25519.PrivateKey, shop, dev, name string, args any, at time.Time, nonce string) (string, []byte) {
		n++
		id := fmt.Sprintf("s%d", n)
		raw, err := command.Sign(key, "ops-1", shop, dev, id, name, args, at, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return id, raw
	}
	open := map[string]any{"job_id": "J-S1", "type": "repair", "plate": "浙A12345", "mileage_km": 1000, "complaint": "noise", "technician": "T007"}

	wantRefused(t, "unsigned open_job", b.command("open_job", open), uplink.CodeNotAuthorised)
	id, raw := signed(other, shop, device, "open_job", open, time.Now(), "nonce-other-key")
	wantRefused(t, "open_job signed by an unknown key", b.send(id, "open_job", raw), uplink.CodeNotAuthorised)
	id, raw = signed(priv, shop, "bay-02", "open_job", open, time.Now(), "nonce-other-box")
	wantRefused(t, "open_job signed for another box", b.send(id, "open_job", raw), uplink.CodeNotAuthorised)
	id, raw = signed(priv, shop, device, "open_job", open, time.Now().Add(-time.Hour), "nonce-stale")
	wantRefused(t, "open_job signed an hour ago", b.send(id, "open_job", raw), uplink.CodeReplayed)
	// Tampered args: the signature covers them byte for byte.
	id, raw = signed(priv, shop, device, "open_job", open, time.Now(), "nonce-tampered")
	wantRefused(t, "open_job with changed args", b.send(id, "open_job", []byte(strings.Replace(string(raw), "J-S1", "J-S9", 1))), uplink.CodeNotAuthorised)

	id, raw = signed(priv, shop, device, "open_job", open, time.Now(), "nonce-good-1")
	first := b.send(id, "open_job", raw)
	if !first.OK {
		t.Fatalf("signed open_job: %+v", first)
	}
	// The same message again (a redelivery, or someone replaying it): the
	// first reply again, not a second run.
	if again := b.send(id, "open_job", raw); !again.OK || string(again.Result) != string(first.Result) {
		t.Fatalf("the signed open_job again: %+v, want the first reply %+v", again, first)
	}
	// A nonce is good for one command only.
	note := map[string]any{"author": "T007", "text": "catalyst replaced"}
	id, raw = signed(priv, shop, device, "add_note", note, time.Now(), "nonce-good-1")
	wantRefused(t, "add_note with a spent nonce", b.send(id, "add_note", raw), uplink.CodeReplayed)
	noteID, noteRaw := signed(priv, shop, device, "add_note", note, time.Now(), "nonce-good-2")
	if r := b.send(noteID, "add_note", noteRaw); !r.OK {
		t.Fatalf("signed add_note: %+v", r)
	}

	unsignedClear := b.command("clear_dtcs", map[string]any{"technician": "T007", "reason": "repaired"})
	wantRefused(t, "unsigned clear_dtcs", unsignedClear, uplink.CodeNotAuthorised)
	if r := b.command("live_stop", map[string]any{}); r.Code == uplink.CodeNotAuthorised {
		t.Fatalf("live_stop needs no signature: %+v", r)
	}
	// Only the signed commands stored anything: one job_open, one note.
	kinds := map[string]int{}
	b.obs.WaitFor(30*time.Second, "the note's record", func(ms []mosquittotest.Message) bool {
		kinds = map[string]int{}
		for _, r := range b.records(ms) {
			kinds[r.Kind]++
		}
		return kinds["note"] > 0
	})
	if kinds["job_open"] != 1 || kinds["note"] != 1 || kinds["dtc_clear"] != 0 {
		t.Fatalf("records by kind %v, want one job_open and one note", kinds)
	}

	// After a restart the box still knows the nonces it saw (the command
	// ids it forgot): the add_note replayed within its 5 minutes is
	// refused, not run a second time.
	count := func(ms []mosquittotest.Message, topic, id, has string) int {
		n := 0
		for _, m := range ms {
			var r uplink.Reply
			if m.Topic == topic && (id == "" || json.Unmarshal(m.Payload, &r) == nil && r.ID == id) && bytes.Contains(m.Payload, []byte(has)) {
				n++
			}
		}
		return n
	}
	online := count(b.obs.Messages(), topics.Status, "", `"state":"online"`)
	b.stop()
	b.start()
	b.obs.WaitFor(30*time.Second, "the device online again", func(ms []mosquittotest.Message) bool {
		return count(ms, topics.Status, "", `"state":"online"`) > online
	})
	replies := count(b.obs.Messages(), topics.Reply, noteID, "")
	if tok := b.obs.Client().Publish(topics.Cmd, 1, false, noteRaw); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	var again uplink.Reply
	b.obs.WaitFor(30*time.Second, "the reply to the replay", func(ms []mosquittotest.Message) bool {
		if count(ms, topics.Reply, noteID, "") <= replies {
			return false
		}
		for _, m := range ms {
			var r uplink.Reply
			if m.Topic == topics.Reply && json.Unmarshal(m.Payload, &r) == nil && r.ID == noteID {
				again = r
			}
		}
		return true
	})
	wantRefused(t, "add_note replayed after a restart", again, uplink.CodeReplayed)
	// A command sent after it is answered after it: had the replay run, its
	// note would be stored by then.
	id, raw = signed(priv, shop, device, "add_note", note, time.Now(), "nonce-good-3")
	if r := b.send(id, "add_note", raw); !r.OK {
		t.Fatalf("a new signed add_note after the restart: %+v", r)
	}
	b.obs.WaitFor(30*time.Second, "the second note's record", func(ms []mosquittotest.Message) bool {
		return count(ms, topics.Records, "", `"kind":"note"`) >= 2
	})
	if n := len(b.notes()); n != 2 {
		t.Fatalf("%d notes stored, want 2 (the replay not run)", n)
	}
}
