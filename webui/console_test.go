package webui_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
	"github.com/documentcloud/crowd/worker"
)

// The console's end-to-end test: a real coordinator and HTTP server on
// 127.0.0.1, real workers (the worker package, in this process),
// and e2e/console.mjs driving the page in Debian's headless Chromium through
// playwright-core. The script's checks are listed at its top.
//
// Environment:
//   - CROWD_REQUIRE_BROWSER=1: fail instead of skipping when node,
//     playwright-core or Chromium is missing.
//   - CROWD_E2E_UNIT_DELAY: how long a worker takes per unit (default 400ms).
//   - CROWD_E2E_WORKERS: how many workers (default 4).
//   - CROWD_E2E_BULK_JOBS: jobs on the coordinator of the "many jobs" check
//     (default 100000).
//   - CROWD_E2E_ARTIFACTS: where screenshots go (default e2e/artifacts).
//   - CROWD_E2E_HOLD=1: after the script, keep the servers up until
//     interrupted, printing their addresses, to look at the console by hand.
//   - CROWD_E2E_ONLY=<regexp>: run only the script's checks whose names match.

const (
	e2eLogin    = "operator"
	e2ePassword = "s3cret <pass>"
	e2eRetries  = 2 // attempts per unit
	// The actions the test's workers run; registered by their phases only.
	echoAction  = "e2e_echo"  // process: the output is the input
	mergeAction = "e2e_merge" // process, then merge: the merge counts the outputs
)

func TestConsoleInChromium(t *testing.T) {
	node := browserTools(t)
	delay := envDuration(t, "CROWD_E2E_UNIT_DELAY", 400*time.Millisecond)
	nWorkers := envInt(t, "CROWD_E2E_WORKERS", 4)

	srv := startConsole(t, transport.Options{})
	authed := startConsole(t, transport.Options{Login: e2eLogin, Password: e2ePassword})
	startWorkers(t, srv.URL, nWorkers, delay)
	control := startControl(t, srv)
	// A third coordinator holds many jobs and no workers, for the check that
	// the console stays fast however many jobs there are. They are submitted
	// while the script's first checks run; its check waits for them all.
	bulk := startConsole(t, transport.Options{})
	// A fourth is the leader of a cluster as /console/summary shows one
	// (each node's raft state comes from the cluster mode's front; the
	// process test of cmd/crowd checks that data, this one its display).
	clustered := startConsole(t, transport.Options{Cluster: func() []wire.ClusterNode {
		return []wire.ClusterNode{
			{Node: "n0", Role: "leader", Term: 7, CommitIndex: 1234, AppliedIndex: 1234, Leader: "n0"},
			{Node: "n1", Role: "follower", Term: 7, CommitIndex: 1230, AppliedIndex: 1229, Leader: "n0"},
			{Node: "n2", Role: "unreachable"},
		}
	}})
	nBulk := envInt(t, "CROWD_E2E_BULK_JOBS", 100000)
	seeded := make(chan struct{})
	go func() {
		defer close(seeded)
		seedJobs(t, bulk.co, nBulk)
	}()
	defer func() { <-seeded }()

	artifacts := os.Getenv("CROWD_E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("e2e", "artifacts")
	}
	artifacts, err := filepath.Abs(artifacts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "console.mjs"), srv.URL, artifacts)
	cmd.Env = append(os.Environ(),
		"CROWD_E2E_CONTROL="+control,
		"CROWD_E2E_AUTH_URL="+authed.URL,
		"CROWD_E2E_AUTH="+e2eLogin+":"+e2ePassword,
		"CROWD_E2E_BULK_URL="+bulk.URL,
		"CROWD_E2E_CLUSTER_URL="+clustered.URL,
		"CROWD_E2E_BULK_JOBS="+strconv.Itoa(nBulk),
		"CROWD_E2E_UNIT_DELAY_MS="+strconv.FormatInt(delay.Milliseconds(), 10),
		"CROWD_E2E_WORKERS="+strconv.Itoa(nWorkers),
		"CROWD_E2E_RETRIES="+strconv.Itoa(e2eRetries),
	)
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()
	out.flush()

	if os.Getenv("CROWD_E2E_HOLD") != "" {
		hold(t, srv.URL, authed.URL, bulk.URL, control)
	}
	if runErr != nil {
		t.Fatalf("e2e/console.mjs failed (%v); its output is above, screenshots are in %s", runErr, artifacts)
	}
}

// browserTools returns node's path, or skips (fails with
// CROWD_REQUIRE_BROWSER=1) naming the commands that install what is missing.
func browserTools(t *testing.T) string {
	t.Helper()
	require := os.Getenv("CROWD_REQUIRE_BROWSER") == "1"
	if testing.Short() && !require {
		t.Skip("the browser test is not short")
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node 20 or newer (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (cd webui/e2e && npm ci)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = append(missing, "Chromium (apt-get install -y chromium)")
	}
	if len(missing) > 0 {
		msg := "the console test needs " + strings.Join(missing, ", ") + "; scripts/deps.sh installs them all"
		if require {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// consoleServer is a coordinator behind transport's server on a fixed
// 127.0.0.1 port. Its HTTP side can be taken down and brought back (the
// coordinator keeps running): down closes the listener and every
// connection, so the browser sees what it sees when the server is stopped.
type consoleServer struct {
	URL  string
	addr string
	opts transport.Options
	co   *actors.Coordinator

	mu  sync.Mutex
	srv *transport.Server
}

func startConsole(t *testing.T, opts transport.Options) *consoleServer {
	t.Helper()
	journal := persistence.NewMemory(false)
	co, err := actors.Start(actors.Settings{
		WorkUnitRetries: e2eRetries,
		RetryBackoff:    0,
		WorkerTimeout:   30 * time.Second,
		Logger:          quietLogger(),
	}, journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	catalog := action.NewCatalog("")
	catalog.Register(echoAction, action.Phases{})
	catalog.Register(mergeAction, action.Phases{Merge: true})
	opts.Coordinator, opts.Catalog = co, catalog
	opts.MaxBody = 32 << 20
	opts.Logger = quietLogger()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &consoleServer{URL: "http://" + ln.Addr().String(), addr: ln.Addr().String(), opts: opts, co: co}
	s.serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.down()
		co.Stop(ctx)
		journal.Close()
	})
	return s
}

func (s *consoleServer) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = transport.New(s.opts)
	go s.srv.Serve(ln)
}

// down stops answering: the listener closes (new connections are refused)
// and the open ones are closed.
func (s *consoleServer) down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// up listens again on the same address.
func (s *consoleServer) up() error {
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// startControl serves POST /down and POST /up for the script, on its own
// port, and returns its URL.
func startControl(t *testing.T, s *consoleServer) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) {
		s.down()
		io.WriteString(w, "down\n")
	})
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, r *http.Request) {
		if err := s.up(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "up\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// seedJobs creates n one-unit jobs, many at a time, straight through the
// coordinator (the route's parsing is not what this check is about, and
// under the race detector 100,000 POSTs take minutes). It runs on its own
// goroutine, so it reports with t.Errorf.
func seedJobs(t *testing.T, co *actors.Coordinator, n int) {
	started := time.Now()
	next := make(chan int)
	var failed sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := co.CreateJob(actors.JobSpec{
					Action:  echoAction,
					Inputs:  []string{fmt.Sprintf("bulk-%d", i)},
					Options: []byte(fmt.Sprintf(`{"n":%d}`, i)),
				})
				if r.Outcome != actors.OK {
					failed.Do(func() { t.Errorf("seeding %d jobs: job %d: outcome %d: %v", n, i, r.Outcome, r.Err) })
				}
			}
		}()
	}
	for i := range n {
		next <- i + 1
	}
	close(next)
	wg.Wait()
	t.Logf("seeded %d jobs in %v", n, time.Since(started).Round(time.Millisecond))
}

// ---- workers

// e2eActions are the Go actions the test's workers run, through the real
// worker (package worker): e2e_echo answers its input after a delay, and
// e2e_merge does the same and merges by counting the outputs. An input
// starting with "fail" fails its first e2eRetries attempts (so the unit
// ends failed) and succeeds after that (once the console retries it).
type e2eActions struct {
	delay time.Duration

	mu       sync.Mutex
	failures map[int64]int // unit id -> attempts failed so far
}

type echo struct{ *e2eActions }

func (a echo) Process(ctx context.Context, u *action.Unit) (any, error) { return a.process(ctx, u) }

type merger struct{ *e2eActions }

func (a merger) Process(ctx context.Context, u *action.Unit) (any, error) { return a.process(ctx, u) }

func (a merger) Merge(_ context.Context, u *action.Unit) (any, error) {
	outputs, _ := u.Input.([]any)
	return map[string]any{"merged": len(outputs)}, nil
}

func (a *e2eActions) process(ctx context.Context, u *action.Unit) (any, error) {
	sleep(ctx, a.delay)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in, _ := u.Input.(string); strings.HasPrefix(in, "fail") {
		a.mu.Lock()
		a.failures[u.UnitID]++
		n := a.failures[u.UnitID]
		a.mu.Unlock()
		if n <= e2eRetries {
			return nil, fmt.Errorf("simulated failure of unit %d, attempt %d", u.UnitID, n)
		}
	}
	return u.Input, nil
}

// startWorkers runs n worker slots against base, as two worker processes
// would (hosts e2e-host-1 and e2e-host-2), with the real worker code.
func startWorkers(t *testing.T, base string, n int, delay time.Duration) {
	t.Helper()
	catalog := action.NewCatalog("")
	acts := &e2eActions{delay: delay, failures: map[int64]int{}}
	catalog.RegisterGo(echoAction, echo{acts})
	catalog.RegisterGo(mergeAction, merger{acts})
	cfg := config.Default()
	cfg.CentralServer = base
	cfg.MinWorkerWait, cfg.MaxWorkerWait = 50*time.Millisecond, 300*time.Millisecond
	cfg.TempStoragePath, cfg.LocalStoragePath = t.TempDir(), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for h := 1; h <= 2; h++ {
		slots := n / 2
		if h == 1 {
			slots += n % 2
		}
		w, err := worker.New(worker.Options{Config: cfg, Concurrency: slots, Catalog: catalog, Logger: quietLogger(),
			Host: fmt.Sprintf("e2e-host-%d", h), CheckInInterval: time.Second, Grace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// ---- helpers

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func envDuration(t *testing.T, key string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration such as 400ms", key, v)
	}
	return d
}

func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", key, v)
	}
	return n
}

// hold keeps the servers up until the test is interrupted (CROWD_E2E_HOLD).
func hold(t *testing.T, mainURL, authURL, bulkURL, control string) {
	t.Logf("holding: console %s, with auth %s (%s / %s), with many jobs %s, control %s (POST /down, /up); interrupt to end",
		mainURL, authURL, e2eLogin, e2ePassword, bulkURL, control)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
}

// lineLogger passes the script's output to t.Log a line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

// flush logs what is left after the last newline.
func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(string(l.buf))
		l.buf = nil
	}
}
