package main

// Helpers that run `crowd server` as a subprocess and talk to it over HTTP,
// and the tests of its life cycle: graceful shutdown, the data dir lock and
// the fsync modes. The kill -9 test is in crash_test.go.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { crowdbin.Main(m) }

// serverConfig is what varies between the servers a test starts.
type serverConfig struct {
	fsync string   // --fsync; "" leaves the default
	env   []string // CROWD_<KEY>=value settings
	args  []string // more flags
}

// server is one `crowd server` process.
type server struct {
	t       testing.TB
	name    string // for messages: "life 3"
	dataDir string
	addr    string
	sc      serverConfig
	cmd     *exec.Cmd
	log     *crowdbin.Output // its stdout and stderr
	done    chan struct{}
}

const readyDeadline = 20 * time.Second

// startServer starts `crowd server` on a free port of 127.0.0.1 and the given
// data dir, and waits until GET /heartbeat answers.
func startServer(t testing.TB, name, dataDir string, sc serverConfig) *server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s := launchServer(t, name, dataDir, crowdbin.FreeAddr(t), sc)
		err := s.waitReady()
		if err == nil {
			return s
		}
		// Another process may have taken the port between freeAddr and the
		// server's listen: try another one.
		if attempt < 3 && strings.Contains(s.log.String(), "address already in use") {
			continue
		}
		s.kill()
		t.Fatalf("%s: %v\nserver output:\n%s", name, err, s.log.String())
	}
}

// launchServer starts the process and returns at once.
func launchServer(t testing.TB, name, dataDir, addr string, sc serverConfig) *server {
	t.Helper()
	args := []string{"server", "--listen", addr, "--data-dir", dataDir}
	if sc.fsync != "" {
		args = append(args, "--fsync", sc.fsync)
	}
	args = append(args, sc.args...)
	work := t.TempDir()
	cmd := exec.Command(crowdbin.Path(t), args...)
	cmd.Dir = work // whatever it writes besides the data dir stays in the test's folders
	cmd.Env = append(crowdbin.Env(),
		"CROWD_LOCAL_STORAGE_PATH="+filepath.Join(work, "storage"),
		"CROWD_TEMP_STORAGE_PATH="+filepath.Join(work, "tmp"))
	cmd.Env = append(cmd.Env, sc.env...)
	s := &server{t: t, name: name, dataDir: dataDir, addr: addr, sc: sc, cmd: cmd, log: &crowdbin.Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if !s.exited() {
			s.kill()
		}
		if t.Failed() {
			t.Logf("%s: server output (the last %d bytes):\n%s", name, logTail, tail(s.log.String(), logTail))
		}
	})
	return s
}

// relaunch starts the server again on its data dir and address, with its
// flags, once it has exited.
func (s *server) relaunch() *server {
	s.t.Helper()
	return launchServer(s.t, s.name, s.dataDir, s.addr, s.sc)
}

const logTail = 16 << 10

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

func (s *server) url() string { return "http://" + s.addr }

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitReady polls GET /heartbeat until it answers buh-bump.
func (s *server) waitReady() error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(readyDeadline)
	for {
		resp, err := hc.Get(s.url() + "/heartbeat")
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && string(body) == "buh-bump" {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("the server exited (%v) before answering GET /heartbeat", s.cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /heartbeat did not answer within %v", readyDeadline)
		}
	}
}

// kill sends SIGKILL and waits for the process to die.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.checkLog()
}

// stop sends SIGTERM and returns the exit code. A server that has not exited
// after a minute is sent SIGQUIT, so that its goroutines are in the output,
// and the test fails.
func (s *server) stop() int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("%s: SIGTERM: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.kill()
		}
		s.t.Fatalf("%s: still running a minute after SIGTERM", s.name)
	}
	s.checkLog()
	return s.cmd.ProcessState.ExitCode()
}

// stopOK stops the server with SIGTERM and fails unless it exits 0.
func (s *server) stopOK() {
	s.t.Helper()
	if code := s.stop(); code != 0 {
		s.t.Fatalf("%s: exit code %d after SIGTERM, want 0", s.name, code)
	}
}

// checkLog fails the test when the server reported a data race, a panic or
// an error.
func (s *server) checkLog() {
	s.t.Helper()
	out := s.log.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "level=ERROR"} {
		if i := strings.Index(out, bad); i >= 0 {
			s.t.Errorf("%s: the server's output holds %q:\n%s", s.name, bad, tail(out[:min(len(out), i+4096)], logTail))
		}
	}
}

// logField returns the value of key in the last line of the server's log
// whose message is msg, and whether there was one.
func (s *server) logField(msg, key string) (string, bool) {
	re := regexp.MustCompile(`msg="?` + regexp.QuoteMeta(msg) + `"?\s.*?\b` + regexp.QuoteMeta(key) + `=("[^"]*"|\S+)`)
	m := re.FindAllStringSubmatch(s.log.String(), -1)
	if m == nil {
		return "", false
	}
	return strings.Trim(m[len(m)-1][1], `"`), true
}

// ---- HTTP client ----

// apiClient speaks crowd's HTTP API.
type apiClient struct {
	base string
	hc   *http.Client
}

func newAPIClient(base string) *apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	return &apiClient{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *apiClient) close() { c.hc.CloseIdleConnections() }

// statusError is an answer with an unexpected status code.
type statusError struct {
	method, path string
	code         int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s answered %d: %s", e.method, e.path, e.code, e.body)
}

func isStatusError(err error) bool {
	var se *statusError
	return errors.As(err, &se)
}

// do sends a request, form-encoded when form is not nil, and reads the whole
// answer. An error means no complete answer arrived.
func (c *apiClient) do(method, path string, form url.Values) (int, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// jobDoc is the Job JSON.
type jobDoc struct {
	ID              int64   `json:"id"`
	Status          string  `json:"status"`
	PercentComplete int     `json:"percent_complete"`
	WorkUnits       int     `json:"work_units"`
	TimeTaken       float64 `json:"time_taken"`
	Outputs         []any   `json:"outputs"`
}

func (j jobDoc) complete() bool { return j.Status == "succeeded" || j.Status == "failed" }

// unitDoc is the WorkUnit JSON.
type unitDoc struct {
	ID       int64  `json:"id"`
	JobID    int64  `json:"job_id"`
	Input    string `json:"input"`
	Attempts int    `json:"attempts"`
	Action   string `json:"action"`
	Status   int    `json:"status"`
}

func decode[T any](method, path string, body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("%s %s: bad JSON %q: %v", method, path, body, err)
	}
	return v, nil
}

// submit posts a job (job=<JSON>) and returns the answer.
func (c *apiClient) submit(action string, inputs any) (jobDoc, []byte, error) {
	spec, err := json.Marshal(map[string]any{"action": action, "inputs": inputs})
	if err != nil {
		return jobDoc{}, nil, err
	}
	code, body, err := c.do("POST", "/jobs", url.Values{"job": {string(spec)}})
	if err != nil {
		return jobDoc{}, nil, err
	}
	if code != http.StatusOK {
		return jobDoc{}, nil, &statusError{"POST", "/jobs", code, string(body)}
	}
	j, err := decode[jobDoc]("POST", "/jobs", body)
	return j, body, err
}

// job gets a job: ok is false on 404.
func (c *apiClient) job(id int64) (doc jobDoc, raw []byte, ok bool, err error) {
	path := "/jobs/" + strconv.FormatInt(id, 10)
	code, body, err := c.do("GET", path, nil)
	switch {
	case err != nil:
		return jobDoc{}, nil, false, err
	case code == http.StatusNotFound:
		return jobDoc{}, body, false, nil
	case code != http.StatusOK:
		return jobDoc{}, nil, false, &statusError{"GET", path, code, string(body)}
	}
	doc, err = decode[jobDoc]("GET", path, body)
	return doc, body, err == nil, err
}

// mustJob gets a job that must exist.
func (c *apiClient) mustJob(t testing.TB, id int64) (jobDoc, []byte) {
	t.Helper()
	doc, raw, ok, err := c.job(id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("GET /jobs/%d: 404", id)
	}
	if doc.ID != id {
		t.Fatalf("GET /jobs/%d answered job %d: %s", id, doc.ID, raw)
	}
	return doc, raw
}

// waitComplete polls a job until it is complete.
func (c *apiClient) waitComplete(id int64) (jobDoc, []byte, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		doc, raw, ok, err := c.job(id)
		if err != nil {
			return doc, raw, err
		}
		if !ok {
			return doc, raw, fmt.Errorf("GET /jobs/%d: 404", id)
		}
		if doc.complete() {
			return doc, raw, nil
		}
		if time.Now().After(deadline) {
			return doc, raw, fmt.Errorf("job %d is still not complete after 20s: %s", id, raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fetchWork is POST /work: the unit now leased to worker, or nil (204).
func (c *apiClient) fetchWork(worker, actions string) (*unitDoc, error) {
	code, body, err := c.do("POST", "/work", url.Values{"worker_name": {worker}, "worker_actions": {actions}})
	return unitAnswer("POST", "/work", code, body, err)
}

// completeUnit is PUT /work/:id with status=succeeded: the next unit, or nil
// (204).
func (c *apiClient) completeUnit(id int64, worker, actions string, output any) (*unitDoc, error) {
	out, err := json.Marshal(map[string]any{"output": output})
	if err != nil {
		return nil, err
	}
	path := "/work/" + strconv.FormatInt(id, 10)
	code, body, err := c.do("PUT", path, url.Values{
		"status": {"succeeded"}, "output": {string(out)}, "worker_name": {worker}, "worker_actions": {actions}})
	return unitAnswer("PUT", path, code, body, err)
}

func unitAnswer(method, path string, code int, body []byte, err error) (*unitDoc, error) {
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNoContent:
		return nil, nil
	case code != http.StatusOK:
		return nil, &statusError{method, path, code, string(body)}
	}
	u, err := decode[unitDoc](method, path, body)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// ---- a fake worker for the built-in actions ----

const (
	gm = "graphics_magick"
	wc = "word_count"
)

// fakeOutput is what the tests' workers report for a unit: for
// graphics_magick "<input>-done"; for word_count the number of words
// (process) or the sum of the counts (merge).
func fakeOutput(t testing.TB, u *unitDoc) any {
	t.Helper()
	if u.Action != wc {
		return u.Input + "-done"
	}
	if u.Status == 5 { // merging: the input is the array of the counts
		var counts []int
		if err := json.Unmarshal([]byte(u.Input), &counts); err != nil {
			t.Fatalf("merge unit %d: input %q: %v", u.ID, u.Input, err)
		}
		sum := 0
		for _, n := range counts {
			sum += n
		}
		return sum
	}
	return len(strings.Fields(u.Input))
}

// work completes units as worker, following the next-unit answers, until
// there is none or hold says to keep one: that unit stays leased and is
// returned.
func work(t testing.TB, c *apiClient, worker, actions string, hold func(*unitDoc) bool) *unitDoc {
	t.Helper()
	u, err := c.fetchWork(worker, actions)
	for ; err == nil && u != nil; u, err = c.completeUnit(u.ID, worker, actions, fakeOutput(t, u)) {
		if hold != nil && hold(u) {
			return u
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return nil
}

// ---- data dir ----

// dataDirFiles sorts the data dir's files: snapshots (snapshot-<gen>.bin),
// log segments (20 digits) and the rest, with their sizes.
func dataDirFiles(t testing.TB, dir string) (snapshots, segments, other map[string]int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	snapshots, segments, other = map[string]int64{}, map[string]int64{}, map[string]int64{}
	snapRE := regexp.MustCompile(`^snapshot-\d{20}\.bin$`)
	segRE := regexp.MustCompile(`^\d{20}$`)
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch name := e.Name(); {
		case snapRE.MatchString(name):
			snapshots[name] = info.Size()
		case segRE.MatchString(name):
			segments[name] = info.Size()
		default:
			other[name] = info.Size()
		}
	}
	return snapshots, segments, other
}

// segmentEntries counts the entries of a tidwall/wal segment file: a
// sequence of uvarint(len) ‖ data.
func segmentEntries(data []byte) (int, error) {
	n := 0
	for off := 0; off < len(data); n++ {
		size, k := binary.Uvarint(data[off:])
		if k <= 0 || size > uint64(len(data)-off-k) {
			return n, fmt.Errorf("entry %d at byte %d is torn", n, off)
		}
		off += k + int(size)
	}
	return n, nil
}

// ---- tests ----

// jobsSnapshot reads the JSON of every job, by id.
func jobsSnapshot(t testing.TB, c *apiClient, ids []int64) map[int64]map[string]any {
	t.Helper()
	m := map[int64]map[string]any{}
	for _, id := range ids {
		_, raw := c.mustJob(t, id)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		m[id] = v
	}
	return m
}

// sameJobs compares the jobs' JSON before and after a restart: equal, but
// for the time_taken of incomplete jobs, which goes on counting.
func sameJobs(t testing.TB, before, after map[int64]map[string]any) {
	t.Helper()
	for id, b := range before {
		a := after[id]
		if s, _ := b["status"].(string); s != "succeeded" && s != "failed" {
			b, a = without(b, "time_taken"), without(a, "time_taken")
		}
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Errorf("job %d changed across the restart:\nbefore %s\nafter  %s", id, jb, ja)
		}
	}
}

func without(m map[string]any, key string) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			c[k] = v
		}
	}
	return c
}

func wantOutputs(t testing.TB, c *apiClient, id int64, want ...any) {
	t.Helper()
	doc, raw, err := c.waitComplete(id)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []any{}
	}
	if doc.Status != "succeeded" || !reflect.DeepEqual(doc.Outputs, want) {
		t.Errorf("job %d: %s; want succeeded with outputs %v", id, raw, want)
	}
}

// TestGracefulShutdownReplaysOnlySnapshot: SIGTERM writes a final snapshot
// and empties the log, so that the next start restores the snapshot alone.
func TestGracefulShutdownReplaysOnlySnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, "first server", dir, serverConfig{})
	c := newAPIClient(s.url())
	defer c.close()

	submit := func(action string, inputs ...string) int64 {
		t.Helper()
		if inputs == nil {
			inputs = []string{}
		}
		j, _, err := c.submit(action, inputs)
		if err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	j1 := submit(gm, "g1-a", "g1-b")               // will be succeeded
	j2 := submit(gm, "g2-a", "g2-b", "g2-c")       // one unit done, one leased, one ready
	j3 := submit(wc, "one two three", "four five") // succeeded through its merge
	j4 := submit(wc, "x y")                        // merging, its merge unit leased
	j5 := submit(gm)                               // no inputs: succeeded at once
	ids := []int64{j1, j2, j3, j4, j5}

	done := 0
	held := work(t, c, "gm-worker", gm, func(*unitDoc) bool { done++; return done == 4 })
	if held == nil || held.Input != "g2-b" {
		t.Fatalf("the fourth graphics_magick unit is %+v, want g2-b's", held)
	}
	held = work(t, c, "wc-worker", wc, func(u *unitDoc) bool { return u.JobID == j4 && u.Status == 5 })
	if held == nil {
		t.Fatal("job 4's merge unit was never handed out")
	}
	wantOutputs(t, c, j1, "g1-a-done", "g1-b-done")
	wantOutputs(t, c, j3, 5.0)
	wantOutputs(t, c, j5)
	before := jobsSnapshot(t, c, ids)
	c.close()

	s.stopOK()
	gen, ok := s.logField("snapshot written", "generation")
	if !ok {
		t.Fatal(`the server did not log "snapshot written" at shutdown`)
	}
	snaps, segs, other := dataDirFiles(t, dir)
	if want := fmt.Sprintf("snapshot-%020s.bin", gen); len(snaps) != 1 || snaps[want] == 0 {
		t.Errorf("snapshot files %v; want only %s, not empty", snaps, want)
	}
	if len(segs) == 0 {
		t.Errorf("no log segment left in the data dir (files: %v)", other)
	}
	for name, size := range segs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := segmentEntries(data)
		if size != 0 || err != nil {
			t.Errorf("log segment %s holds %d bytes (%d entries, %v) after the final snapshot; want it empty", name, size, n, err)
		}
	}
	for name := range other {
		if name != "LOCK" {
			t.Errorf("unexpected file %s in the data dir after a clean shutdown", name)
		}
	}

	s = startServer(t, "second server", dir, serverConfig{})
	c = newAPIClient(s.url())
	defer c.close()
	if got, _ := s.logField("state restored", "snapshot"); got != gen {
		t.Errorf("the restart logged restoring snapshot %q, want generation %s:\n%s", got, gen, s.log.String())
	}
	if got, _ := s.logField("state restored", "jobs"); got != strconv.Itoa(len(ids)) {
		t.Errorf("the restart restored %q jobs, want %d", got, len(ids))
	}
	sameJobs(t, before, jobsSnapshot(t, c, ids))

	// Leases are not durable: the held units are ready again.
	work(t, c, "gm-worker-2", gm+","+wc, nil)
	wantOutputs(t, c, j2, "g2-a-done", "g2-b-done", "g2-c-done")
	wantOutputs(t, c, j4, 2.0)
	if j6 := submit(gm, "g6"); j6 <= j5 {
		t.Errorf("the first job after the restart has id %d, not above %d", j6, j5)
	}
	s.stopOK()
}

// TestSecondServerRefusesDataDir: the data dir's lock keeps a second server
// out while the first goes on serving.
func TestSecondServerRefusesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := startServer(t, "first server", dir, serverConfig{})
	c := newAPIClient(first.url())
	defer c.close()
	j, _, err := c.submit(gm, []string{"before"})
	if err != nil {
		t.Fatal(err)
	}

	second := launchServer(t, "second server", dir, crowdbin.FreeAddr(t), serverConfig{})
	select {
	case <-second.done:
	case <-time.After(readyDeadline):
		second.kill()
		t.Fatalf("the second server on the same data dir is still running after %v:\n%s", readyDeadline, second.log.String())
	}
	out := second.log.String()
	if code := second.cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("the second server exited 0, want non-zero; output:\n%s", out)
	}
	if !regexp.MustCompile(`(?i)data.?dir`).MatchString(out) || !regexp.MustCompile(`(?i)in use|\buses\b|another|lock`).MatchString(out) {
		t.Errorf("the second server's output does not say the data dir is in use:\n%s", out)
	}

	// The first one still serves, and still writes its log.
	if err := first.waitReady(); err != nil {
		t.Fatal(err)
	}
	work(t, c, "w", gm, nil)
	wantOutputs(t, c, j.ID, "before-done")
	k, _, err := c.submit(gm, []string{"after"})
	if err != nil {
		t.Fatal(err)
	}
	c.close()
	first.stopOK()

	s := startServer(t, "restarted server", dir, serverConfig{})
	c = newAPIClient(s.url())
	defer c.close()
	wantOutputs(t, c, j.ID, "before-done")
	if doc, _ := c.mustJob(t, k.ID); doc.Status != "processing" {
		t.Errorf("job %d is %s after the restart, want processing", k.ID, doc.Status)
	}
	s.stopOK()
}

// TestFsyncModes: with --fsync interval and off, jobs survive a clean
// restart, and also a kill -9: those modes only answer before the fsync, the
// data is written to the file (the page cache) before the answer, and a
// process crash does not lose the page cache.
func TestFsyncModes(t *testing.T) {
	for _, mode := range []string{"interval", "off"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			sc := serverConfig{fsync: mode}
			s := startServer(t, mode+" server", dir, sc)
			if got, _ := s.logField("crowd coordinator listening", "fsync"); got != mode {
				t.Errorf("the server logged fsync=%q, want %q", got, mode)
			}
			c := newAPIClient(s.url())
			var ids []int64
			for _, inputs := range [][]string{{mode + "-a", mode + "-b"}, {mode + "-c"}} {
				j, _, err := c.submit(gm, inputs)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, j.ID)
			}
			work(t, c, "w1", gm, nil)
			wantOutputs(t, c, ids[0], mode+"-a-done", mode+"-b-done")
			pending, _, err := c.submit(gm, []string{mode + "-d"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, pending.ID)
			before := jobsSnapshot(t, c, ids)
			c.close()
			s.stopOK()

			s = startServer(t, mode+" server after SIGTERM", dir, sc)
			c = newAPIClient(s.url())
			sameJobs(t, before, jobsSnapshot(t, c, ids))
			work(t, c, "w2", gm, nil)
			wantOutputs(t, c, pending.ID, mode+"-d-done")
			killed, _, err := c.submit(gm, []string{mode + "-e"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, killed.ID)
			before = jobsSnapshot(t, c, ids)
			c.close()
			s.kill()

			s = startServer(t, mode+" server after SIGKILL", dir, sc)
			c = newAPIClient(s.url())
			defer c.close()
			sameJobs(t, before, jobsSnapshot(t, c, ids))
			work(t, c, "w3", gm, nil)
			wantOutputs(t, c, killed.ID, mode+"-e-done")
			s.stopOK()
		})
	}
}

// --pprof serves Go's profiles on an address of their own, not on the API's.
func TestPprofFlag(t *testing.T) {
	profAddr := crowdbin.FreeAddr(t)
	s := startServer(t, "pprof", filepath.Join(t.TempDir(), "data"), serverConfig{args: []string{"--pprof", profAddr}})
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := get("http://" + profAddr + "/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("pprof goroutine profile: %d %.200q", code, body)
	}
	if code, _ := get(s.url() + "/debug/pprof/goroutine?debug=1"); code != http.StatusNotFound {
		t.Errorf("the API's port answers /debug/pprof with %d, want 404", code)
	}
	s.stopOK()
}

// TestSecondSignalStopsNow: with in-process workers, the first SIGTERM
// drains (no new job is taken) and waits for the running unit; a second one
// cuts it short, and the server still exits 0 with its final snapshot. The
// unit is ready again after the restart, its attempt not counted.
func TestSecondSignalStopsNow(t *testing.T) {
	actions := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = phases ]; then echo process; exit 0; fi\nsleep 120\necho '\"late\"'\n"
	if err := os.WriteFile(filepath.Join(actions, "slow"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	sc := serverConfig{args: []string{"--workers", "1"}, env: []string{"CROWD_ACTIONS_PATH=" + actions}}
	s := startServer(t, "server with a worker", dir, sc)
	c := newAPIClient(s.url())
	defer c.close()
	job, _, err := c.submit("slow", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the in-process worker runs the unit.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body, err := c.do("GET", "/status", nil)
		if err == nil && code == http.StatusOK && strings.Contains(string(body), `"leased":1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the in-process worker never took the unit:\n%s", s.log.String())
		}
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: a new job is refused while the unit runs on. (Those taken
	// before the server saw the signal are kept.)
	last := job.ID
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		j, _, err := c.submit(gm, []string{"b"})
		if err == nil {
			last = j.ID
		}
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) || s.exited() {
			t.Fatalf("after SIGTERM, POST /jobs answered %v, want 503 while the unit runs", err)
		}
	}
	c.close()
	// The second signal: the server would otherwise wait out the worker's
	// 30 s grace for a unit that sleeps for two minutes.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the server still runs 15 s after a second signal")
	}
	s.checkLog()
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after the second signal, want 0", code)
	}
	if _, ok := s.logField("snapshot written", "generation"); !ok {
		t.Fatal(`no "snapshot written" at shutdown`)
	}

	s = startServer(t, "restarted", dir, serverConfig{})
	c = newAPIClient(s.url())
	defer c.close()
	u, err := c.fetchWork("w", "slow")
	if err != nil || u == nil || u.JobID != job.ID || u.Attempts != 0 {
		t.Fatalf("after the restart, POST /work = %+v, %v; want job %d's unit with 0 attempts", u, err, job.ID)
	}
	if _, _, ok, err := c.job(last + 1); ok || err != nil {
		t.Fatalf("the job refused while draining: exists %v (%v), want a 404", ok, err)
	}
	s.stopOK()
}
