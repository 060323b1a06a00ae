package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// scripted is a fake coordinator whose GET /jobs/1 answers follow a script:
// each entry is a status code (200 answers the job processing, 201 the job
// succeeded, 0 hangs until the test ends); past its end it repeats the last.
type scripted struct {
	mu       sync.Mutex
	script   []int
	requests int
	hang     chan struct{}
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code := s.script[min(s.requests, len(s.script)-1)]
	s.requests++
	s.mu.Unlock()
	switch code {
	case 0:
		select {
		case <-s.hang:
		case <-r.Context().Done():
		}
	case 200:
		w.Write([]byte(`{"id":1,"status":"processing","percent_complete":50,"work_units":2}`))
	case 201:
		w.Write([]byte(`{"id":1,"status":"succeeded","percent_complete":100,"outputs":["a","b"]}`))
	default:
		w.WriteHeader(code)
		w.Write([]byte(`{"error":"scripted"}`))
	}
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// startScripted serves a script; the client's own timeout is long (10 s),
// so that only the wait's bound can cut a hanging request short.
func startScripted(t *testing.T, script ...int) (*scripted, *client.Client) {
	t.Helper()
	s := &scripted{script: script, hang: make(chan struct{})}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		close(s.hang)
		srv.Close()
	})
	return s, newClient(t, srv.URL, client.Options{})
}

// outageLog records the outage callbacks.
type outageLog struct {
	unavailable []error
	available   []time.Duration
}

func (l *outageLog) options(o client.WaitOptions) client.WaitOptions {
	o.Unavailable = func(err error) { l.unavailable = append(l.unavailable, err) }
	o.Available = func(d time.Duration) { l.available = append(l.available, d) }
	return o
}

// An outage (503s, as from a coordinator shutting down) in the middle of a
// wait is retried, reported once when it begins and once when it ends.
func TestWaitRetriesOutage(t *testing.T) {
	s, c := startScripted(t, 200, 503, 503, 503, 200, 201)
	var log outageLog
	var seen []wire.Job
	o := log.options(client.WaitOptions{Poll: 5 * time.Millisecond, Progress: func(j wire.Job) { seen = append(seen, j) }})
	j, err := c.WaitWith(context.Background(), 1, o)
	if err != nil || j.Status != "succeeded" || string(j.Outputs) != `["a","b"]` {
		t.Fatalf("WaitWith = %+v, %v; want the job succeeded", j, err)
	}
	if len(seen) != 3 {
		t.Fatalf("progress saw %d states, want 3 (the 503s are not states)", len(seen))
	}
	if len(log.unavailable) != 1 || !client.IsUnavailable(log.unavailable[0]) || len(log.available) != 1 {
		t.Fatalf("outage callbacks: unavailable %v, available %v; want one each", log.unavailable, log.available)
	}
	// Back-off: 5, 10 and 20 ms after the three 503s.
	if log.available[0] < 35*time.Millisecond {
		t.Fatalf("the outage lasted %v, want >= 35ms (a doubling back-off from 5ms)", log.available[0])
	}
	if n := s.count(); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}

	// Wait (the old signature) retries too.
	_, c = startScripted(t, 502, 201)
	if j, err := c.Wait(context.Background(), 1, 5*time.Millisecond, nil); err != nil || j.Status != "succeeded" {
		t.Fatalf("Wait through a 502 = %+v, %v", j, err)
	}
}

// An outage longer than the bound ends the wait with an error that
// IsUnavailable reports; the retries back off.
func TestWaitOutageBound(t *testing.T) {
	s, c := startScripted(t, 200, 503)
	var log outageLog
	start := time.Now()
	_, err := c.WaitWith(context.Background(), 1, log.options(client.WaitOptions{Poll: 10 * time.Millisecond, Outage: time.Second}))
	d := time.Since(start)
	if !client.IsUnavailable(err) {
		t.Fatalf("WaitWith through a long outage = %v, want an unavailable error", err)
	}
	if d < time.Second || d > 5*time.Second {
		t.Fatalf("WaitWith gave up after %v, want about 1s", d)
	}
	if len(log.unavailable) != 1 || len(log.available) != 0 {
		t.Fatalf("outage callbacks: unavailable %v, available %v; want one and none", log.unavailable, log.available)
	}
	// 10, 20, 40, ... 640 ms, then the rest of the second: about 8 retries,
	// where polling every 10 ms would make 100.
	if n := s.count(); n > 15 {
		t.Fatalf("%d requests in a 1s outage, want a back-off", n)
	}

	// Connection refused from the start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c = newClient(t, "http://"+addr, client.Options{})
	start = time.Now()
	_, err = c.WaitWith(context.Background(), 1, client.WaitOptions{Poll: 10 * time.Millisecond, Outage: 200 * time.Millisecond})
	if d := time.Since(start); !client.IsUnavailable(err) || d < 200*time.Millisecond || d > 3*time.Second {
		t.Fatalf("WaitWith on a closed port = %v after %v, want an unavailable error after about 200ms", err, d)
	}

	// A negative bound: the first error ends the wait.
	log = outageLog{}
	_, err = c.WaitWith(context.Background(), 1, log.options(client.WaitOptions{Outage: -1}))
	if !client.IsUnavailable(err) || len(log.unavailable) != 0 {
		t.Fatalf("WaitWith with no retry = %v (callbacks %v), want the first error", err, log.unavailable)
	}
}

// A request that hangs during an outage is cut short by the bound, not by
// the client's (longer) timeout.
func TestWaitOutageBoundCutsRequest(t *testing.T) {
	_, c := startScripted(t, 503, 0)
	start := time.Now()
	_, err := c.WaitWith(context.Background(), 1, client.WaitOptions{Poll: 10 * time.Millisecond, Outage: 300 * time.Millisecond})
	if d := time.Since(start); !client.IsUnavailable(err) || d > 3*time.Second {
		t.Fatalf("WaitWith with a hanging coordinator = %v after %v, want an unavailable error after about 300ms", err, d)
	}
}

// A 404 (the job was deleted) ends the wait at once, even in an outage; so
// does a cancelled context.
func TestWaitOutageNotFound(t *testing.T) {
	_, c := startScripted(t, 503, 503, 404)
	_, err := c.WaitWith(context.Background(), 1, client.WaitOptions{Poll: time.Millisecond})
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("WaitWith = %v, want ErrNotFound", err)
	}

	_, c = startScripted(t, 503)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.WaitWith(ctx, 1, client.WaitOptions{Poll: time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitWith past its deadline in an outage = %v, want context.DeadlineExceeded", err)
	}
}
