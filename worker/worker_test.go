package worker_test

// Tests of a Worker in this process, with Go actions registered for the
// test, against a real coordinator.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"github.com/documentcloud/crowd/wire"
	"github.com/documentcloud/crowd/worker"
)

// inspect reports what the worker gave it, including the files in its work
// directory at the start, and saves its input file. Given the text
// "scribble", it leaves a file in its work directory.
type inspect struct{}

func (inspect) Process(ctx context.Context, u *action.Unit) (any, error) {
	ents, err := os.ReadDir(u.WorkDir)
	if err != nil {
		return nil, err
	}
	files := []any{}
	for _, e := range ents {
		files = append(files, e.Name())
	}
	out := map[string]any{"input": u.Input, "options": u.Options, "work_dir": u.WorkDir, "files": files}
	if u.Input == "scribble" {
		if err := os.WriteFile(filepath.Join(u.WorkDir, "scratch.txt"), []byte("left behind"), 0o644); err != nil {
			return nil, err
		}
	}
	if u.InputPath != "" {
		b, err := os.ReadFile(u.InputPath)
		if err != nil {
			return nil, err
		}
		out["input_path"], out["content"] = u.InputPath, string(b)
		saved, err := u.Save(ctx, u.InputPath)
		if err != nil {
			return nil, err
		}
		out["saved"] = saved
	}
	return out, nil
}

// gate waits until it is opened (or its context is done). Started is
// closed when its first unit begins.
type gate struct {
	opened, started chan struct{}
	once            sync.Once
}

func newGate() *gate { return &gate{opened: make(chan struct{}), started: make(chan struct{})} }

func (g *gate) open() { close(g.opened) }

func (g *gate) Process(ctx context.Context, u *action.Unit) (any, error) {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.opened:
		return "opened", nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stuck ignores its context until it is opened.
type stuck struct{ *gate }

func (s stuck) Process(ctx context.Context, u *action.Unit) (any, error) {
	s.once.Do(func() { close(s.started) })
	<-s.opened
	return "late", nil
}

// waitStarted waits until g's first unit runs.
func waitStarted(t *testing.T, g *gate) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(time.Minute):
		t.Fatal("the action did not start within a minute")
	}
}

type panicky struct{}

func (panicky) Process(ctx context.Context, u *action.Unit) (any, error) { panic("boom") }

type noop struct{}

func (noop) Process(ctx context.Context, u *action.Unit) (any, error) { return nil, nil }

// catalogWith is the built-in actions plus the given Go actions.
func catalogWith(dir string, actions map[string]action.Processor) *action.Catalog {
	c := action.NewCatalog(dir)
	for name, a := range actions {
		c.RegisterGo(name, a)
	}
	return c
}

// TestUnitEnvironment: what an action gets: the input parsed, a URL input
// downloaded under its safe file name, the enhanced options, an empty work
// directory whose leftovers are removed afterwards, and Save.
func TestUnitEnvironment(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"inspect"} })
	var storage, temp string
	_, _, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1 // the units run in order, in one slot's directories
		o.Catalog = catalogWith("", map[string]action.Processor{"inspect": inspect{}})
		storage, temp = o.Config.LocalStoragePath, o.Config.TempStoragePath
	})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/report.txt?x=1", http.StatusFound)
			return
		}
		w.Write([]byte("from the web"))
	}))
	defer web.Close()
	local := writeFile(t, t.TempDir(), "my (local) file.txt", "from the disk")
	j := submit(t, co.Client, client.Job{Action: "inspect", Options: []byte(`{"lang":"en"}`),
		Inputs: []any{fileURL(local), web.URL + "/moved", map[string]any{"a": 1.0}, "scribble", "plain text"}})
	j = waitJob(t, co.Client, j.ID, time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("job %s: %s", j.Status, j.Outputs)
	}
	var outs []map[string]any
	if err := json.Unmarshal(j.Outputs, &outs); err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		opts := o["options"].(map[string]any)
		if opts["lang"] != "en" || opts["job_id"] != float64(j.ID) || opts["attempts"] != 0.0 || opts["work_unit_id"] == nil {
			t.Errorf("unit %d options %v, want lang, job_id %d, work_unit_id and attempts 0", i, opts, j.ID)
		}
		if dir := o["work_dir"].(string); filepath.Dir(dir) != filepath.Join(temp, "inspect") {
			t.Errorf("unit %d work dir %s, want one in %s", i, dir, filepath.Join(temp, "inspect"))
		}
	}
	// The work directory holds the downloaded input, or nothing.
	for i, want := range [][]any{{"my-local-file.txt"}, {"moved"}, {}, {}, {}} { // named by the URL asked for
		if got := outs[i]["files"]; !reflect.DeepEqual(got, want) {
			t.Errorf("unit %d started with %v in its work directory, want %v", i, got, want)
		}
	}
	// A directory left with files is not used again; an empty one is.
	dir := func(i int) string { return outs[i]["work_dir"].(string) }
	if dir(0) == dir(1) || dir(1) == dir(2) || dir(2) != dir(3) || dir(3) == dir(4) {
		t.Errorf("work dirs %s %s %s %s %s: want a new one after units 1, 2 and 4 (which left files), the same after unit 3",
			dir(0), dir(1), dir(2), dir(3), dir(4))
	}
	for i, content := range []string{"from the disk", "from the web"} {
		o := outs[i]
		if o["content"] != content {
			t.Errorf("unit %d read %q, want %q", i, o["content"], content)
		}
		u, err := url.Parse(o["saved"].(string))
		if err != nil || u.Scheme != "file" {
			t.Fatalf("saved %v", o["saved"])
		}
		want := filepath.Join(storage, "inspect", "job_"+jsonNumber(float64(j.ID)),
			"unit_"+jsonNumber(o["options"].(map[string]any)["work_unit_id"]), filepath.Base(o["input_path"].(string)))
		if u.Path != want {
			t.Errorf("saved at %s, want %s", u.Path, want)
		}
	}
	if !reflect.DeepEqual(outs[2]["input"], map[string]any{"a": 1.0}) || outs[2]["input_path"] != nil {
		t.Errorf("a JSON input: %v", outs[2])
	}
	if outs[4]["input"] != "plain text" || outs[4]["input_path"] != nil {
		t.Errorf("a text input: %v", outs[4])
	}
	// The worker removes its directories when it stops.
	stop()
	if ents, err := os.ReadDir(filepath.Join(temp, "inspect")); err != nil || len(ents) != 0 {
		t.Errorf("after the worker stopped, %s holds %v (%v)", filepath.Join(temp, "inspect"), ents, err)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestActionFailures: a panic, an action past unit_timeout (a Go action
// that ignores its context, and an exec action, which is killed) and a
// failed download each fail their attempt with a clear message, and the
// worker goes on.
func TestActionFailures(t *testing.T) {
	t.Parallel()
	actions := t.TempDir()
	writeAction(t, actions, "sleeper", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nsleep 60\necho 1\n")
	co := startCoordinator(t, func(c *coordConfig) {
		c.settings.WorkUnitRetries = 1
		c.actions = actions
		c.register = []string{"panicky", "stuck"}
	})
	release := stuck{newGate()}
	defer release.open()
	_, logs, _ := runWorker(t, co.URL, func(o *worker.Options) {
		o.Config.UnitTimeout = 300 * time.Millisecond
		o.Config.ActionsPath = actions
		o.Catalog = catalogWith(actions, map[string]action.Processor{"panicky": panicky{}, "stuck": release})
	})
	for _, tc := range []struct {
		action string
		input  string
		want   string
	}{
		{"panicky", "x", "action panicky failed: panicked in process: boom"},
		{"stuck", "x", "action stuck failed: timed out after 300ms (unit_timeout)"},
		{"sleeper", "x", "action sleeper failed: timed out after 300ms (unit_timeout)"},
		{"word_count", "file:///no/such/file.txt", "action word_count failed: downloading file:///no/such/file.txt: "},
	} {
		j := waitJob(t, co.Client, submit(t, co.Client, client.Job{Action: tc.action, Inputs: []any{tc.input}}).ID, time.Minute)
		out := outputs(t, j)
		if msg, _ := out[0].(string); j.Status != "failed" || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%s: job %s %v, want failed with %q", tc.action, j.Status, out, tc.want)
		}
	}
	j := waitJob(t, co.Client, submit(t, co.Client, client.Job{Action: "word_count", Inputs: []any{"still going strong"}}).ID, time.Minute)
	if j.Status != "succeeded" || string(j.Outputs) != "[3]" {
		t.Errorf("after the failures: %s %s, want succeeded [3]", j.Status, j.Outputs)
	}
	if n := logs.count("level=WARN msg=\"unit failed\""); n != 4 {
		t.Errorf("%d failures logged at Warn, want 4", n)
	}
	if n := logs.count("level=DEBUG msg=\"unit done\""); n < 1 {
		t.Errorf("no unit logged at Debug")
	}
}

// TestCoordinatorOutage: a worker started before its coordinator waits for
// it, logging the outage once; a result finished while the coordinator is
// away is sent again until it is taken.
func TestCoordinatorOutage(t *testing.T) {
	t.Parallel()
	addr := crowdbin.FreeAddr(t)
	g := newGate()
	_, logs, _ := runWorker(t, "http://"+addr, func(o *worker.Options) {
		o.Concurrency = 1
		o.CheckInInterval = 10 * time.Second // the outages stay shorter than 3 check-ins
		o.Catalog = catalogWith("", map[string]action.Processor{"gate": g})
	})
	waitFor(t, 30*time.Second, "the outage to be logged", func() bool { return logs.count("coordinator unreachable") == 1 })
	time.Sleep(1500 * time.Millisecond) // a retry or two, which must not be logged again
	co := startCoordinator(t, func(c *coordConfig) { c.addr = addr; c.register = []string{"gate"} })
	j := submit(t, co.Client, client.Job{Action: "gate", Inputs: []any{"x"}})
	waitStarted(t, g)
	if logs.count("coordinator unreachable") != 1 || logs.count("coordinator reachable again") != 1 {
		t.Fatalf("the first outage was logged %d times, its end %d times; want once each",
			logs.count("coordinator unreachable"), logs.count("coordinator reachable again"))
	}

	co.stopHTTP()
	g.open() // the unit finishes while the coordinator is away
	waitFor(t, 30*time.Second, "the second outage to be logged", func() bool { return logs.count("coordinator unreachable") == 2 })
	co.listen(t, addr)
	j = waitJob(t, co.Client, j.ID, time.Minute)
	if j.Status != "succeeded" || string(j.Outputs) != `["opened"]` {
		t.Fatalf("job %s %s, want succeeded [\"opened\"]", j.Status, j.Outputs)
	}
	if n := logs.count("coordinator unreachable"); n != 2 {
		t.Errorf("2 outages logged %d times", n)
	}
	if strings.Contains(logs.String(), "result dropped") {
		t.Errorf("a result was dropped:\n%s", logs.String())
	}
}

// TestResultForDeletedJob: a result for a unit whose job was deleted meanwhile
// (404) is logged at Info and dropped, and the worker goes on.
func TestResultForDeletedJob(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"gate"} })
	g := newGate()
	_, logs, _ := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1
		o.Catalog = catalogWith("", map[string]action.Processor{"gate": g})
	})
	j := submit(t, co.Client, client.Job{Action: "gate", Inputs: []any{"x"}})
	waitStarted(t, g)
	if err := co.Client.Delete(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	g.open()
	waitFor(t, time.Minute, "the dropped result to be logged", func() bool {
		return logs.count(`level=INFO msg="result not recorded: the unit was taken back or deleted"`) == 1
	})
	j = waitJob(t, co.Client, submit(t, co.Client, client.Job{Action: "word_count", Inputs: []any{"a b"}}).ID, time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("the next job: %s %s", j.Status, j.Outputs)
	}
}

// TestShutdownChecksOut: an in-process worker's shutdown gives back a
// unit cut short by the grace period, and checks every slot out.
func TestShutdownChecksOut(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"gate"} })
	g := newGate()
	defer g.open()
	_, logs, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 3
		o.Grace = 100 * time.Millisecond
		o.Catalog = catalogWith("", map[string]action.Processor{"gate": g})
	})
	j := submit(t, co.Client, client.Job{Action: "gate", Inputs: []any{"x"}})
	waitStarted(t, g)
	waitFor(t, time.Minute, "the slots to check in", func() bool {
		st, err := co.Client.Status(context.Background())
		return err == nil && st.Units.Leased == 1 && len(st.Workers) == 3
	})
	stop()
	if logs.count("cut short by the end of the grace period") != 1 {
		t.Errorf("the unit was not cut short:\n%s", logs.String())
	}
	st, err := co.Client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Workers) != 0 || st.Units.Ready != 1 || st.Units.Leased != 0 {
		t.Fatalf("after the shutdown: workers %v, units %+v; want none, and the unit ready", st.Workers, st.Units)
	}
	u, err := co.Client.Dequeue(context.Background(), "probe", "gate")
	if err != nil || u == nil || u.JobID != j.ID || u.Attempts != 0 {
		t.Fatalf("the queue gave %+v, %v; want job %d's unit with attempts 0", u, err, j.ID)
	}
}

// TestShutdownAbandonsStuckAction: a Go action that ignores its context
// (no unit_timeout, so it runs on the slot's goroutine) does not hold the
// shutdown past the grace period; its unit is given back.
func TestShutdownAbandonsStuckAction(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"stuck"} })
	release := stuck{newGate()}
	defer release.open()
	_, logs, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1
		o.Grace = 100 * time.Millisecond
		o.Catalog = catalogWith("", map[string]action.Processor{"stuck": release})
	})
	j := submit(t, co.Client, client.Job{Action: "stuck", Inputs: []any{"x"}})
	waitStarted(t, release.gate)
	stop() // returns, or runWorker's stop fails the test after a minute
	if logs.count("leaving it running") != 1 {
		t.Errorf("the abandoned action was not logged:\n%s", logs.String())
	}
	u, err := co.Client.Dequeue(context.Background(), "probe", "stuck")
	if err != nil || u == nil || u.JobID != j.ID || u.Attempts != 0 {
		t.Fatalf("the queue gave %+v, %v; want job %d's unit with attempts 0", u, err, j.ID)
	}
}

// TestShutdownFinishesRunningUnit: on shutdown a running unit that ends
// within the grace period is reported, and the next unit is not run: it
// stays queued with no attempt.
func TestShutdownFinishesRunningUnit(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"gate"} })
	g := newGate()
	w, logs, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1
		o.Grace = time.Minute
		o.Catalog = catalogWith("", map[string]action.Processor{"gate": g})
	})
	j := submit(t, co.Client, client.Job{Action: "gate", Inputs: []any{"first", "second"}})
	waitStarted(t, g)
	first := leasedUnit(t, co.Client, w.Names()[0], time.Minute)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	waitFor(t, time.Minute, "the worker to begin stopping", func() bool { return logs.count("worker stopping") == 1 })
	g.open()
	<-stopped
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if len(d.Units) != 2 || d.Units[0].ID != first.ID || d.Units[0].State != "succeeded" {
		t.Fatalf("units %+v, want the first succeeded", d.Units)
	}
	if u := d.Units[1]; u.State != "queued" || u.Attempts != 0 {
		t.Fatalf("the second unit %+v, want queued with attempts 0", u)
	}
	if n := logs.count(`msg="unit done"`); n != 1 {
		t.Errorf("%d units run, want 1", n)
	}
}

// TestSpoiledAnswerRecovered: when the answer to a PUT /work/:id is lost
// after the coordinator acted on it, or is a 200 that does not decode, the
// next unit it leased to the slot is run, rather than left leased forever:
// a lost answer's report is sent again, and the coordinator answers the
// repeat as it answered the first, with that unit; an unreadable answer
// makes the slot find its unit again (GET /worker/:name).
func TestSpoiledAnswerRecovered(t *testing.T) {
	for name, tt := range map[string]struct {
		spoil   func(http.ResponseWriter)
		repeats uint64 // reports the coordinator took as repeats
		resumed int    // units the slot found again
	}{
		"lost":       {spoil: func(http.ResponseWriter) { panic(http.ErrAbortHandler) }, repeats: 1},
		"unreadable": {spoil: func(w http.ResponseWriter) { w.Write([]byte("<html>not JSON</html>")) }, resumed: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"noop"} })
			target, _ := url.Parse(co.URL)
			proxy := httputil.NewSingleHostReverseProxy(target)
			var spoiled atomic.Bool
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/work/") && spoiled.CompareAndSwap(false, true) {
					proxy.ServeHTTP(httptest.NewRecorder(), r) // the report is recorded, but its answer spoiled
					tt.spoil(w)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(front.Close) // after the worker's check-out, which runWorker's cleanup does
			logs := runNoopWorker(t, front.URL)
			j := submit(t, co.Client, client.Job{Action: "noop", Inputs: []any{"a", "b", "c"}})
			j = waitJob(t, co.Client, j.ID, time.Minute)
			if j.Status != "succeeded" || !spoiled.Load() {
				t.Fatalf("job %s %s (an answer spoiled: %v)", j.Status, j.Outputs, spoiled.Load())
			}
			if n := logs.count(`msg="unit done"`); n != 3 {
				t.Errorf("%d units run, want each of the 3 once:\n%s", n, logs.String())
			}
			if n := co.Co.Counters().RepeatReports.Load(); n != tt.repeats {
				t.Errorf("%d reports answered as repeats, want %d", n, tt.repeats)
			}
			if n := logs.count("resuming a unit whose lease answer was lost"); n != tt.resumed {
				t.Errorf("%d units resumed, want %d:\n%s", n, tt.resumed, logs.String())
			}
		})
	}
}

// TestNewOptions: the slots' names and the actions asked for.
func TestNewOptions(t *testing.T) {
	cfg := testConfig(t)
	cfg.DisabledActions = []string{"graphics_magick", "process_pdfs"}
	cfg.MaxWorkers = 3
	w, err := worker.New(worker.Options{Config: cfg, Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if got, want := w.Names(), []string{slot(1, pid), slot(2, pid), slot(3, pid)}; !reflect.DeepEqual(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	if w.Actions() != "word_count" {
		t.Errorf("actions %q, want word_count", w.Actions())
	}
	for _, every := range []time.Duration{50 * time.Millisecond, 25 * time.Hour} {
		if _, err := worker.New(worker.Options{Config: cfg, CheckInInterval: every}); err == nil {
			t.Errorf("a check-in every %v, which the coordinator refuses: no error", every)
		}
	}
	cfg.DisabledActions = append(cfg.DisabledActions, "word_count")
	if _, err := worker.New(worker.Options{Config: cfg}); err == nil {
		t.Error("every action disabled: no error")
	}
}

func slot(n, pid int) string { return jsonNumber(n) + "." + jsonNumber(pid) + "@box" }

// TestNewRefusesOverlongNames: a worker whose actions, joined, or whose
// slots' names are longer than the coordinator takes does not start (the
// coordinator would answer every request 400).
func TestNewRefusesOverlongNames(t *testing.T) {
	cfg := testConfig(t)
	catalog := action.NewCatalog("")
	for i := 0; len(strings.Join(catalog.Names(), ",")) <= wire.MaxWorkerActions; i++ {
		catalog.Register(fmt.Sprintf("a_rather_long_action_name_number_%03d", i), action.Phases{})
	}
	_, err := worker.New(worker.Options{Config: cfg, Catalog: catalog, Host: "box"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(wire.MaxWorkerActions)) {
		t.Errorf("New with %d bytes of actions = %v, want an error naming the limit of %d",
			len(strings.Join(catalog.Names(), ",")), err, wire.MaxWorkerActions)
	}
	host := strings.Repeat("h", wire.MaxWorkerName)
	_, err = worker.New(worker.Options{Config: cfg, Host: host})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(wire.MaxWorkerName)) {
		t.Errorf("New with a %d-byte host = %v, want an error naming the limit of %d", len(host), err, wire.MaxWorkerName)
	}
	// Just within the limit: the longest name, the last slot's, has 1024 bytes.
	cfg.MaxWorkers = 10
	host = strings.Repeat("h", wire.MaxWorkerName-len(fmt.Sprintf("10.%d@", os.Getpid())))
	if _, err := worker.New(worker.Options{Config: cfg, Host: host}); err != nil {
		t.Errorf("New with names of at most %d bytes: %v", wire.MaxWorkerName, err)
	}
}

// TestRunRefusedCredentials: Run fails at once when the coordinator refuses
// the worker's credentials.
func TestRunRefusedCredentials(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.login, c.password = "admin", "secret" })
	cfg := testConfig(t)
	cfg.CentralServer = co.URL
	cfg.Login, cfg.Password = "admin", "wrong"
	w, err := worker.New(worker.Options{Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Run(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("Run = %v, want an error matching ErrUnauthorized", err)
	}
}

// testConfig is the default configuration with the test's folders.
func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.TempStoragePath = filepath.Join(t.TempDir(), "tmp")
	cfg.LocalStoragePath = filepath.Join(t.TempDir(), "storage")
	return cfg
}

// TestCredentialsNotLogged: a password in the coordinator's URL shows
// neither in the worker's log nor in its errors: the URL is shown redacted.
func TestCredentialsNotLogged(t *testing.T) {
	t.Parallel()
	// Logged at start and when the coordinator cannot be reached.
	addr := crowdbin.FreeAddr(t)
	_, logs, stop := runWorker(t, "http://bob:s3cr3t@"+addr, func(o *worker.Options) { o.Concurrency = 1 })
	waitFor(t, 30*time.Second, "the outage to be logged", func() bool { return logs.count("coordinator unreachable") == 1 })
	stop()
	if out := logs.String(); strings.Contains(out, "s3cr3t") || !strings.Contains(out, "server=http://"+addr) {
		t.Errorf("the log shows the password, or not the coordinator's URL:\n%s", out)
	}

	// In the error of a worker whose credentials are refused.
	co := startCoordinator(t, func(c *coordConfig) { c.login, c.password = "bob", "s3cr3t" })
	cfg := testConfig(t)
	cfg.CentralServer = "http://bob:wr0ng@" + co.Addr
	w, err := worker.New(worker.Options{Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Run(ctx); err == nil || strings.Contains(err.Error(), "wr0ng") {
		t.Errorf("Run = %v, want an error without the password", err)
	}

	// In the error of a URL the client refuses.
	cfg.CentralServer = "http://bob:s3cr3t@127.0.0.1:1/?x=1"
	if _, err := worker.New(worker.Options{Config: cfg, Logger: quietLogger()}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("New = %v, want an error without the password", err)
	}
}

// big answers 8 KiB of output.
type big struct{}

func (big) Process(context.Context, *action.Unit) (any, error) {
	return strings.Repeat("x", 8<<10), nil
}

// TestRefusedResultFails: a result the coordinator refuses (a 413 here: the
// output is over max_body) is reported as a failed attempt that names the
// refusal, so the unit is retried and then fails by the usual rules rather
// than staying leased to the slot.
func TestRefusedResultFails(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register, c.maxBody = []string{"big"}, 4<<10 })
	_, logs, _ := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1
		o.Catalog = catalogWith("", map[string]action.Processor{"big": big{}})
	})
	j := waitJob(t, co.Client, submit(t, co.Client, client.Job{Action: "big", Inputs: []any{"x"}}).ID, 30*time.Second)
	out := outputs(t, j)
	want := "the coordinator refused the result: 413 Request Entity Too Large: request body is larger than max_body"
	if msg, _ := out[0].(string); j.Status != "failed" || !strings.HasPrefix(msg, want) {
		t.Fatalf("job %s %v, want failed with %q", j.Status, out, want)
	}
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if u := d.Units[0]; u.Attempts != 3 || len(u.Errors) != 3 {
		t.Errorf("unit %+v, want 3 failed attempts", u)
	}
	if n := logs.count(`msg="result refused`); n != 3 {
		t.Errorf("%d refusals logged, want 3", n)
	}
}

// TestRefusedFailureLost: when the failed attempt that reports a refused
// result is refused too, the slot asks the coordinator for the unit it
// holds (as after a lost answer) and runs it again, rather than leaving it
// leased.
func TestRefusedFailureLost(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"noop"} })
	target, _ := url.Parse(co.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu      sync.Mutex
		refused []string // the bodies of the refused reports
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/work/") {
			mu.Lock()
			defer mu.Unlock()
			if len(refused) < 2 {
				body, _ := io.ReadAll(r.Body)
				refused = append(refused, string(body))
				http.Error(w, `{"error":"refused by the test"}`, http.StatusBadRequest)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close) // after the worker's check-out, which runWorker's cleanup does
	logs := runNoopWorker(t, front.URL)
	j := waitJob(t, co.Client, submit(t, co.Client, client.Job{Action: "noop", Inputs: []any{"x"}}).ID, 30*time.Second)
	if j.Status != "succeeded" {
		t.Fatalf("job %s %s, want succeeded", j.Status, j.Outputs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 2 || !strings.Contains(refused[0], "status=succeeded") ||
		!strings.Contains(refused[1], "status=failed") || !strings.Contains(refused[1], "refused+by+the+test") {
		t.Errorf("the refused reports %q, want the success, then a failure naming the refusal", refused)
	}
	if logs.count("resuming a unit whose lease answer was lost") != 1 {
		t.Errorf("the unit was not resumed")
	}
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if u := d.Units[0]; u.Attempts != 1 || len(u.Errors) != 0 {
		t.Errorf("unit %+v, want one attempt, the success", u)
	}
}

// TestShutdownTakesNoNextUnit: once the worker is stopping, a slot that
// reports its unit while another still runs one is handed no next unit
// (it reports with no actions), so the queued unit stays ready for other
// workers instead of waiting, leased, for the stop to end.
func TestShutdownTakesNoNextUnit(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, func(c *coordConfig) { c.register = []string{"hold", "gate"} })
	hold, g := newGate(), newGate()
	release := sync.OnceFunc(hold.open)
	defer release()
	_, logs, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 2
		o.Grace = time.Minute
		o.Catalog = catalogWith("", map[string]action.Processor{"hold": hold, "gate": g})
	})
	submit(t, co.Client, client.Job{Action: "hold", Inputs: []any{"x"}})
	waitStarted(t, hold)
	j := submit(t, co.Client, client.Job{Action: "gate", Inputs: []any{"first", "second"}})
	waitStarted(t, g)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	waitFor(t, time.Minute, "the worker to begin stopping", func() bool { return logs.count("worker stopping") == 1 })
	g.open()
	waitFor(t, time.Minute, "the first unit to be reported", func() bool {
		d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
		return d.Units[0].State == "succeeded"
	})
	st, err := co.Client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Units.Leased != 1 || st.Units.Ready != 1 {
		t.Errorf("while the other slot finishes: units %+v, want the held one leased and the second ready", st.Units)
	}
	release()
	<-stopped
}

// TestShutdownSignalledActionNotReported: an exec action killed by a signal
// once the worker is stopping (systemd signals the whole cgroup) was cut
// short, not failed: it is not reported, and the check-out gives its unit
// back with no attempt counted.
func TestShutdownSignalledActionNotReported(t *testing.T) {
	t.Parallel()
	actions, pids := t.TempDir(), t.TempDir()
	writeAction(t, actions, "nap", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\necho $$ > \""+pids+"/pid\"\nsleep 60\necho '\"slept\"'\n")
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, logs, stop := runWorker(t, co.URL, func(o *worker.Options) {
		o.Concurrency = 1
		o.Grace = time.Minute
		o.Config.ActionsPath = actions
	})
	j := submit(t, co.Client, client.Job{Action: "nap", Inputs: []any{"x"}})
	var pid int
	waitFor(t, time.Minute, "the action to start", func() bool {
		b, err := os.ReadFile(filepath.Join(pids, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	waitFor(t, time.Minute, "the worker to begin stopping", func() bool { return logs.count("worker stopping") == 1 })
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil { // the action's process group
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop within 30 s of its action's death")
	}
	if logs.count("unit failed") != 0 || logs.count("unit cut short") != 1 {
		t.Errorf("the killed action was reported as a failure, or not logged as cut short")
	}
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if u := d.Units[0]; u.State != "queued" || u.Attempts != 0 || len(u.Errors) != 0 {
		t.Errorf("unit %+v, want queued with no attempt", u)
	}
}

// runNoopWorker runs one slot offering the noop action against url.
func runNoopWorker(t *testing.T, url string) *logBuffer {
	t.Helper()
	_, logs, _ := runWorker(t, url, func(o *worker.Options) {
		o.Concurrency = 1
		o.Catalog = catalogWith("", map[string]action.Processor{"noop": noop{}})
	})
	return logs
}
