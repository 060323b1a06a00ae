package transport

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// workerClient speaks the worker protocol over one keep-alive connection.
// It reuses its request, response and buffers, so that the benchmarks'
// allocations are the server's: a body it returns is valid until its next
// call.
type workerClient struct {
	hc        *fasthttp.HostClient
	name      string
	actions   string
	req       fasthttp.Request
	resp      fasthttp.Response
	uri, body []byte
}

func newWorkerClient(addr, name, actions string, conns int) *workerClient {
	return &workerClient{hc: &fasthttp.HostClient{Addr: addr, MaxConns: conns}, name: name, actions: actions}
}

// call sends a form request to the path that path appends, and returns the
// status and the body.
func (w *workerClient) call(method string, path func([]byte) []byte, args ...string) (int, []byte, error) {
	req, resp := &w.req, &w.resp
	req.Reset()
	resp.Reset()
	req.Header.SetMethod(method)
	w.uri = path(append(append(w.uri[:0], "http://"...), w.hc.Addr...))
	req.SetRequestURIBytes(w.uri)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	for i := 0; i+1 < len(args); i += 2 {
		req.PostArgs().Add(args[i], args[i+1])
	}
	if err := w.hc.Do(req, resp); err != nil {
		return 0, nil, err
	}
	w.body = append(w.body[:0], resp.Body()...)
	return resp.StatusCode(), w.body, nil
}

func (w *workerClient) dequeue() (int, []byte, error) {
	return w.call("POST", func(b []byte) []byte { return append(b, "/work"...) },
		"worker_name", w.name, "worker_actions", w.actions)
}

func (w *workerClient) complete(unit int64, output string) (int, []byte, error) {
	return w.call("PUT", func(b []byte) []byte { return strconv.AppendInt(append(b, "/work/"...), unit, 10) },
		"status", "succeeded", "output", output, "time", "0.001", "worker_name", w.name, "worker_actions", w.actions)
}

// Thirty-two workers drain one job of 2,000 units: every unit is completed
// exactly once and the job succeeds with its 2,000 outputs in input order.
func TestConcurrentWorkersCompleteEachUnitOnce(t *testing.T) {
	const units, workers = 2000, 32
	s := startServer(t, nil)
	inputs := make([]int, units)
	for i := range inputs {
		inputs[i] = i
	}
	job, _ := json.Marshal(map[string]any{"action": "graphics_magick", "inputs": inputs})
	if r := s.do(t, "POST", "/jobs", form("job", string(job))); r.Code != 200 {
		t.Fatalf("POST /jobs = %d %s", r.Code, r.Body)
	}
	addr := s.URL[len("http://"):]

	var mu sync.Mutex
	done := make(map[int64]int) // unit id -> completions answered 2xx
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorkerClient(addr, fmt.Sprintf("w%d", i), "graphics_magick", 1)
			code, body, err := w.dequeue()
			for err == nil && code == 200 {
				var u struct {
					ID    int64  `json:"id"`
					Input string `json:"input"`
				}
				if err = json.Unmarshal(body, &u); err != nil {
					break
				}
				code, body, err = w.complete(u.ID, `{"output":`+u.Input+`}`)
				if err == nil && code/100 == 2 {
					mu.Lock()
					done[u.ID]++
					mu.Unlock()
				}
			}
			if err == nil && code != 204 {
				err = fmt.Errorf("worker %s: status %d: %s", w.name, code, body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(done) != units {
		t.Fatalf("%d units completed, want %d", len(done), units)
	}
	for id, n := range done {
		if n != 1 {
			t.Errorf("unit %d completed %d times", id, n)
		}
	}
	r := s.do(t, "GET", "/jobs/1", nil)
	var got struct {
		Status  string `json:"status"`
		Outputs []int  `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "succeeded" || len(got.Outputs) != units {
		t.Fatalf("job: status %q with %d outputs, want succeeded with %d", got.Status, len(got.Outputs), units)
	}
	for i, v := range got.Outputs {
		if v != i {
			t.Fatalf("outputs[%d] = %d: not in input order", i, v)
		}
	}
}
