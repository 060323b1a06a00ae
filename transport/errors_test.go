package transport

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestBodyOverMaxBody(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.opts.MaxBody = 1024 })
	big := `{"action":"word_count","inputs":["` + strings.Repeat("x", 2000) + `"]}`

	wantError(t, "POST /jobs (form over max_body)", s.postJob(t, big), 413)
	wantError(t, "POST /jobs (JSON over max_body)",
		s.rawRequest(t, "POST", "/jobs", "application/json", strings.NewReader(big), nil), 413)
	// Without a Content-Length (chunked), too.
	chunked := io.MultiReader(strings.NewReader("job="+url.QueryEscape(big[:10])), strings.NewReader(url.QueryEscape(big[10:])))
	wantError(t, "POST /jobs (chunked over max_body)",
		s.rawRequest(t, "POST", "/jobs", "application/x-www-form-urlencoded", chunked, nil), 413)
	wantError(t, "PUT /work/1 (over max_body)", s.do(t, "PUT", "/work/1",
		form("status", "succeeded", "worker_name", "w", "output", `{"output":"`+strings.Repeat("y", 2000)+`"}`)), 413)

	s.wantStatusBody(t, emptyStatus)
	// A body under the limit is fine, and the job gets the first id.
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"word_count","inputs":["`+strings.Repeat("x", 500)+`"]}`),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
}

func TestAuthentication(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.opts.Login, c.opts.Password = "admin", "s3cret" })
	routes := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/", nil},
		{"GET", "/index.html", nil},
		{"GET", "/heartbeat", nil},
		{"GET", "/status", nil},
		{"POST", "/jobs", form("job", `{"action":"word_count","inputs":["a"]}`)},
		{"GET", "/jobs/1", nil},
		{"DELETE", "/jobs/1", nil},
		{"POST", "/work", form("worker_name", "w", "worker_actions", "word_count")},
		{"PUT", "/work/1", form("status", "succeeded", "worker_name", "w")},
		{"PUT", "/worker", form("name", "w")},
		{"GET", "/worker/w", nil},
		{"GET", "/nope", nil},
		{"POST", "/jobs/1", form("_method", "DELETE")},
	}
	creds := []struct {
		name string
		set  func(*http.Request)
	}{
		{"no credentials", func(r *http.Request) { r.Header.Del("Authorization") }},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("admin", "wrong") }},
		{"wrong login", func(r *http.Request) { r.SetBasicAuth("root", "s3cret") }},
		{"password as prefix", func(r *http.Request) { r.SetBasicAuth("admin", "s3cre") }},
		{"not basic", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }},
	}
	for _, rt := range routes {
		for _, c := range creds {
			var body io.Reader
			ct := ""
			if rt.form != nil {
				body, ct = strings.NewReader(rt.form.Encode()), "application/x-www-form-urlencoded"
			}
			r := s.rawRequest(t, rt.method, rt.path, ct, body, c.set)
			if r.Code != 401 {
				t.Fatalf("%s %s with %s = %d %s, want 401", rt.method, rt.path, c.name, r.Code, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="CloudCrowd"` {
				t.Fatalf("%s %s with %s: WWW-Authenticate %q", rt.method, rt.path, c.name, got)
			}
		}
	}
	// Nothing above got through.
	s.wantStatusBody(t, emptyStatus)

	// With the credentials, every route answers.
	r := s.do(t, "GET", "/", nil)
	if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / with credentials = %d %q", r.Code, r.Header.Get("Content-Type"))
	}
	if r = s.do(t, "GET", "/heartbeat", nil); r.Code != 200 || r.Body != "buh-bump" {
		t.Fatalf("GET /heartbeat with credentials = %d %q", r.Code, r.Body)
	}
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"word_count","inputs":["a"]}`),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w")))
	wantJSON(t, "GET /worker/w", s.do(t, "GET", "/worker/w", nil), `{}`)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":1}`, ""))
	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	s.statusEventually(t, `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
}

func TestAuthenticationEmptyPassword(t *testing.T) {
	// A login with an empty password still needs the login.
	s := startServer(t, func(c *serverConfig) { c.opts.Login = "admin" })
	r := s.rawRequest(t, "GET", "/heartbeat", "", nil, func(r *http.Request) { r.Header.Del("Authorization") })
	if r.Code != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="CloudCrowd"` {
		t.Fatalf("GET /heartbeat without credentials = %d %v", r.Code, r.Header)
	}
	if r = s.do(t, "GET", "/heartbeat", nil); r.Code != 200 || r.Body != "buh-bump" {
		t.Fatalf("GET /heartbeat with admin: = %d %q", r.Code, r.Body)
	}
}

// Client errors are JSON, whatever the route.
func TestClientErrorsAreJSON(t *testing.T) {
	s := startServer(t, nil)
	wantError(t, "GET /nope", s.do(t, "GET", "/nope", nil), 404)
	wantError(t, "POST /status", s.do(t, "POST", "/status", nil), 405)
	wantError(t, "POST /work without worker_name", s.do(t, "POST", "/work", form("worker_actions", "word_count")), 400)
	wantError(t, "PUT /worker without name", s.do(t, "PUT", "/worker", form("thread_status", "x")), 400)
	wantError(t, "POST /jobs bad", s.postJob(t, `{`), 400)
}

// rawExchange writes raw to a new connection as it is and reads the answer.
func (s *testServer) rawExchange(t testing.TB, raw string) response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, raw) // the server may answer and close before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %.60q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// A request fasthttp cannot read gets a short JSON error that repeats
// nothing of the request (its credentials least of all): 431 for a URL or
// headers over the read buffer, 413 for a body over max_body, 400 otherwise.
func TestUnreadableRequestsRepeatNothing(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.opts.Login, c.opts.Password = "admin", "s3cret" })
	creds := base64.StdEncoding.EncodeToString([]byte("admin:s3cret"))
	auth := "Authorization: Basic " + creds + "\r\n"
	for _, c := range []struct {
		name, raw string
		code      int
	}{
		{"headers over the read buffer", "GET /heartbeat HTTP/1.1\r\nHost: x\r\n" + auth + "X-Big: " + strings.Repeat("b", 8000) + "\r\n\r\n", 431},
		{"a URL over the read buffer", "GET /heartbeat?" + strings.Repeat("u", 8000) + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 431},
		{"a body over max_body", "POST /jobs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 999999999999\r\n\r\n", 413},
		{"a Content-Length past 64 bits", "POST /jobs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 99999999999999999999\r\n\r\n", 400},
		{"no method", "GET\r\n" + auth + "\r\n", 400},
		{"a header without a colon", "GET /heartbeat HTTP/1.1\r\nHost: x\r\n" + auth + "Bad Header\r\n\r\n", 400},
	} {
		r := s.rawExchange(t, c.raw)
		msg := wantError(t, c.name, r, c.code)
		for _, leak := range []string{creds, "s3cret", "Basic", "Authorization", "bbbb", "uuuu", "heartbeat", "/jobs", "99999", "Bad Header"} {
			if strings.Contains(r.Body, leak) {
				t.Errorf("%s: the answer %q repeats %q from the request", c.name, r.Body, leak)
			}
		}
		if len(msg) > 100 {
			t.Errorf("%s: error %q is long for a fixed message", c.name, msg)
		}
	}
	s.wantStatusBody(t, emptyStatus)
}
