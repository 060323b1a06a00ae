//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package persistence

import (
	"fmt"
	"os"
	"runtime"
)

// lockDir fails where flock is missing: without the lock two servers could
// write the same log.
func lockDir(dir string) (*os.File, error) {
	return nil, fmt.Errorf("persistence: cannot lock the data dir %s: flock is not available on %s", dir, runtime.GOOS)
}
