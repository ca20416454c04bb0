// Package pgstore is the receiver's store in PostgreSQL, for several
// receivers.
//
// Several receivers share one database through jackc/pgx (see package store
// for what it keeps). It behaves as boltstore does; the differences are where
// the locks are: UpdateChain holds the device's row in "chains" (SELECT ...
// FOR UPDATE) for its transaction, and ClaimUpload takes one due job with FOR
// UPDATE SKIP LOCKED, so receivers never wait for each other's uploads.
//
// Open creates the tables when they are missing (under an advisory lock,
// so receivers starting together do not race). A PutRecords batch of
// records none of which is stored yet goes in with one COPY; a batch that
// holds a stored key (a redelivery, a resend, the other receiver's) with
// one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING, which
// tells stored, duplicate and conflicting records apart.
package pgstore

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a PostgreSQL-backed store.Store.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS records (
	device      text        NOT NULL,
	seq         bigint      NOT NULL,
	shop        text        NOT NULL,
	kind        text        NOT NULL,
	job         text        NOT NULL,
	sealed_at   timestamptz NOT NULL,
	hash        bytea       NOT NULL,
	prev        bytea       NOT NULL,
	wire        bytea       NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (device, seq)
);
CREATE INDEX IF NOT EXISTS records_job ON records (device, job, seq) WHERE job <> '';
CREATE TABLE IF NOT EXISTS quarantine (
	id          bigserial   PRIMARY KEY,
	device      text        NOT NULL,
	seq         bigint      NOT NULL,
	reason      text        NOT NULL,
	detail      text        NOT NULL,
	topic       text        NOT NULL,
	wire        bytea       NOT NULL,
	received_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS device_keys (
	device text  PRIMARY KEY,
	pub    bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS chains (
	device text  PRIMARY KEY,
	state  jsonb
);
CREATE TABLE IF NOT EXISTS jobs (
	device       text        NOT NULL,
	job          text        NOT NULL,
	state        text        NOT NULL,
	next_attempt timestamptz,
	lease_owner  text        NOT NULL DEFAULT '',
	lease_until  timestamptz,
	data         jsonb       NOT NULL,
	PRIMARY KEY (device, job)
);
`

// schemaLock is the advisory lock key held while the schema is created.
const schemaLock = 0x62617972 // "bayr"

// Open connects to the database named by dsn (a libpq connection string
// or URL) and creates the tables if needed.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: create tables: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

// mapErr reports an error after Close as store.ErrClosed.
func (s *Store) mapErr(err error) error {
	if err != nil && s.closed.Load() {
		return fmt.Errorf("%w: %v", store.ErrClosed, err)
	}
	return err
}

// PutRecords implements store.Store.
func (s *Store) PutRecords(ctx context.Context, recs []store.Record) ([]store.Outcome, error) {
	out := make([]store.Outcome, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	n := len(recs)
	var (
		devs, shops, kinds, jobs = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                     = make([]int64, n)
		sealed, received         = make([]time.Time, n), make([]time.Time, n)
		hashes, prevs, wires     = make([][]byte, n), make([][]byte, n), make([][]byte, n)
	)
	for i := range recs {
		r := &recs[i]
		devs[i], seqs[i], shops[i], kinds[i], jobs[i] = r.Device, int64(r.Seq), r.Shop, r.Kind, r.Job
		sealed[i], received[i] = r.Time, r.ReceivedAt
		hashes[i], prevs[i], wires[i] = r.Hash[:], r.Prev[:], r.Wire
	}
	type key struct {
		dev string
		seq int64
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if ok, err := s.copyNew(ctx, tx, recs); err != nil || ok {
			if ok {
				for i := range out {
					out[i] = store.Stored
				}
			}
			return err
		}
		rows, err := tx.Query(ctx, `
			INSERT INTO records (device, seq, shop, kind, job, sealed_at, hash, prev, wire, received_at)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
				$6::timestamptz[], $7::bytea[], $8::bytea[], $9::bytea[], $10::timestamptz[])
			ON CONFLICT (device, seq) DO NOTHING
			RETURNING device, seq`,
			devs, seqs, shops, kinds, jobs, sealed, hashes, prevs, wires, received)
		if err != nil {
			return err
		}
		inserted := map[key]bool{}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.dev, &k.seq); err != nil {
				rows.Close()
				return err
			}
			inserted[k] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var others []int
		for i := range recs {
			k := key{devs[i], seqs[i]}
			if inserted[k] {
				out[i] = store.Stored
				delete(inserted, k) // a second copy in the batch is not the stored one
				continue
			}
			others = append(others, i)
		}
		if len(others) == 0 {
			return nil
		}
		od, oseq := make([]string, len(others)), make([]int64, len(others))
		for j, i := range others {
			od[j], oseq[j] = devs[i], seqs[i]
		}
		rows, err = tx.Query(ctx, `
			SELECT r.device, r.seq, r.hash FROM records r
			JOIN unnest($1::text[], $2::bigint[]) AS k(device, seq) ON r.device = k.device AND r.seq = k.seq`, od, oseq)
		if err != nil {
			return err
		}
		stored := map[key][]byte{}
		for rows.Next() {
			var k key
			var h []byte
			if err := rows.Scan(&k.dev, &k.seq, &h); err != nil {
				rows.Close()
				return err
			}
			stored[k] = h
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, i := range others {
			out[i] = store.Conflict
			if h, ok := stored[key{devs[i], seqs[i]}]; ok && string(h) == string(hashes[i]) {
				out[i] = store.Duplicate
			}
		}
		return nil
	})
	return out, s.mapErr(err)
}

// copyNew stores recs with COPY when none of them is stored yet and the
// batch holds no key twice: the common case, and about twice as cheap for
// the server as the INSERT ... ON CONFLICT that sorts out the rest. It
// reports false, with nothing stored, when a key is already taken (the
// COPY's savepoint is rolled back).
func (s *Store) copyNew(ctx context.Context, tx pgx.Tx, recs []store.Record) (bool, error) {
	type key struct {
		dev string
		seq uint64
	}
	seen := make(map[key]bool, len(recs))
	for _, r := range recs {
		k := key{r.Device, r.Seq}
		if seen[k] {
			return false, nil
		}
		seen[k] = true
	}
	// In key order, so that two batches stored at once that share keys
	// wait for each other rather than deadlock.
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		return cmp.Or(cmp.Compare(recs[i].Device, recs[j].Device), cmp.Compare(recs[i].Seq, recs[j].Seq))
	})
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"records"}, strings.Split(recordCols, ", "),
		pgx.CopyFromSlice(len(order), func(i int) ([]any, error) {
			r := &recs[order[i]]
			return []any{r.Device, int64(r.Seq), r.Shop, r.Kind, r.Job, r.Time, r.Hash[:], r.Prev[:], r.Wire, r.ReceivedAt}, nil
		}))
	if err == nil {
		return true, sp.Commit(ctx)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return false, rerr
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return false, nil
	}
	return false, err
}

const recordCols = "device, seq, shop, kind, job, sealed_at, hash, prev, wire, received_at"

func scanRecord(row pgx.Row) (store.Record, error) {
	var r store.Record
	var seq int64
	var hash, prev []byte
	if err := row.Scan(&r.Device, &seq, &r.Shop, &r.Kind, &r.Job, &r.Time, &hash, &prev, &r.Wire, &r.ReceivedAt); err != nil {
		return r, err
	}
	r.Seq = uint64(seq)
	copy(r.Hash[:], hash)
	copy(r.Prev[:], prev)
	r.Time, r.ReceivedAt = r.Time.UTC(), r.ReceivedAt.UTC()
	return r, nil
}

func (s *Store) collectRecords(rows pgx.Rows, err error) ([]store.Record, error) {
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, s.mapErr(rows.Err())
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, device string, seq uint64) (store.Record, bool, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, "SELECT "+recordCols+" FROM records WHERE device = $1 AND seq = $2", device, int64(seq)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, false, nil
	}
	return r, err == nil, s.mapErr(err)
}

// Records implements store.Store.
func (s *Store) Records(ctx context.Context, device string, from, to uint64, limit int) ([]store.Record, error) {
	return s.collectRecords(s.pool.Query(ctx, "SELECT "+recordCols+" FROM records WHERE device = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4",
		device, int64(min(from, record.MaxSeq)), int64(min(to, record.MaxSeq)), limit))
}

// JobRecords implements store.Store.
func (s *Store) JobRecords(ctx context.Context, device, job string) ([]store.Record, error) {
	return s.collectRecords(s.pool.Query(ctx, "SELECT "+recordCols+" FROM records WHERE device = $1 AND job = $2 AND job <> '' ORDER BY seq", device, job))
}

// Quarantine implements store.Store.
func (s *Store) Quarantine(ctx context.Context, qs []store.Quarantined) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i := range qs {
			q := &qs[i]
			wire := q.Wire
			if wire == nil {
				wire = []byte{}
			}
			err := tx.QueryRow(ctx, `INSERT INTO quarantine (device, seq, reason, detail, topic, wire, received_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
				q.Device, int64(min(q.Seq, record.MaxSeq)), q.Reason, q.Detail, q.Topic, wire, q.ReceivedAt).Scan(&q.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return s.mapErr(err)
}

// QuarantinedRecords implements store.Store.
func (s *Store) QuarantinedRecords(ctx context.Context, device string, limit int) ([]store.Quarantined, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, device, seq, reason, detail, topic, wire, received_at FROM quarantine
		WHERE $1 = '' OR device = $1 ORDER BY id DESC LIMIT $2`, device, limit)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []store.Quarantined
	for rows.Next() {
		var q store.Quarantined
		var seq int64
		if err := rows.Scan(&q.ID, &q.Device, &seq, &q.Reason, &q.Detail, &q.Topic, &q.Wire, &q.ReceivedAt); err != nil {
			return nil, err
		}
		q.Seq, q.ReceivedAt = uint64(seq), q.ReceivedAt.UTC()
		out = append(out, q)
	}
	return out, s.mapErr(rows.Err())
}

// EnrollKey implements store.Store.
func (s *Store) EnrollKey(ctx context.Context, device string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes for %s", store.ErrKey, len(pub), device)
	}
	if err := record.ValidDevice(device); err != nil {
		return fmt.Errorf("%w: %v", store.ErrKey, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO device_keys (device, pub) VALUES ($1, $2)
		ON CONFLICT (device) DO UPDATE SET pub = EXCLUDED.pub`, device, []byte(pub))
	return s.mapErr(err)
}

// Keys implements store.Store.
func (s *Store) Keys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	rows, err := s.pool.Query(ctx, "SELECT device, pub FROM device_keys")
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	out := map[string]ed25519.PublicKey{}
	for rows.Next() {
		var d string
		var p []byte
		if err := rows.Scan(&d, &p); err != nil {
			return nil, err
		}
		if len(p) == ed25519.PublicKeySize {
			out[d] = p
		}
	}
	return out, s.mapErr(rows.Err())
}

type chainTx struct {
	store.ChainState
	ctx    context.Context
	tx     pgx.Tx
	device string
}

func (c *chainTx) Links(after uint64, n int) ([]store.Link, error) {
	rows, err := c.tx.Query(c.ctx, "SELECT seq, hash, prev, kind, job, shop FROM records WHERE device = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		c.device, int64(min(after, record.MaxSeq)), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		var l store.Link
		var seq int64
		var h, p []byte
		if err := rows.Scan(&seq, &h, &p, &l.Kind, &l.Job, &l.Shop); err != nil {
			return nil, err
		}
		l.Seq = uint64(seq)
		copy(l.Hash[:], h)
		copy(l.Prev[:], p)
		out = append(out, l)
	}
	return out, rows.Err()
}

func (c *chainTx) AddJob(j store.Job) error { return insertJob(c.ctx, c.tx, j, true) }

func insertJob(ctx context.Context, tx pgx.Tx, j store.Job, onlyNew bool) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	var next, until *time.Time
	if !j.NextAttempt.IsZero() {
		next = &j.NextAttempt
	}
	if !j.LeaseUntil.IsZero() {
		until = &j.LeaseUntil
	}
	q := `INSERT INTO jobs (device, job, state, next_attempt, lease_owner, lease_until, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (device, job) DO `
	if onlyNew {
		q += "NOTHING"
	} else {
		q += `UPDATE SET state = EXCLUDED.state, next_attempt = EXCLUDED.next_attempt, lease_owner = EXCLUDED.lease_owner,
			lease_until = EXCLUDED.lease_until, data = EXCLUDED.data`
	}
	_, err = tx.Exec(ctx, q, j.Device, j.Job, string(j.State), next, j.LeaseOwner, until, data)
	return err
}

// UpdateChain implements store.Store.
func (s *Store) UpdateChain(ctx context.Context, device string, fn func(store.ChainTx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO chains (device, state) VALUES ($1, NULL) ON CONFLICT DO NOTHING", device); err != nil {
			return err
		}
		var raw []byte
		if err := tx.QueryRow(ctx, "SELECT state FROM chains WHERE device = $1 FOR UPDATE", device).Scan(&raw); err != nil {
			return err
		}
		state, err := store.LoadChainState(device, raw)
		if err != nil {
			return fmt.Errorf("pgstore: %w", err)
		}
		ct := &chainTx{ChainState: state, ctx: ctx, tx: tx, device: device}
		if err := fn(ct); err != nil {
			return err
		}
		b, err := ct.Encoded()
		if err != nil || b == nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE chains SET state = $2 WHERE device = $1", device, b)
		return err
	})
	return s.mapErr(err)
}

// Chain implements store.Store.
func (s *Store) Chain(ctx context.Context, device string) (store.Chain, bool, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT state FROM chains WHERE device = $1 AND state IS NOT NULL", device).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Chain{}, false, nil
	}
	if err != nil {
		return store.Chain{}, false, s.mapErr(err)
	}
	var ch store.Chain
	err = json.Unmarshal(raw, &ch)
	return ch, err == nil, err
}

// Chains implements store.Store.
func (s *Store) Chains(ctx context.Context) ([]store.Chain, error) {
	rows, err := s.pool.Query(ctx, "SELECT state FROM chains WHERE state IS NOT NULL ORDER BY device")
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []store.Chain
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var ch store.Chain
		if err := json.Unmarshal(raw, &ch); err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, s.mapErr(rows.Err())
}

// Devices implements store.Store.
func (s *Store) Devices(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT DISTINCT device FROM records ORDER BY device")
	if err != nil {
		return nil, s.mapErr(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// StoredCount implements store.Store.
func (s *Store) StoredCount(ctx context.Context, device string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM records WHERE device = $1", device).Scan(&n)
	return n, s.mapErr(err)
}

func (s *Store) scanJobs(rows pgx.Rows, err error) ([]store.Job, error) {
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []store.Job
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var j store.Job
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, s.mapErr(rows.Err())
}

// Job implements store.Store.
func (s *Store) Job(ctx context.Context, device, job string) (store.Job, bool, error) {
	js, err := s.scanJobs(s.pool.Query(ctx, "SELECT data FROM jobs WHERE device = $1 AND job = $2", device, job))
	if err != nil || len(js) == 0 {
		return store.Job{}, false, err
	}
	return js[0], true, nil
}

// Jobs implements store.Store.
func (s *Store) Jobs(ctx context.Context, state store.JobState) ([]store.Job, error) {
	return s.scanJobs(s.pool.Query(ctx, "SELECT data FROM jobs WHERE $1 = '' OR state = $1 ORDER BY device, job", string(state)))
}

// JobsByID implements store.Store.
func (s *Store) JobsByID(ctx context.Context, job string) ([]store.Job, error) {
	return s.scanJobs(s.pool.Query(ctx, "SELECT data FROM jobs WHERE job = $1 ORDER BY device", job))
}

// SetJob implements store.Store.
func (s *Store) SetJob(ctx context.Context, j store.Job, owner string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var lease string
		var until *time.Time
		err := tx.QueryRow(ctx, "SELECT lease_owner, lease_until FROM jobs WHERE device = $1 AND job = $2 FOR UPDATE", j.Device, j.Job).Scan(&lease, &until)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case lease != "" && lease != owner && until != nil && time.Now().Before(*until):
			return fmt.Errorf("%w: job %s/%s is leased to %s", store.ErrNotOwner, j.Device, j.Job, lease)
		}
		return insertJob(ctx, tx, j, false)
	})
	return s.mapErr(err)
}

// SwapJob implements store.Store.
func (s *Store) SwapJob(ctx context.Context, j store.Job, from store.JobState) (bool, error) {
	swapped := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, "SELECT state FROM jobs WHERE device = $1 AND job = $2 FOR UPDATE", j.Device, j.Job).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && state != string(from) {
			return nil
		}
		if err != nil {
			return err
		}
		swapped = true
		return insertJob(ctx, tx, j, false)
	})
	return swapped, s.mapErr(err)
}

// ClaimUpload implements store.Store.
func (s *Store) ClaimUpload(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Job, bool, error) {
	var claimed store.Job
	found := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT data FROM jobs
			WHERE state = 'pending' AND (next_attempt IS NULL OR next_attempt <= $1) AND (lease_owner = '' OR lease_owner = $2 OR lease_until < $1)
			ORDER BY next_attempt NULLS FIRST, device, job LIMIT 1 FOR UPDATE SKIP LOCKED`, now, owner).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &claimed); err != nil {
			return err
		}
		claimed.LeaseOwner, claimed.LeaseUntil = owner, now.Add(lease)
		found = true
		return insertJob(ctx, tx, claimed, false)
	})
	return claimed, found, s.mapErr(err)
}

// Counts implements store.Store.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	c := store.Counts{Quarantined: map[string]int64{}, Jobs: map[store.JobState]int64{}}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM records").Scan(&c.Records); err != nil {
		return c, s.mapErr(err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM chains WHERE state IS NOT NULL").Scan(&c.Devices); err != nil {
		return c, s.mapErr(err)
	}
	for _, q := range []struct {
		sql string
		put func(string, int64)
	}{
		{"SELECT reason, count(*) FROM quarantine GROUP BY reason", func(k string, n int64) { c.Quarantined[k] = n }},
		{"SELECT state, count(*) FROM jobs GROUP BY state", func(k string, n int64) { c.Jobs[store.JobState(k)] = n }},
	} {
		rows, err := s.pool.Query(ctx, q.sql)
		if err != nil {
			return c, s.mapErr(err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return c, err
			}
			q.put(k, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
	}
	return c, nil
}
