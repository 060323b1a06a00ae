package worker_test

// The helpers of the worker's end-to-end tests: a real coordinator in this
// process (actors on an in-memory journal behind the real HTTP server), the
// crowd binary built once and run as `crowd worker` or `crowd server`
// subprocesses, and in-process Workers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
	"github.com/documentcloud/crowd/worker"
)

func TestMain(m *testing.M) { crowdbin.Main(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ---- the coordinator, in this process ----

type coordConfig struct {
	settings actors.Settings
	actions  string   // actions_path, shared with the workers
	register []string // Go actions only the test's workers have (process only)
	addr     string   // listen address; default 127.0.0.1:0
	login    string   // Basic authentication, when set
	password string
	maxBody  int64 // max_body; default 32 MiB
}

// coordinator is a running coordinator and its HTTP server.
type coordinator struct {
	URL     string
	Addr    string
	Co      *actors.Coordinator
	Catalog *action.Catalog
	Client  *client.Client
	srv     *transport.Server
	stopped bool
	close   func() // stops it all; also run when the test ends

	login, password string
	maxBody         int64
}

// startCoordinator starts a coordinator (3 attempts per unit, no retry
// back-off) on 127.0.0.1; edit adjusts it. It stops when the test ends.
func startCoordinator(t testing.TB, edit func(*coordConfig)) *coordinator {
	t.Helper()
	cfg := coordConfig{
		settings: actors.Settings{WorkUnitRetries: 3, RetryBackoff: 0, Logger: quietLogger()},
		addr:     "127.0.0.1:0",
	}
	if edit != nil {
		edit(&cfg)
	}
	journal := persistence.NewMemory(false)
	co, err := actors.Start(cfg.settings, journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	catalog := action.NewCatalog(cfg.actions)
	for _, name := range cfg.register {
		catalog.Register(name, action.Phases{})
	}
	c := &coordinator{Co: co, Catalog: catalog, login: cfg.login, password: cfg.password, maxBody: cfg.maxBody}
	c.listen(t, cfg.addr)
	c.URL = "http://" + c.Addr
	c.Client = newClient(t, c.URL)
	c.close = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.stopHTTP()
		co.Stop(ctx)
		journal.Close()
	})
	t.Cleanup(c.close)
	return c
}

// listen serves the coordinator on addr.
func (c *coordinator) listen(t testing.TB, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	maxBody := c.maxBody
	if maxBody == 0 {
		maxBody = 32 << 20
	}
	c.srv = transport.New(transport.Options{Coordinator: c.Co, Catalog: c.Catalog, MaxBody: maxBody, Logger: quietLogger(),
		Login: c.login, Password: c.password})
	c.Addr = ln.Addr().String()
	c.stopped = false
	go c.srv.Serve(ln)
}

// stopHTTP stops the HTTP server; the coordinator's state stays.
func (c *coordinator) stopHTTP() {
	if c.stopped {
		return
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.srv.Shutdown(ctx)
}

func newClient(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// submit creates a job.
func submit(t testing.TB, c *client.Client, j client.Job) wire.Job {
	t.Helper()
	got, err := c.Submit(context.Background(), j)
	if err != nil {
		t.Fatalf("submit %+v: %v", j, err)
	}
	return got
}

// waitJob waits (at most d) for a job to complete.
func waitJob(t testing.TB, c *client.Client, id int64, d time.Duration) wire.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	j, err := c.Wait(ctx, id, 20*time.Millisecond, nil)
	if err != nil {
		last, _ := c.Job(context.Background(), id)
		t.Fatalf("job %d did not complete within %v: %v (last seen %s)", id, d, err, last.AppendJSON(nil))
	}
	return j
}

// outputs decodes a complete job's outputs.
func outputs(t testing.TB, j wire.Job) []any {
	t.Helper()
	var out []any
	if err := json.Unmarshal(j.Outputs, &out); err != nil {
		t.Fatalf("job %d outputs %s: %v", j.ID, j.Outputs, err)
	}
	return out
}

// getJSON reads a JSON document from the coordinator.
func getJSON[T any](t testing.TB, base, path string) T {
	t.Helper()
	var v T
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
	return v
}

// waitFor polls cond every 20ms until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leasedUnit waits until worker holds a unit (GET /worker/:name) and
// returns it.
func leasedUnit(t testing.TB, c *client.Client, worker string, d time.Duration) *wire.WorkUnit {
	t.Helper()
	var u *wire.WorkUnit
	waitFor(t, d, worker+" to hold a unit", func() bool {
		var err error
		u, err = c.WorkerUnit(context.Background(), worker)
		if err != nil {
			t.Fatal(err)
		}
		return u != nil
	})
	return u
}

// writeAction writes an executable exec action into dir.
func writeAction(t testing.TB, dir, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileURL is the file:// URL of a local path.
func fileURL(p string) string { return "file://" + filepath.ToSlash(p) }

// ---- subprocesses ----

// proc is a running crowd subprocess.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *crowdbin.Output // standard error (and output unless stdout is set)
	stdout *crowdbin.Output
	done   chan struct{}
}

// workDirs makes the temp and storage folders of a child and returns their
// settings.
func workDirs(t testing.TB) (temp, storage string, env []string) {
	t.Helper()
	dir := t.TempDir()
	temp, storage = filepath.Join(dir, "tmp"), filepath.Join(dir, "storage")
	return temp, storage, []string{
		"CROWD_TEMP_STORAGE_PATH=" + temp,
		"CROWD_LOCAL_STORAGE_PATH=" + storage,
		"CROWD_MIN_WORKER_WAIT=0.01",
		"CROWD_MAX_WORKER_WAIT=0.2",
	}
}

// startProc starts `crowd <args>` with env added to a CROWD_-free
// environment. It is killed when the test ends, if it still runs.
func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(crowdbin.Path(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(crowdbin.Env(), env...)
	p := &proc{t: t, name: name, cmd: cmd, out: &crowdbin.Output{}, stdout: &crowdbin.Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s%s", name, p.stdout.String(), p.out.String())
		}
	})
	return p
}

// startWorker starts `crowd worker --server url` with one slot and a
// one-second check-in; extra args follow.
func startWorker(t testing.TB, name, url string, env []string, args ...string) *proc {
	t.Helper()
	all := append([]string{"worker", "--server", url, "--concurrency", "1", "--check-in-interval", "1s"}, args...)
	p := startProc(t, name, env, all...)
	waitFor(t, 60*time.Second, name+" to start", func() bool {
		if p.exited() {
			t.Fatalf("%s exited at start:\n%s", name, p.out.String())
		}
		return strings.Contains(p.out.String(), "worker starting")
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// slotName is the worker name of slot n of the process.
func (p *proc) slotName(n int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%d.%d@%s", n, p.cmd.Process.Pid, host)
}

// signal sends sig and waits (at most d) for the process to exit; it
// returns the exit code.
func (p *proc) signal(sig syscall.Signal, d time.Duration) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
	return p.wait(d)
}

// wait waits (at most d) for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.done
		p.t.Fatalf("%s did not exit within %v:\n%s", p.name, d, p.out.String())
	}
	p.checkLog()
	return p.cmd.ProcessState.ExitCode()
}

// checkLog fails the test when the process reported a race or a panic.
func (p *proc) checkLog() {
	p.t.Helper()
	out := p.out.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "level=ERROR"} {
		if strings.Contains(out, bad) {
			p.t.Errorf("%s's output holds %q:\n%s", p.name, bad, out)
		}
	}
}

// runCrowd runs `crowd <args>` to the end and returns its standard output,
// standard error and exit code.
func runCrowd(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(crowdbin.Path(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(crowdbin.Env(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("crowd %v: %v", args, err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// startServerProc starts `crowd server --workers n` on a free port and
// waits until it answers.
func startServerProc(t testing.TB, workers int, env []string) (*proc, string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		addr := crowdbin.FreeAddr(t)
		p := startProc(t, "crowd server", env, "server", "--listen", addr, "--data-dir", filepath.Join(t.TempDir(), "data"),
			"--workers", fmt.Sprint(workers))
		url := "http://" + addr
		hc := &http.Client{Timeout: time.Second}
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := hc.Get(url + "/heartbeat")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, url
				}
			}
			if p.exited() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("crowd server did not answer within a minute:\n%s", p.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if attempt < 3 && strings.Contains(p.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("crowd server exited:\n%s", p.out.String())
	}
}

// ---- in-process workers ----

// logBuffer is a slog handler's output that tests read.
type logBuffer struct{ crowdbin.Output }

// count is the number of log lines holding s.
func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

// runWorker runs an in-process Worker against url until the test ends (or
// stop is called); edit adjusts its options. The worker logs at debug level
// into the returned buffer.
func runWorker(t testing.TB, url string, edit func(*worker.Options)) (w *worker.Worker, logs *logBuffer, stop func()) {
	t.Helper()
	cfg := config.Default()
	cfg.CentralServer = url
	cfg.TempStoragePath = filepath.Join(t.TempDir(), "tmp")
	cfg.LocalStoragePath = filepath.Join(t.TempDir(), "storage")
	cfg.MinWorkerWait = 10 * time.Millisecond
	cfg.MaxWorkerWait = 200 * time.Millisecond
	logs = &logBuffer{}
	o := worker.Options{
		Config:          cfg,
		Concurrency:     2,
		CheckInInterval: time.Second,
		Grace:           5 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&o)
	}
	w, err := worker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("Run did not return within a minute of its context's end")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	return w, logs, stop
}
