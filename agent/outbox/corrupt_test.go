package outbox_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/outbox/outboxtest"
	"github.com/bayagent/bayagent/agent/record"
)

// fillOutbox creates an outbox at path with n records of about 500 bytes,
// acks the first ack of them and closes it.
func fillOutbox(t *testing.T, path string, s *record.Sealer, n, ack int) {
	t.Helper()
	o, err := outbox.Open(path, outbox.Options{Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := o.Append(context.Background(), record.KindScan, "J-1", map[string]string{"pad": strings.Repeat("p", 500)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= ack; i++ {
		if _, err := o.Ack(uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFileIsMovedAside(t *testing.T) {
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	const pageSize = 4096
	tests := []struct {
		name string
		// damage corrupts the file at path (an outbox with 40 records of
		// which the first 10 were acked, or no file when fresh is set).
		damage func(t *testing.T, path string)
		// wantSalvaged is the last seq the reset must continue after; -1
		// means "anything between 1 and 40".
		wantSalvaged int
	}{
		{"not a bbolt file", func(t *testing.T, p string) {
			os.WriteFile(p, []byte(strings.Repeat("this is not a database\n", 3000)), 0o600)
		}, 0},
		{"ten bytes", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("0123456789"), 0o600)
		}, 0},
		{"truncated", func(t *testing.T, p string) {
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, -1},
		{"both meta pages damaged", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			junk := []byte(strings.Repeat("\xa5", 64))
			f.WriteAt(junk, 16)
			f.WriteAt(junk, pageSize+16)
		}, 40},
		{"damaged data page", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Give every leaf page after the metas an invalid page type.
			n := 0
			for off := 2 * pageSize; off+16 <= len(b); off += pageSize {
				if binary.NativeEndian.Uint16(b[off+8:]) == 0x02 {
					binary.NativeEndian.PutUint16(b[off+8:], 0x20)
					n++
				}
			}
			if n == 0 {
				t.Fatal("no leaf page found")
			}
			os.WriteFile(p, b, 0o600)
		}, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := outboxtest.Sealer(t)
			path := filepath.Join(t.TempDir(), "outbox.db")
			fillOutbox(t, path, s, 40, 10)
			tc.damage(t, path)
			o, err := outbox.Open(path, outbox.Options{Sealer: s, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatalf("Open of a corrupt file: %v", err)
			}
			defer func() {
				o.Close()
				if err := outboxtest.CheckFile(path); err != nil {
					t.Errorf("new database inconsistent: %v", err)
				}
			}()
			moved := path + ".corrupt-20261129T060000Z"
			if _, err := os.Stat(moved); err != nil {
				t.Fatalf("corrupt file not kept: %v", err)
			}
			es, err := o.Peek(10)
			if err != nil || len(es) != 1 {
				t.Fatalf("new outbox holds %d records, %v", len(es), err)
			}
			r, err := record.Decode(es[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				MovedTo  string `json:"moved_to"`
				Error    string `json:"error"`
				Salvaged uint64 `json:"salvaged_last_seq"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			if r.Kind != record.KindOutboxReset || r.Prev != record.Genesis || body.MovedTo != moved || body.Error == "" {
				t.Fatalf("reset record: kind %s prev %s body %s", r.Kind, r.Prev, r.Body)
			}
			switch {
			case tc.wantSalvaged >= 0 && body.Salvaged != uint64(tc.wantSalvaged),
				tc.wantSalvaged < 0 && (body.Salvaged < 1 || body.Salvaged > 40):
				t.Fatalf("salvaged last seq %d, want %d", body.Salvaged, tc.wantSalvaged)
			}
			if r.Seq != body.Salvaged+1 {
				t.Fatalf("reset record seq %d after salvaged %d", r.Seq, body.Salvaged)
			}
			t.Logf("error: %s; salvaged %d", body.Error, body.Salvaged)
			// The chain goes on from the reset record.
			next, err := o.Append(context.Background(), record.KindNote, "", nil)
			if err != nil || next.Seq != r.Seq+1 || next.Prev != r.Hash() {
				t.Fatalf("append after reset: seq %d, %v", next.Seq, err)
			}
			rep := verifyExport(t, o, s)
			if d := rep.Devices[0]; d.Resets.Count != 1 || d.BrokenLinks.Count != 0 || d.BadSignatures.Count != 0 || rep.OK() {
				t.Fatalf("verify after reset:\n%s", rep)
			}
			// A read-only open of a corrupt file is an error, not a reset.
			if _, err := outbox.Open(moved, outbox.Options{ReadOnly: true}); !errors.Is(err, outbox.ErrCorrupt) {
				t.Fatalf("read-only open of the corrupt file = %v", err)
			}
		})
	}
}
