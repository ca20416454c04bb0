package pgstore_test

import (
	"errors"
	"testing"

	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore/pgtest"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/storetest"
)

// TestStore runs the store suite against a real PostgreSQL, one database
// per subtest.
func TestStore(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := pgstore.Open(t.Context(), srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTwoStoresShareOneDatabase: what one receiver stores, the other sees
// as a duplicate; opening the schema twice is harmless.
func TestTwoStoresShareOneDatabase(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	dsn := srv.NewDatabase(t)
	a, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Sealed(t, "dev-a", "J-1", 4)
	if out, err := a.PutRecords(t.Context(), recs[:3]); err != nil || out[2] != store.Stored {
		t.Fatalf("a: %v, %v", out, err)
	}
	out, err := b.PutRecords(t.Context(), recs[1:])
	if err != nil || out[0] != store.Duplicate || out[1] != store.Duplicate || out[2] != store.Stored {
		t.Fatalf("b: %v, %v", out, err)
	}
	b.Close()
	if _, err := b.PutRecords(t.Context(), recs); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := pgstore.Open(t.Context(), "host=/nonexistent dbname=x connect_timeout=1"); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}
