package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
)

// The console's end-to-end test: a real coordinator and HTTP server on
// 127.0.0.1, real workers speaking the HTTP worker protocol (goroutines here),
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

// workUnit is the WorkUnit JSON a worker receives.
type workUnit struct {
	ID     int64  `json:"id"`
	JobID  int64  `json:"job_id"`
	Input  string `json:"input"`
	Action string `json:"action"`
	Status int    `json:"status"`
}

// workerPool runs workers that speak the HTTP worker protocol: POST /work
// for a unit, hold it for delay, then PUT /work/:id with the result, which
// answers the next unit. An input starting with "fail" fails its first
// e2eRetries attempts (so the unit ends failed) and succeeds after that
// (once the console retries it).
type workerPool struct {
	base   string
	delay  time.Duration
	client *http.Client

	mu       sync.Mutex
	failures map[int64]int // unit id -> attempts failed so far
}

func startWorkers(t *testing.T, base string, n int, delay time.Duration) {
	t.Helper()
	p := &workerPool{base: base, delay: delay, client: &http.Client{Timeout: 10 * time.Second}, failures: map[int64]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("worker-%d@e2e-host-%d", i, (i-1)%2+1)
		wg.Add(2)
		go func() { defer wg.Done(); p.work(ctx, name) }()
		go func() { defer wg.Done(); p.checkIns(ctx, name) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

const workerActions = echoAction + "," + mergeAction + ",word_count"

func (p *workerPool) work(ctx context.Context, name string) {
	var unit *workUnit
	for ctx.Err() == nil {
		if unit == nil {
			var err error
			if unit, err = p.call(ctx, "POST", "/work", url.Values{"worker_name": {name}, "worker_actions": {workerActions}}); err != nil || unit == nil {
				sleep(ctx, 150*time.Millisecond)
				continue
			}
		}
		started := time.Now()
		sleep(ctx, p.delay)
		status, output := p.result(unit)
		form := url.Values{
			"status": {status}, "output": {output}, "worker_name": {name}, "worker_actions": {workerActions},
			"time": {strconv.FormatFloat(time.Since(started).Seconds(), 'f', 3, 64)},
		}
		for ctx.Err() == nil { // keep the result until the coordinator takes it
			next, err := p.call(ctx, "PUT", "/work/"+strconv.FormatInt(unit.ID, 10), form)
			var refused *httpError
			if err == nil || errors.As(err, &refused) {
				unit = next // a 409 or 404 drops the result: the unit is no longer ours
				break
			}
			sleep(ctx, 200*time.Millisecond)
		}
	}
	// Check out, so the console stops listing the worker.
	bg, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.call(bg, "PUT", "/worker", url.Values{"name": {name}, "terminated": {"true"}})
}

// checkIns is the worker's heartbeat, PUT /worker every second.
func (p *workerPool) checkIns(ctx context.Context, name string) {
	for ctx.Err() == nil {
		p.call(ctx, "PUT", "/worker", url.Values{"name": {name}, "thread_status": {"running"}, "check_in_interval": {"1"}})
		sleep(ctx, time.Second)
	}
}

// result is the worker's outcome for a unit: the status and the output
// field, {"output": <value>}.
func (p *workerPool) result(u *workUnit) (string, string) {
	wrap := func(v any) string {
		b, _ := json.Marshal(map[string]any{"output": v})
		return string(b)
	}
	if u.Status == 5 { // merging: the input is the array of outputs
		var outputs []any
		json.Unmarshal([]byte(u.Input), &outputs)
		return "succeeded", wrap(map[string]any{"merged": len(outputs)})
	}
	if strings.HasPrefix(u.Input, "fail") {
		p.mu.Lock()
		p.failures[u.ID]++
		n := p.failures[u.ID]
		p.mu.Unlock()
		if n <= e2eRetries {
			return "failed", wrap(fmt.Sprintf("simulated failure of unit %d, attempt %d", u.ID, n))
		}
	}
	if u.Action == "word_count" {
		return "succeeded", wrap(len(strings.Fields(u.Input)))
	}
	return "succeeded", wrap(u.Input)
}

type httpError struct {
	code int
	body string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// call sends a form request; a 200 answers a unit, a 204 none.
func (p *workerPool) call(ctx context.Context, method, path string, form url.Values) (*workUnit, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var u workUnit
		if err := json.Unmarshal(body, &u); err != nil {
			return nil, err
		}
		return &u, nil
	case http.StatusNoContent:
		return nil, nil
	case http.StatusServiceUnavailable, http.StatusInternalServerError:
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body) // try again
	default:
		return nil, &httpError{resp.StatusCode, string(body)}
	}
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
