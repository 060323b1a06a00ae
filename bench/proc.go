package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FindProgram looks for a program on PATH, then in the Go bin folder (where
// go install puts Faktory), then in the folders matched by the extra globs
// (e.g. PostgreSQL's versioned bin folder, which Debian keeps off PATH).
func FindProgram(name string, globs ...string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	var dirs []string
	if gp := os.Getenv("GOBIN"); gp != "" {
		dirs = append(dirs, gp)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		for _, d := range filepath.SplitList(gp) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		for i := len(m) - 1; i >= 0; i-- { // newest version first, by name
			dirs = append(dirs, m[i])
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// Proc is a server process the harness started.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *tailBuffer
}

// StartProc starts a program with its output kept (the last few KiB, for
// error messages). attr may be nil.
func StartProc(name string, args []string, env []string, dir string, attr *syscall.SysProcAttr) (*Proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.SysProcAttr = attr
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Name: filepath.Base(name), cmd: cmd, done: make(chan struct{}), out: out}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited tells whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is the end of what the process printed.
func (p *Proc) Output() string { return p.out.String() }

// Wait waits for the process to end by itself, up to d; false if it is
// still running.
func (p *Proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Stop sends SIGTERM, waits up to grace, then kills the process.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.Wait(grace) {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitTCP waits until addr accepts a connection, the process ends or the
// time is up.
func WaitTCP(ctx context.Context, p *Proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("%s exited before it listened on %s: %v\n%s", p.Name, addr, p.err, p.Output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %s", procName(p), addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func procName(p *Proc) string {
	if p == nil {
		return "server"
	}
	return p.Name
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// ---- resident memory ----

// memStatus is the memory lines of /proc/<pid>/status, in KiB.
type memStatus struct {
	VmRSS, RssAnon, RssFile, RssShmem int64
}

func readMemStatus(pid int) (memStatus, error) {
	var m memStatus
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m, err
	}
	defer f.Close()
	return parseMemStatus(f)
}

func parseMemStatus(r io.Reader) (memStatus, error) {
	var m memStatus
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst, found = &m.VmRSS, true
		case "RssAnon":
			dst = &m.RssAnon
		case "RssFile":
			dst = &m.RssFile
		case "RssShmem":
			dst = &m.RssShmem
		default:
			continue
		}
		fields := strings.Fields(v)
		if len(fields) > 0 {
			*dst, _ = strconv.ParseInt(fields[0], 10, 64)
		}
	}
	if !found {
		return m, errors.New("no VmRSS line")
	}
	return m, sc.Err()
}

// Descendants lists the processes below pid (children, their children…),
// read from /proc.
func Descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range ents {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[id] = pp
	}
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		p := frontier[0]
		frontier = frontier[1:]
		for id, pp := range parent {
			if pp == p {
				out = append(out, id)
				frontier = append(frontier, id)
			}
		}
	}
	return out
}

// TreeRSS is the resident memory in KiB of pid and its descendants: VmRSS
// (from /proc/<pid>/status) for a single process; for a tree (Faktory and
// its redis-server, PostgreSQL's postmaster and backends), the sum of each
// process's Pss (from /proc/<pid>/smaps_rollup), which counts shared pages
// (PostgreSQL's shared buffers, the program's text) once across the tree
// instead of once per process.
func TreeRSS(pid int) (int64, error) {
	root, err := readMemStatus(pid)
	if err != nil {
		return 0, err
	}
	kids := Descendants(pid)
	if len(kids) == 0 {
		return root.VmRSS, nil
	}
	var sum int64
	for _, p := range append([]int{pid}, kids...) {
		kb, err := readPss(p)
		if err != nil {
			if p == pid {
				// No smaps_rollup: count private memory per process and
				// shared memory once.
				return treeStatusRSS(root, kids), nil
			}
			continue // ended meanwhile
		}
		sum += kb
	}
	return sum, nil
}

func treeStatusRSS(root memStatus, kids []int) int64 {
	sum, shm := root.RssAnon+root.RssFile, root.RssShmem
	for _, k := range kids {
		m, err := readMemStatus(k)
		if err != nil {
			continue
		}
		sum += m.RssAnon + m.RssFile
		shm = max(shm, m.RssShmem)
	}
	return sum + shm
}

// readPss reads the Pss line of /proc/<pid>/smaps_rollup, in KiB.
func readPss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	return parsePss(b)
}

func parsePss(b []byte) (int64, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no Pss line")
}

// RSSPoint is one sample of a server's resident memory.
type RSSPoint struct {
	T  float64 `json:"t_s"` // seconds since the run started
	KB int64   `json:"kb"`
}

// rssSampler samples the resident memory of a set of process trees.
type rssSampler struct {
	stop   chan struct{}
	done   chan struct{}
	peak   int64
	series []RSSPoint
}

func sampleRSS(pids []int, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	take := func() {
		var total int64
		ok := false
		for _, p := range pids {
			if kb, err := TreeRSS(p); err == nil {
				total += kb
				ok = true
			}
		}
		if !ok {
			return
		}
		s.peak = max(s.peak, total)
		s.series = append(s.series, RSSPoint{T: float64(time.Since(start).Milliseconds()) / 1000, KB: total})
	}
	go func() {
		defer close(s.done)
		if len(pids) == 0 {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		take()
		for {
			select {
			case <-s.stop:
				take()
				return
			case <-t.C:
				take()
			}
		}
	}()
	return s
}

// finish stops sampling and returns the peak (KiB) and the series.
func (s *rssSampler) finish() (int64, []RSSPoint) {
	close(s.stop)
	<-s.done
	return s.peak, s.series
}

// CleanEnv is the environment without the variables that would change a
// server's settings behind the harness's back (CROWD_*).
func CleanEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "CROWD_") {
			continue
		}
		env = append(env, e)
	}
	return append(env, extra...)
}
