//go:build !linux

package persistence

import "os"

// writeBehind leaves the writing to the final fsync where sync_file_range
// is not available.
type writeBehind struct{ f *os.File }

func (w *writeBehind) Write(p []byte) (int, error) { return w.f.Write(p) }
