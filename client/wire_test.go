package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/transport"
	"github.com/valyala/fasthttp"
)

// fakeServer serves handler on 127.0.0.1 and returns its address; it stops
// when the test ends.
func fakeServer(tb testing.TB, handler fasthttp.RequestHandler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// seen is a request as the fake server saw it.
type seen struct {
	Method, URI, ContentType, Auth, Body string
}

func TestRequestsOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var got []seen
	addr := fakeServer(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		got = append(got, seen{
			Method:      string(ctx.Method()),
			URI:         string(ctx.Request.Header.RequestURI()),
			ContentType: string(ctx.Request.Header.ContentType()),
			Auth:        string(ctx.Request.Header.Peek("Authorization")),
			Body:        string(ctx.PostBody()),
		})
		mu.Unlock()
		ctx.SetStatusCode(204)
	})
	c := newClient(t, "http://admin:ignored@"+addr+"/prefix/", client.Options{Login: "admin", Password: "s3cret"})
	ctx := context.Background()
	const odd = "w 1/ü?&=+%#"
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	u, err := c.Dequeue(ctx, odd, "a,b")
	if u != nil {
		t.Fatalf("Dequeue answered 204 = %+v", u)
	}
	check("Dequeue", err)
	_, err = c.Complete(ctx, 7, "w", "a", client.Result{Succeeded: true, Output: json.RawMessage(`{"x":"&"}`), Time: 1500 * time.Millisecond})
	check("Complete", err)
	_, err = c.Complete(ctx, 8, "w", "", client.Result{Time: -time.Second})
	check("Complete (failed)", err)
	check("CheckIn", c.CheckIn(ctx, "w", "s t", 2500*time.Millisecond))
	check("CheckIn (no interval)", c.CheckIn(ctx, "w", "", 0))
	check("CheckOut", c.CheckOut(ctx, "w"))
	_, err = c.WorkerUnit(ctx, odd)
	check("WorkerUnit", err)
	check("Delete", c.Delete(ctx, 3))
	// A 204 where a document is expected is an error, not a retry.
	_, err = c.Job(ctx, 4)
	if err == nil || err.Error() != "client: GET /jobs/4: unexpected answer: 204 No Content" || client.IsUnavailable(err) {
		t.Fatalf("Job answered 204: %v", err)
	}
	_, err = c.Submit(ctx, client.Job{Action: "a", Inputs: []any{"x y", 1}, Options: json.RawMessage(`{ "k" : 1 }`)})
	if err == nil || !strings.Contains(err.Error(), "204 No Content") {
		t.Fatalf("Submit answered 204: %v", err)
	}

	const form = "application/x-www-form-urlencoded"
	want := []seen{
		{"POST", "/prefix/work", form, "", "worker_name=w+1%2F%C3%BC%3F%26%3D%2B%25%23&worker_actions=a%2Cb"},
		{"PUT", "/prefix/work/7", form, "", "status=succeeded&worker_name=w&worker_actions=a&time=1.5&output=%7B%22output%22%3A%7B%22x%22%3A%22%26%22%7D%7D"},
		{"PUT", "/prefix/work/8", form, "", "status=failed&worker_name=w&worker_actions=&time=0&output=%7B%22output%22%3Anull%7D"},
		{"PUT", "/prefix/worker", form, "", "name=w&thread_status=s+t&check_in_interval=2.5"},
		{"PUT", "/prefix/worker", form, "", "name=w&thread_status="},
		{"PUT", "/prefix/worker", form, "", "name=w&terminated=true"},
		{"GET", "/prefix/worker/w%201%2F%C3%BC%3F&=+%25%23", "", "", ""},
		{"DELETE", "/prefix/jobs/3", "", "", ""},
		{"GET", "/prefix/jobs/4", "", "", ""},
		{"POST", "/prefix/jobs", form, "", "job=%7B%22action%22%3A%22a%22%2C%22inputs%22%3A%5B%22x+y%22%2C1%5D%2C%22options%22%3A%7B%22k%22%3A1%7D%7D"},
	}
	const auth = "Basic YWRtaW46czNjcmV0" // admin:s3cret
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("server saw %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].Auth = auth
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestErrorAnswers(t *testing.T) {
	addr := fakeServer(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/status":
			ctx.SetStatusCode(503)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"error":"the coordinator did not answer in time"}`)
		case "/jobs/1":
			ctx.SetStatusCode(502)
			ctx.SetBodyString("bad gateway\n")
		case "/jobs/2":
			ctx.SetStatusCode(404)
			ctx.SetBodyString(`{"error":"no such job"}`)
		case "/work":
			ctx.SetBodyString(`not json`)
		}
	})
	c := newClient(t, "http://"+addr, client.Options{})
	ctx := context.Background()

	_, err := c.Status(ctx)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != 503 || e.Message != "the coordinator did not answer in time" || !client.IsUnavailable(err) {
		t.Fatalf("Status answered 503: %#v, unavailable %v", err, client.IsUnavailable(err))
	}
	_, err = c.Job(ctx, 1)
	if !errors.As(err, &e) || e.Code != 502 || e.Message != "bad gateway" || !client.IsUnavailable(err) {
		t.Fatalf("Job answered 502: %#v", err)
	}
	if want := "client: GET /jobs/1: 502 Bad Gateway: bad gateway"; err.Error() != want {
		t.Fatalf("error text %q, want %q", err.Error(), want)
	}
	_, err = c.Job(ctx, 2)
	if !errors.Is(err, client.ErrNotFound) || client.IsUnavailable(err) {
		t.Fatalf("Job answered 404: %v, unavailable %v", err, client.IsUnavailable(err))
	}
	u, err := c.Dequeue(ctx, "w", "a")
	if u != nil || err == nil || !strings.HasPrefix(err.Error(), "client: POST /work: unexpected answer: ") || client.IsUnavailable(err) {
		t.Fatalf("Dequeue answered with text: %v, %v", u, err)
	}
	if client.IsUnavailable(nil) || client.IsUnavailable(context.Canceled) || client.IsUnavailable(errors.New("x")) {
		t.Fatal("IsUnavailable is true for nil or unrelated errors")
	}
}

func TestUnavailableClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr, client.Options{})
	_, err = c.Complete(context.Background(), 7, "w", "a", client.Result{Succeeded: true})
	if !client.IsUnavailable(err) {
		t.Fatalf("Complete to a closed port = %v, want unavailable", err)
	}
	if !strings.HasPrefix(err.Error(), "client: PUT /work/7: ") || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Complete to a closed port = %q, want it to name PUT /work/7 and be ECONNREFUSED", err)
	}
	var e *client.Error
	if errors.As(err, &e) || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a connection error is an *Error: %v", err)
	}
}

// hangingServer accepts requests and answers none until the test ends.
func hangingServer(t *testing.T) string {
	stop := make(chan struct{})
	addr := fakeServer(t, func(ctx *fasthttp.RequestCtx) { <-stop })
	t.Cleanup(func() { close(stop) }) // runs before the server's Shutdown
	return addr
}

func TestTimeouts(t *testing.T) {
	addr := hangingServer(t)

	// The client's own timeout: unavailable.
	c := newClient(t, "http://"+addr, client.Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := c.Dequeue(context.Background(), "w", "a")
	if !client.IsUnavailable(err) || !errors.Is(err, fasthttp.ErrTimeout) || !strings.HasPrefix(err.Error(), "client: POST /work: ") {
		t.Fatalf("Dequeue past Timeout = %v, want an unavailable timeout", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Dequeue timed out after %v, want about 100ms", d)
	}

	// A nearer context deadline: ctx's error, not unavailable.
	c = newClient(t, "http://"+addr, client.Options{Timeout: 10 * time.Second})
	for _, cancellable := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if !cancellable { // a deadline without a Done channel
			ctx = deadlineOnly{ctx}
		}
		start = time.Now()
		_, err = c.Job(ctx, 1)
		cancel()
		if err != context.DeadlineExceeded || client.IsUnavailable(err) {
			t.Fatalf("Job past ctx's deadline (cancellable %v) = %v, want context.DeadlineExceeded", cancellable, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Job returned %v after ctx's deadline", d)
		}
	}
}

// deadlineOnly is a context with a deadline but no Done channel.
type deadlineOnly struct{ context.Context }

func (deadlineOnly) Done() <-chan struct{} { return nil }
func (deadlineOnly) Err() error            { return nil }

func TestCancelInFlight(t *testing.T) {
	addr := hangingServer(t)
	c := newClient(t, "http://"+addr, client.Options{Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Complete(ctx, 1, "w", "a", client.Result{Succeeded: true})
	if err != context.Canceled || client.IsUnavailable(err) {
		t.Fatalf("Complete cancelled in flight = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Complete returned %v after the cancellation", d)
	}
	// A done context sends nothing.
	if err := c.CheckIn(ctx, "w", "", 0); err != context.Canceled {
		t.Fatalf("CheckIn with a cancelled ctx = %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	url := startServer(t, func(o *transport.Options) { o.Login, o.Password = "admin", "s3cret" })
	ctx := context.Background()
	for _, o := range []client.Options{{}, {Login: "admin", Password: "wrong"}} {
		c := newClient(t, url, o)
		_, err := c.Status(ctx)
		var e *client.Error
		if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &e) || e.Code != 401 || client.IsUnavailable(err) {
			t.Fatalf("Status with %+v = %v, want ErrUnauthorized", o, err)
		}
		if _, err := c.Dequeue(ctx, "w", "graphics_magick"); !errors.Is(err, client.ErrUnauthorized) {
			t.Fatalf("Dequeue with %+v = %v, want ErrUnauthorized", o, err)
		}
	}
	for _, c := range []*client.Client{
		newClient(t, url, client.Options{Login: "admin", Password: "s3cret"}),
		newClient(t, strings.Replace(url, "http://", "http://admin:s3cret@", 1), client.Options{}),
	} {
		j, err := c.Submit(ctx, client.Job{Action: "graphics_magick", Inputs: inputs("a")})
		if err != nil {
			t.Fatalf("Submit with credentials: %v", err)
		}
		if s, err := c.Status(ctx); err != nil || s.JobCount != int(j.ID) {
			t.Fatalf("Status with credentials = %+v, %v; want %d jobs", s, err, j.ID)
		}
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "localhost:9173", "ftp://host/", "/jobs", "http://", "http:///x",
		"http://host:9173/?a=1", "http://host/#x", "http://[::1"} {
		if c, err := client.New(bad, client.Options{}); err == nil || c != nil {
			t.Errorf("New(%q) = %v, %v; want an error", bad, c, err)
		}
	}
	for _, good := range []string{"http://localhost:9173", "https://crowd.example.org/", "http://[::1]:9173/base", "HTTP://host"} {
		if _, err := client.New(good, client.Options{}); err != nil {
			t.Errorf("New(%q): %v", good, err)
		}
	}
	// A password in the URL shows neither in errors nor in URL.
	for _, bad := range []string{"http://bob:s3cr3t@host:1/?x=1", "ftp://bob:s3cr3t@host/", "http://bob:s3cr3t@[::1"} {
		if _, err := client.New(bad, client.Options{}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("New(%q) = %v, want an error without the password", bad, err)
		}
	}
	c, err := client.New("http://bob:s3cr3t@host:1/base/", client.Options{})
	if err != nil || c.URL() != "http://host:1/base" {
		t.Errorf("URL() = %q (%v), want http://host:1/base", c.URL(), err)
	}
}

// More concurrent requests than connections wait for one.
func TestMaxConns(t *testing.T) {
	c := newClient(t, startServer(t, nil), client.Options{MaxConns: 1})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			if i%2 == 0 {
				_, err := c.Status(ctx)
				errs <- err
				return
			}
			errs <- c.CheckIn(ctx, "w", "", 0)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("with MaxConns 1: %v", err)
		}
	}
}

// With several servers (the nodes of a cluster), a request that cannot
// reach its server goes to the next at once; a server that answers 503 has
// its answer returned, and the next request goes to the next server.
func TestSeveralServers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	var busyHits, okHits atomic.Int32
	busy := fakeServer(t, func(ctx *fasthttp.RequestCtx) {
		busyHits.Add(1)
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString(`{"error":"no leader"}`)
	})
	ok := fakeServer(t, func(ctx *fasthttp.RequestCtx) {
		okHits.Add(1)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":3,"status":"processing","work_units":1}`)
	})
	c := newClient(t, "http://"+down+", http://"+busy+",http://"+ok, client.Options{})
	if got := c.URL(); got != "http://"+down+",http://"+busy+",http://"+ok {
		t.Fatalf("URL() = %q", got)
	}
	if _, err := c.Job(context.Background(), 3); !client.IsUnavailable(err) || busyHits.Load() != 1 {
		t.Fatalf("the first request: %v after %d hits of the busy server; want its 503, past the closed port", err, busyHits.Load())
	}
	j, err := c.Job(context.Background(), 3)
	if err != nil || j.ID != 3 || okHits.Load() != 1 || busyHits.Load() != 1 {
		t.Fatalf("the second request: %+v %v (hits: busy %d, ok %d); want the third server's answer", j, err, busyHits.Load(), okHits.Load())
	}
	if _, err := client.New("http://a:1,ftp://b", client.Options{}); err == nil {
		t.Fatal("a list with a bad URL was taken")
	}
}
