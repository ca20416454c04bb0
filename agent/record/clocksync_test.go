package record

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clockStream is a box that booted with its clock 332 days behind: three
// records before the sync, the clock_sync record, one after it, and one
// after the clock was set back by 2 s.
func clockStream(t *testing.T) (*Sealer, string) {
	t.Helper()
	boot := "5c8e9a1e-0b6f-4c1d-9f8e-2a7d3c4b5e6f"
	type stamp struct {
		wall   time.Time
		synced bool
		mono   uint64
	}
	behind := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	synced := time.Date(2026, 11, 29, 5, 0, 20, 0, time.UTC)
	stamps := []stamp{
		{behind, false, 10000},
		{behind.Add(1500 * time.Millisecond), false, 11500},
		{behind.Add(3 * time.Second), false, 13000},
		{synced, true, 20000},
		{synced.Add(5 * time.Second), true, 25000},
		{synced.Add(3 * time.Second), true, 30000},
	}
	i := 0
	s, err := NewSealer(SealerConfig{
		Key: testKey(), Device: "bay-01", Shop: "330106000123456",
		Now:   func() time.Time { return stamps[i].wall },
		Clock: func() Clock { return Clock{Synced: stamps[i].synced, Boot: boot, MonoMS: stamps[i].mono} },
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seal := func(kind string, body any) {
		_, w := mustSeal(t, s, kind, "", body)
		out = append(out, string(w))
		i++
	}
	seal(KindPresence, map[string]any{"connected": true})
	seal(KindNote, map[string]any{"text": "before the sync"})
	seal(KindNote, map[string]any{"text": "still before the sync"})
	off := int64(synced.Sub(behind.Add(3*time.Second))/time.Millisecond) - 7000
	seal(KindClockSync, ClockSyncBody{Boot: boot, SyncWall: synced, SyncMonoMS: 20000, OffsetMS: &off})
	seal(KindNote, map[string]any{"text": "after the sync"})
	seal(KindNote, map[string]any{"text": "after the clock was set back"})
	return s, strings.Join(out, "\n") + "\n"
}

// TestVerifyCorrectsTimes: verify lists the records sealed with an
// unsynchronised clock with their corrected times from the clock_sync
// record of their boot, and the time that went backwards; the stream is
// the published example testdata/records/chain-clock.jsonl.
func TestVerifyCorrectsTimes(t *testing.T) {
	s, stream := clockStream(t)
	rep := Verify(strings.NewReader(stream), Keys{"bay-01": s.PublicKey()})
	if !rep.OK() || len(rep.Devices) != 1 {
		t.Fatalf("the stream has no chain problem:\n%s", rep)
	}
	d := rep.Devices[0]
	if d.Unsynced.Count != 3 || d.Uncorrectable.Count != 0 || len(d.Corrected) != 3 {
		t.Fatalf("unsynced %v, uncorrectable %v, corrected %v:\n%s", d.Unsynced, d.Uncorrectable, d.Corrected, rep)
	}
	for i, want := range []string{"2026-11-29T05:00:10.000Z", "2026-11-29T05:00:11.500Z", "2026-11-29T05:00:13.000Z"} {
		if c := d.Corrected[i]; c.Seq != uint64(i+1) || c.By != 4 || c.Corrected.Format(TimeLayout) != want {
			t.Errorf("correction %d: %+v, want seq %d corrected to %s by seq 4", i, c, i+1, want)
		}
	}
	if d.Backwards.Count != 1 || d.Backwards.Seqs[0] != 6 {
		t.Errorf("backwards %v, want seq 6", d.Backwards)
	}
	text := rep.String()
	for _, want := range []string{
		"sealed with an unsynchronised clock: 1, 2, 3",
		"seq 1: time 2026-01-01T00:00:10.000Z corrected to 2026-11-29T05:00:10.000Z (clock_sync seq 4)",
		"times going backwards (earlier than the record before): 6",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}

	// Without the clock_sync record, the same records cannot be corrected.
	lines := strings.SplitAfter(stream, "\n")
	rep = Verify(strings.NewReader(strings.Join(append(lines[:3:3], lines[4:]...), "")), Keys{"bay-01": s.PublicKey()})
	if d := rep.Devices[0]; d.Uncorrectable.Count != 3 || len(d.Corrected) != 0 {
		t.Errorf("without clock_sync: uncorrectable %v, corrected %v", d.Uncorrectable, d.Corrected)
	}

	dir := filepath.Join("..", "..", "testdata", "records")
	files := map[string]string{"chain-clock.jsonl": stream, "chain-clock.report.txt": text}
	for name, want := range files {
		compareGolden(t, filepath.Join(dir, name), want)
	}
}
