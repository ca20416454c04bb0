package outbox_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/outbox/outboxtest"
	"github.com/bayagent/bayagent/agent/record"
	bolt "go.etcd.io/bbolt"
)

// benchBody gives records of about 500 bytes on the wire, a typical
// emission reading.
var benchBody = map[string]string{"pad": strings.Repeat("x", 250)}

const benchProducers = 8

// runProducers runs n operations split over benchProducers goroutines and
// reports appends/s.
func runProducers(b *testing.B, op func() error) {
	b.Helper()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < benchProducers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
}

// BenchmarkOutboxAppend8: 8 producers appending (seal + store + fsync).
func BenchmarkOutboxAppend8(b *testing.B) {
	o := outboxtest.Open(b, outbox.Options{MaxBytes: 1 << 30})
	ctx := context.Background()
	runProducers(b, func() error {
		_, err := o.Append(ctx, record.KindEmission, "J-2026-0001", benchBody)
		return err
	})
	st, _ := o.Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Appends)/float64(st.Commits), "records/commit")
	}
}

// bareWire is a sealed record of the same size as the outbox benchmark's.
func bareWire(b *testing.B) []byte {
	_, w, err := outboxtest.Sealer(b).Seal(record.KindEmission, "J-2026-0001", benchBody)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func openBare(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("r")); return err }); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkBareBoltBatch8: the baseline, bbolt's own DB.Batch with default
// settings writing the same bytes from 8 producers, no sealing.
func BenchmarkBareBoltBatch8(b *testing.B) {
	db := openBare(b)
	w := bareWire(b)
	var seq atomic.Uint64
	runProducers(b, func() error {
		return db.Batch(func(tx *bolt.Tx) error {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq.Add(1))
			return tx.Bucket([]byte("r")).Put(k[:], w)
		})
	})
}

// BenchmarkBareBoltUpdate8: one bbolt Update (one fsync) per append from 8
// producers, no sealing: what a store without group commit achieves.
func BenchmarkBareBoltUpdate8(b *testing.B) {
	db := openBare(b)
	w := bareWire(b)
	var seq atomic.Uint64
	runProducers(b, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq.Add(1))
			return tx.Bucket([]byte("r")).Put(k[:], w)
		})
	})
}
