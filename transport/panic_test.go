package transport

import (
	"net"
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"
)

// A handler that panics answers 500 with a JSON error, and the server
// keeps serving.
func TestHandlerPanicAnswers500(t *testing.T) {
	s := New(Options{MaxBody: 1 << 20, Logger: quietLogger()})
	r := s.routes()
	r.GET("/boom", func(*fasthttp.RequestCtx) { panic("boom") })
	srv := &fasthttp.Server{Handler: s.handler(r)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown()
	ts := &testServer{URL: "http://" + ln.Addr().String(), client: http.DefaultClient}
	got := ts.do(t, "GET", "/boom", nil)
	if got.Code != 500 || got.Body != `{"error":"internal error"}` || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /boom = %d %q %q", got.Code, got.Body, got.Header.Get("Content-Type"))
	}
	if got := ts.do(t, "GET", "/heartbeat", nil); got.Code != 200 || got.Body != "buh-bump" {
		t.Fatalf("after a panic, GET /heartbeat = %d %q", got.Code, got.Body)
	}
	// PUT /work/:id goes around the router (isWorkPath), and is answered
	// the same way: this server has no coordinator to call.
	got = ts.do(t, "PUT", "/work/7", form("status", "succeeded", "worker_name", "w"))
	if got.Code != 500 || got.Body != `{"error":"internal error"}` {
		t.Fatalf("PUT /work/7 that panics = %d %q", got.Code, got.Body)
	}
}
