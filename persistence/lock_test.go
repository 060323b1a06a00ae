package persistence

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

type lockChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startLockChild re-runs the test binary as TestWALLockChild, which opens
// the WAL in dir and holds it until its stdin closes; it returns once the
// child holds the lock.
func startLockChild(t *testing.T, dir string) *lockChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWALLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &lockChild{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("child said %q (%v)", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return c
}

// stop lets the child close the WAL and exit, and waits for it.
func (c *lockChild) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}
