package boltstore_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "receiver.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLockedAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "receiver.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Sealed(t, "dev-a", "J-1", 3)
	if _, err := s.PutRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.Open(path); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRecords(t.Context(), recs); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("PutRecords after Close = %v", err)
	}
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if out, err := s.PutRecords(t.Context(), recs); err != nil || out[2] != store.Duplicate {
		t.Fatalf("after reopen: %v, %v", out, err)
	}
}
