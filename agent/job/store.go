package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bayagent/bayagent/agent/check"
)

// Layout of the state directory:
//
//	<dir>/open/<bay>.json        the open job of a bay (at most one per bay)
//	<dir>/closed/<job id>.json   closed jobs, for `bayagent job export`
//
// A job id is written into a file name with every byte outside
// A-Z a-z 0-9 . _ - as %XX ("J/2026:1" is "J%2F2026%3A1.json").
const (
	openDir   = "open"
	closedDir = "closed"
	// cancelledDir holds jobs abandoned without settlement (Cancel).
	cancelledDir = "cancelled"
	tmpSuffix    = ".tmp"
)

// writeFileAtomic replaces path with data: it writes a temporary file in the
// same directory, fsyncs it, renames it over path and fsyncs the directory,
// so that after a power cut path holds either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	tmp := filepath.Join(dir, "."+base+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// removeDurably removes path (missing is fine) and fsyncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func marshalFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func openPath(dir, bay string) string { return filepath.Join(dir, openDir, bay+".json") }

func closedPath(dir, id string) string {
	return filepath.Join(dir, closedDir, escapeID(id)+".json")
}

func cancelledPath(dir, id string) string {
	return filepath.Join(dir, cancelledDir, escapeID(id)+".json")
}

func escapeID(id string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// ReadClosed reads the closed job id from the state directory dir (the
// Manager's). It needs no Manager, so `bayagent job export` can run beside
// a running agent: closed files are only ever replaced atomically.
func ReadClosed(dir, id string) (Closed, error) {
	var p check.Problems
	check.JobID(&p, "job_id", id)
	if err := p.Err(); err != nil {
		return Closed{}, err
	}
	f, err := os.Open(closedPath(dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return Closed{}, fmt.Errorf("job: state directory: %w", serr)
		}
		return Closed{}, fmt.Errorf("%w: %q is not a closed job in %s", ErrUnknownJob, id, dir)
	}
	if err != nil {
		return Closed{}, fmt.Errorf("job: %w", err)
	}
	defer f.Close()
	c, err := DecodeClosed(f)
	if err != nil {
		return Closed{}, fmt.Errorf("job: %s: %w", f.Name(), err)
	}
	if c.ID != id {
		return Closed{}, fmt.Errorf("%w: %s holds job %q", ErrCorrupt, f.Name(), c.ID)
	}
	return c, nil
}
