package transport

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
)

// callbackSink is a client's callback server: it records every POST and
// answers with the next of its codes (the last one repeats).
type callbackSink struct {
	srv   *httptest.Server
	mu    sync.Mutex
	codes []int
	calls []callbackCall
}

type callbackCall struct {
	method, contentType, job string
	err                      error
}

func newCallbackSink(t *testing.T, codes ...int) *callbackSink {
	t.Helper()
	c := &callbackSink{codes: codes}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := r.ParseForm()
		c.mu.Lock()
		c.calls = append(c.calls, callbackCall{method: r.Method, contentType: r.Header.Get("Content-Type"), job: r.PostForm.Get("job"), err: err})
		code := c.codes[min(len(c.calls), len(c.codes))-1]
		c.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbackSink) received() []callbackCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]callbackCall(nil), c.calls...)
}

// waitCalls waits until the sink got at least n calls and returns them.
func (c *callbackSink) waitCalls(t *testing.T, n int) []callbackCall {
	t.Helper()
	pollUntil(t, 10*time.Second, strconv.Itoa(n)+" callback(s)", func() (bool, string) {
		got := len(c.received())
		return got >= n, strconv.Itoa(got) + " so far"
	})
	return c.received()
}

// checkCall requires a form POST whose job field is want (time_taken masked).
func checkCall(t *testing.T, call callbackCall, want string) {
	t.Helper()
	if call.err != nil || call.method != "POST" || call.contentType != "application/x-www-form-urlencoded" {
		t.Fatalf("callback: %s with Content-Type %q (%v), want a form POST", call.method, call.contentType, call.err)
	}
	if got := maskTimes(t, call.job); got != want {
		t.Fatalf("callback job=\n got %s\nwant %s", got, want)
	}
}

// completeOne takes job 1's only unit as w and reports output.
func (s *testServer) completeOne(t *testing.T, act, output string) {
	t.Helper()
	u := decodeUnit(t, "POST /work", s.take(t, "w", act))
	wantNoContent(t, "PUT /work", s.report(t, u.ID, "w", "succeeded", output, act))
}

// waitSettled waits until the journal records that job's callback is
// settled, and returns whether it was delivered.
func (s *testServer) waitSettled(t *testing.T, job int64) bool {
	t.Helper()
	var delivered bool
	pollUntil(t, 10*time.Second, "the callback to be settled", func() (bool, string) {
		var settled bool
		settled, delivered = s.callbackSettled(t, job)
		return settled, "not settled"
	})
	return delivered
}

func TestCallback200KeepsTheJob(t *testing.T) {
	sink := newCallbackSink(t, 200)
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`/done?x=1","email":"e@x.y"}`)
	if n := len(sink.received()); n != 0 {
		t.Fatalf("%d callbacks before the job completed", n)
	}
	s.completeOne(t, "graphics_magick", `{"output":"http://x/a.png"}`)
	calls := sink.waitCalls(t, 1)
	checkCall(t, calls[0], `{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["http://x/a.png"],"email":"e@x.y"}`)
	if !s.waitSettled(t, 1) {
		t.Fatal("the journal says the callback was not delivered")
	}
	if n := len(sink.received()); n != 1 {
		t.Fatalf("%d callbacks, want 1", n)
	}
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["http://x/a.png"],"email":"e@x.y"}`)
}

func TestCallback201DeletesTheJob(t *testing.T) {
	sink := newCallbackSink(t, 201)
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`"}`)
	s.completeOne(t, "graphics_magick", `{"output":7}`)
	checkCall(t, sink.waitCalls(t, 1)[0],
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[7]}`)
	pollUntil(t, 10*time.Second, "GET /jobs/1 to be 404", func() (bool, string) {
		r := s.do(t, "GET", "/jobs/1", nil)
		return r.Code == 404, strconv.Itoa(r.Code)
	})
	wantError(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil), 404)
	s.statusEventually(t, `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
	if n := len(sink.received()); n != 1 {
		t.Fatalf("%d callbacks, want 1", n)
	}
}

func TestCallbackForFailedJob(t *testing.T) {
	sink := newCallbackSink(t, 200)
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 1 })
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`"}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"broken"}`, "graphics_magick"))
	const want = `{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["broken"]}`
	first := sink.waitCalls(t, 1)[0]
	checkCall(t, first, want)
	// Exactly one callback: the journal settles it as delivered, once, and
	// no second one comes, then or a while after.
	if !s.waitSettled(t, 1) {
		t.Fatal("the journal says the callback was not delivered")
	}
	time.Sleep(300 * time.Millisecond)
	if calls := sink.received(); len(calls) != 1 {
		t.Fatalf("%d callbacks for the failed job, want exactly 1: %+v", len(calls), calls)
	}
	settled := 0
	for _, ev := range s.journalEvents(t) {
		if cs, ok := ev.(*core.CallbackSettled); ok && cs.Job == 1 {
			settled++
		}
	}
	if settled != 1 {
		t.Fatalf("the journal settles job 1's callback %d times, want once", settled)
	}
	// A 200 keeps the failed job, whose document is the one the callback
	// sent, time_taken included (frozen at completion).
	r := s.do(t, "GET", "/jobs/1", nil)
	wantJSON(t, "GET /jobs/1", r, want)
	if r.Body != first.job {
		t.Fatalf("GET /jobs/1 = %s, but the callback sent %s", r.Body, first.job)
	}
	// The failed unit is not handed out again.
	wantNoContent(t, "POST /work after the job failed", s.take(t, "w", "graphics_magick"))
}

func TestCallbackRetriedAfter5xx(t *testing.T) {
	sink := newCallbackSink(t, 500, 503, 200)
	s := startServer(t, func(c *serverConfig) {
		c.settings.CallbackBackoff = 10 * time.Millisecond
		c.settings.CallbackRetries = 5
	})
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`"}`)
	s.completeOne(t, "graphics_magick", `{"output":"A"}`)
	sink.waitCalls(t, 3)
	if !s.waitSettled(t, 1) {
		t.Fatal("the journal says the callback was not delivered")
	}
	calls := sink.received()
	if len(calls) != 3 {
		t.Fatalf("%d callbacks, want exactly 3", len(calls))
	}
	for _, c := range calls {
		checkCall(t, c, `{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
	}
	// Every try sent the same document: time_taken is frozen.
	if calls[0].job != calls[2].job {
		t.Fatalf("tries sent different documents: %s and %s", calls[0].job, calls[2].job)
	}
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}

func TestCallbackGivesUpAfterCallbackRetries(t *testing.T) {
	sink := newCallbackSink(t, 500)
	s := startServer(t, func(c *serverConfig) {
		c.settings.CallbackBackoff = 10 * time.Millisecond
		c.settings.CallbackRetries = 2
	})
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`"}`)
	s.completeOne(t, "graphics_magick", `{"output":"A"}`)
	sink.waitCalls(t, 2)
	if s.waitSettled(t, 1) {
		t.Fatal("the journal says a callback answered 500 was delivered")
	}
	if n := len(sink.received()); n != 2 {
		t.Fatalf("%d callbacks, want exactly 2", n)
	}
	// The job stays.
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}

// A 4xx other than 201 is a refusal: not retried.
func TestCallback4xxNotRetried(t *testing.T) {
	sink := newCallbackSink(t, 404, 200)
	s := startServer(t, func(c *serverConfig) {
		c.settings.CallbackBackoff = 10 * time.Millisecond
		c.settings.CallbackRetries = 5
	})
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+sink.srv.URL+`"}`)
	s.completeOne(t, "graphics_magick", `{"output":"A"}`)
	sink.waitCalls(t, 1)
	if s.waitSettled(t, 1) {
		t.Fatal("the journal says a callback answered 404 was delivered")
	}
	if n := len(sink.received()); n != 1 {
		t.Fatalf("%d callbacks, want exactly 1", n)
	}
}

// A connection error is retried like a 5xx.
func TestCallbackRetriedAfterConnectionError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close() // nothing listens there now
	s := startServer(t, func(c *serverConfig) {
		c.settings.CallbackBackoff = 10 * time.Millisecond
		c.settings.CallbackRetries = 3
	})
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"callback_url":"`+url+`"}`)
	s.completeOne(t, "graphics_magick", `{"output":"A"}`)
	if s.waitSettled(t, 1) {
		t.Fatal("the journal says an undeliverable callback was delivered")
	}
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}
