//go:build !unix

package job

// syncDir does nothing where directories cannot be opened for fsync; the
// rename itself is atomic on those systems.
func syncDir(string) error { return nil }
