package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"

	"github.com/bayagent/bayagent/agent/record"
)

// bbolt meta page layout (go.etcd.io/bbolt/internal/common, format
// version 2, native byte order): a 16-byte page header, then magic u32,
// version u32, pageSize u32, flags u32, root bucket (pgid u64, seq u64),
// freelist pgid u64, high-water pgid u64, txid u64, checksum u64 (FNV-1a 64
// of the meta fields before it).
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaFlag   = 0x04
	metaOff        = 16
	metaLen        = 64
	metaSumOff     = metaOff + 56
	boltMaxPageLog = 14 // bbolt tries page sizes 1 KiB << 0..14
)

type metaInfo struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

func readMeta(f io.ReaderAt, off int64) (metaInfo, bool) {
	var b [metaOff + metaLen]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return metaInfo{}, false
	}
	ne := binary.NativeEndian
	if ne.Uint16(b[8:])&boltMetaFlag == 0 ||
		ne.Uint32(b[metaOff:]) != boltMagic || ne.Uint32(b[metaOff+4:]) != boltVersion {
		return metaInfo{}, false
	}
	h := fnv.New64a()
	h.Write(b[metaOff:metaSumOff])
	if h.Sum64() != ne.Uint64(b[metaSumOff:]) {
		return metaInfo{}, false
	}
	m := metaInfo{
		pageSize: ne.Uint32(b[metaOff+8:]),
		pgid:     ne.Uint64(b[metaOff+40:]),
		txid:     ne.Uint64(b[metaOff+48:]),
	}
	if m.pageSize < 1024 || m.pageSize&(m.pageSize-1) != 0 {
		return metaInfo{}, false
	}
	return m, true
}

// checkFile refuses, with ErrCorrupt, a non-empty file with no valid bbolt
// meta page or whose newest meta page points past the end of the file (a
// truncated file would make bbolt fault on access). A missing or empty
// file is fine (bbolt creates it); a file that cannot be read is an error
// but not corruption.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("outbox: %s is not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	var best metaInfo
	found := false
	consider := func(m metaInfo, ok bool) {
		if ok && (!found || m.txid > best.txid) {
			best, found = m, true
		}
	}
	m0, ok0 := readMeta(f, 0)
	consider(m0, ok0)
	if ok0 {
		consider(readMeta(f, int64(m0.pageSize)))
	} else {
		for i := 0; i <= boltMaxPageLog; i++ {
			if m, ok := readMeta(f, 1024<<i); ok {
				consider(m, ok)
				break
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: %s: no valid bbolt meta page (not a bbolt database, or both meta pages damaged)", ErrCorrupt, path)
	}
	if best.pgid > uint64(size)/uint64(best.pageSize) {
		return fmt.Errorf("%w: %s: file is %d bytes but its meta page needs %d pages of %d bytes (truncated)",
			ErrCorrupt, path, size, best.pgid, best.pageSize)
	}
	return nil
}

// salvageLastSeq scans the bytes of a corrupt database for this device's
// correctly signed records and chain-head entries and returns the highest
// seq found (0 when none). bbolt stores values contiguously, and every
// write transaction rewrites the meta bucket holding the head, so the
// newest head is normally still somewhere in the file.
func salvageLastSeq(path string, s *record.Sealer) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	marks := [][]byte{[]byte(`{"` + stateMarker + `":1,`)}
	for v := record.MinSchemaVersion; v <= record.SchemaVersion; v++ {
		marks = append(marks, fmt.Appendf(nil, `{"schema":%d,"device":"%s"`, v, s.Device()))
	}
	const window = 4 << 20
	size := int64(window + record.MaxLineBytes)
	if st, err := f.Stat(); err == nil {
		size = min(size, st.Size()+1) // +1: a short read marks the end
	}
	buf := make([]byte, size)
	var best uint64
	for off := int64(0); ; off += window {
		n, err := f.ReadAt(buf, off)
		data := buf[:n]
		last := err != nil || n < len(buf)
		limit := n
		if !last {
			limit = window // the overlap is scanned with the next window
		}
		for _, mark := range marks {
			for i := 0; i < limit; {
				j := bytes.Index(data[i:limit], mark)
				if j < 0 {
					break
				}
				i += j
				best = max(best, salvageAt(data[i:], s))
				i++
			}
		}
		if last {
			return best
		}
	}
}

func salvageAt(b []byte, s *record.Sealer) uint64 {
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&raw); err != nil {
		return 0
	}
	if bytes.HasPrefix(raw, []byte(`{"schema"`)) {
		r, err := record.Decode(raw)
		if err != nil || r.Device != s.Device() || r.VerifySignature(s.PublicKey()) != nil {
			return 0
		}
		return r.Seq
	}
	var st state
	if json.Unmarshal(raw, &st) != nil || st.Device != s.Device() {
		return 0
	}
	return st.Seq
}
