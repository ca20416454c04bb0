//go:build unix

package devicekey

import (
	"fmt"
	"io/fs"
	"os"
)

// checkMode refuses a key file that group or others may access.
func checkMode(m fs.FileMode) error {
	if m.Perm()&0o077 != 0 {
		return ErrPermissions
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("devicekey: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("devicekey: sync directory %s: %w", dir, err)
	}
	return nil
}
