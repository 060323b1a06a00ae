package transport

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// A worker not heard from for worker_timeout loses its unit: another worker
// gets it with the lost attempt counted, and the first worker's late report
// is a conflict.
func TestLeaseRecoveredAfterWorkerTimeout(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkerTimeout = time.Second })
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	// w1 goes silent; w2 keeps asking.
	wantJSON(t, "POST /work by w2", s.takeEventually(t, "w2", act), unitJSON(1, 1, "a", 1, act, 1))
	wantError(t, "PUT /work/1 by w1", s.report(t, 1, "w1", "succeeded", `{"output":"late"}`, act), 409)
	wantJSON(t, "GET /worker/w2", s.do(t, "GET", "/worker/w2", nil), unitJSON(1, 1, "a", 1, act, 1))
	wantNoContent(t, "PUT /work/1 by w2", s.report(t, 1, "w2", "succeeded", `{"output":"A"}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}

// A worker that declared check_in_interval is dead after three missed
// check-ins, long before worker_timeout.
func TestLeaseRecoveredAfterMissedCheckIns(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkerTimeout = 120 * time.Second })
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w1", "check_in_interval", "0.3")))
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	wantJSON(t, "POST /work by w2", s.takeEventually(t, "w2", act), unitJSON(1, 1, "a", 1, act, 1))
	wantError(t, "PUT /work/1 by w1", s.report(t, 1, "w1", "succeeded", `{"output":"late"}`, act), 409)
}

// A worker that keeps checking in with its interval keeps its unit, and
// stays listed in /status.
func TestCheckInsKeepTheLease(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkerTimeout = 120 * time.Second })
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w1", "check_in_interval", "0.3")))
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	stop := s.keepCheckingIn("w1", form("check_in_interval", "0.3"), 100*time.Millisecond)
	// Long enough for several missed-check-in limits (0.9 s) to pass.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		wantNoContent(t, "POST /work by w2", s.take(t, "w2", act))
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), unitJSON(1, 1, "a", 0, act, 1))
	wantNoContent(t, "PUT /work/1 by w1", s.report(t, 1, "w1", "succeeded", `{"output":"A"}`, act))
}

// With work_unit_retries 1, a lost unit fails the job, with an error that
// names the worker.
func TestLostUnitFailsJobWithoutRetries(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.settings.WorkerTimeout = time.Second
		c.settings.WorkUnitRetries = 1
	})
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work by lost-worker", s.take(t, "lost-worker", act), unitJSON(1, 1, "a", 0, act, 1))
	var body string
	pollUntil(t, 10*time.Second, "job 1 to fail", func() (bool, string) {
		r := s.do(t, "GET", "/jobs/1", nil)
		body = r.Body
		return strings.Contains(r.Body, `"status":"failed"`), r.Body
	})
	var job struct {
		Outputs []string `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(body), &job); err != nil || len(job.Outputs) != 1 || !strings.Contains(job.Outputs[0], "lost-worker") {
		t.Fatalf("failed job %s: want one output naming lost-worker (%v)", body, err)
	}
	out, _ := json.Marshal(job.Outputs)
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":`+string(out)+`}`)
	wantNoContent(t, "POST /work", s.take(t, "w2", act))
	wantError(t, "PUT /work/1 by lost-worker", s.report(t, 1, "lost-worker", "succeeded", `{"output":"late"}`, act), 409)
}

// A unit held past unit_timeout is taken back even though its worker keeps
// checking in.
func TestUnitTimeout(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.settings.UnitTimeout = 500 * time.Millisecond
		c.settings.WorkerTimeout = 120 * time.Second
	})
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	stop := s.keepCheckingIn("w1", nil, 100*time.Millisecond)
	defer stop()
	u := decodeUnit(t, "POST /work by w2", s.takeEventually(t, "w2", act))
	if u.ID != 1 || u.Attempts != 1 {
		t.Fatalf("w2 got unit %d with attempts %d, want unit 1 with attempts 1", u.ID, u.Attempts)
	}
	wantError(t, "PUT /work/1 by w1", s.report(t, 1, "w1", "succeeded", `{"output":"late"}`, act), 409)
	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), `{}`)
}

// After unit_timeout takes a unit back, its worker (alive, checking in) is
// idle in /status.
func TestUnitTimeoutFreesTheWorker(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.settings.UnitTimeout = 500 * time.Millisecond
		c.settings.WorkerTimeout = 120 * time.Second
	})
	const act = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	stop := s.keepCheckingIn("w1", nil, 100*time.Millisecond)
	defer stop()
	pollUntil(t, 10*time.Second, "/status to show unit 1 ready again and w1 idle", func() (bool, string) {
		r := s.do(t, "GET", "/status", nil)
		return strings.Contains(r.Body, `"workers":[{"name":"w1","status":null}]`) &&
			strings.HasSuffix(r.Body, `"units":{"ready":1,"leased":0,"waiting":0}}`), r.Body
	})
}

// keepCheckingIn sends PUT /worker for name (with extra fields) every
// interval until the returned stop is called.
func (s *testServer) keepCheckingIn(name string, extra url.Values, interval time.Duration) (stop func()) {
	f := form("name", name, "thread_status", "busy")
	for k, vs := range extra {
		f[k] = vs
	}
	body := f.Encode()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			req, err := http.NewRequest("PUT", s.URL+"/worker", strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if s.user != "" {
					req.SetBasicAuth(s.user, s.pass)
				}
				if resp, err := s.client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); wg.Wait() })
	}
}
