//go:build !unix

package devicekey

import "io/fs"

// checkMode cannot check ownership on systems without Unix permissions.
func checkMode(fs.FileMode) error { return nil }

// syncDir is a no-op where directories cannot be synced.
func syncDir(string) error { return nil }
