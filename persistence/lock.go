//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package persistence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes the LOCK file of a data dir with flock(LOCK_EX|LOCK_NB),
// so that a second server, in this process or another, fails at once
// instead of writing the same log. Closing the file releases the lock; the
// kernel releases it too when the process dies, so a crash leaves no stale
// lock behind.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("persistence: another crowd server uses the data dir %s (its LOCK file is held)", dir)
		}
		return nil, fmt.Errorf("persistence: locking %s: %w", path, err)
	}
	return f, nil
}
