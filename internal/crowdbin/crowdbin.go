// Package crowdbin builds the crowd command once per test binary, for the
// tests that run it as a real process, and collects such a process's output.
package crowdbin

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	race bool // the tests run with -race (race.go)
	once sync.Once
	dir  string // holds the binary; removed by Cleanup
	bin  string
	err  error
)

// Path builds the crowd command (with -race when the tests run with it, so
// that a race in the server fails the test too) the first time it is
// called, and returns the binary's path.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "crowd-bin-"); err != nil {
			return
		}
		bin = filepath.Join(dir, "crowd")
		args := []string{"build", "-o", bin}
		if race {
			args = append(args, "-race")
		}
		args = append(args, "github.com/documentcloud/crowd/cmd/crowd")
		if out, buildErr := exec.Command("go", args...).CombinedOutput(); buildErr != nil {
			err = fmt.Errorf("go build: %v\n%s", buildErr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main runs a package's tests and then removes the binary: call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// Env is this process's environment without CROWD_<KEY> settings, for a
// crowd process whose configuration the test sets itself.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CROWD_") {
			env = append(env, kv)
		}
	}
	return env
}

// FreeAddr is a free port on 127.0.0.1 (another process may take it before
// the server listens: callers retry on "address already in use").
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Output collects a crowd process's output; it is safe to read while the
// process writes.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Alive reports whether pid runs (a zombie does not: nobody may reap
// orphans in a container).
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil { // no /proc
		p, err := os.FindProcess(pid)
		return err == nil && p.Signal(syscall.Signal(0)) == nil
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || !strings.HasPrefix(string(b[i:]), ") Z")
}
