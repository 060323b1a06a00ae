package transport

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
)

// Helpers shared by the HTTP tests (the harness is in harness_test.go).

// emptyStatus is GET /status of a coordinator that has no job and no worker.
const emptyStatus = `{"jobs":[],"workers":[],"work_unit_count":0,"job_count":0,` +
	`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},` +
	`"units":{"ready":0,"leased":0,"waiting":0}}`

// rawRequest sends a request with an explicit body and Content-Type ("" for
// none); edit (may be nil) adjusts the request before it is sent. The
// server's credentials, if any, are set before edit runs.
func (s *testServer) rawRequest(t testing.TB, method, path, contentType string, body io.Reader, edit func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	if edit != nil {
		edit(req)
	}
	return s.send(t, req)
}

// postJob is POST /jobs with the form field job=<doc>. After a 200 it reads
// the job back with GET /jobs/:id, which waits until the job's actor has
// queued the units (TestAnsweredChangesAreVisibleToTheNextRequest shows why).
func (s *testServer) postJob(t testing.TB, doc string) response {
	t.Helper()
	r := s.do(t, "POST", "/jobs", form("job", doc))
	if r.Code == 200 {
		s.readBack(t, r)
	}
	return r
}

// readBack is GET /jobs/:id of the job a POST /jobs answered (a 404 is fine:
// a job with a callback may be gone already).
func (s *testServer) readBack(t testing.TB, r response) {
	t.Helper()
	id := jobID(t, r)
	if g := s.do(t, "GET", "/jobs/"+strconv.FormatInt(id, 10), nil); g.Code != 200 && g.Code != 404 {
		t.Fatalf("GET /jobs/%d after POST /jobs = %d %s", id, g.Code, g.Body)
	}
}

func jobID(t testing.TB, r response) int64 {
	t.Helper()
	var j struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.Body), &j); err != nil || j.ID <= 0 {
		t.Fatalf("POST /jobs answered %q: %v", r.Body, err)
	}
	return j.ID
}

// mustCreate posts a job, requires a 200 and returns the job's id.
func (s *testServer) mustCreate(t testing.TB, doc string) int64 {
	t.Helper()
	r := s.postJob(t, doc)
	if r.Code != 200 {
		t.Fatalf("POST /jobs %s = %d %s", doc, r.Code, r.Body)
	}
	return jobID(t, r)
}

// take is POST /work for worker with its comma-separated actions.
func (s *testServer) take(t testing.TB, worker, actions string) response {
	t.Helper()
	return s.do(t, "POST", "/work", form("worker_name", worker, "worker_actions", actions))
}

// report is PUT /work/:unit by worker; output is the raw form field (the
// JSON text {"output": ...}), "" to leave it out.
func (s *testServer) report(t testing.TB, unit int64, worker, status, output, actions string) response {
	t.Helper()
	f := form("status", status, "worker_name", worker, "worker_actions", actions)
	if output != "" {
		f.Set("output", output)
	}
	return s.do(t, "PUT", "/work/"+strconv.FormatInt(unit, 10), f)
}

// takeEventually polls POST /work until it answers 200 (deadline 10 s) and
// returns that answer.
func (s *testServer) takeEventually(t testing.TB, worker, actions string) response {
	t.Helper()
	var last response
	pollUntil(t, 10*time.Second, "POST /work by "+worker+" to get a unit", func() (bool, string) {
		last = s.take(t, worker, actions)
		switch last.Code {
		case 200:
			return true, ""
		case 204:
			return false, "204"
		}
		t.Fatalf("POST /work by %s = %d %s", worker, last.Code, last.Body)
		return false, ""
	})
	return last
}

// pollUntil calls cond every 20 ms until it is true, and fails the test
// with what (and cond's last note) when timeout passes first.
func pollUntil(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, note string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, note := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still waiting for %s (last: %s)", timeout, what, note)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var timeTakenRE = regexp.MustCompile(`"time_taken":([^,}]*)`)

// maskTimes checks every time_taken value of a JSON document (a number of
// seconds, not negative, below a minute) and replaces it with T, so that the
// rest can be compared exactly.
func maskTimes(t testing.TB, body string) string {
	t.Helper()
	return timeTakenRE.ReplaceAllStringFunc(body, func(m string) string {
		v := strings.TrimPrefix(m, `"time_taken":`)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 60 || !regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`).MatchString(v) {
			t.Errorf("time_taken is %q, want a plain number of seconds in [0, 60]", v)
		}
		return `"time_taken":T`
	})
}

// wantJSON requires a 200 JSON answer whose body equals want once the
// time_taken values are masked (write them as T in want).
func wantJSON(t testing.TB, what string, r response, want string) {
	t.Helper()
	if r.Code != 200 {
		t.Fatalf("%s = %d %s, want 200 %s", what, r.Code, r.Body, want)
	}
	if ct := r.Header.Get("Content-Type"); ct != jsonType {
		t.Errorf("%s: Content-Type %q, want %q", what, ct, jsonType)
	}
	if got := maskTimes(t, r.Body); got != want {
		t.Fatalf("%s body\n got %s\nwant %s", what, got, want)
	}
	if !json.Valid([]byte(r.Body)) {
		t.Fatalf("%s: body is not valid JSON: %s", what, r.Body)
	}
}

// wantNoContent requires a 204 with an empty body.
func wantNoContent(t testing.TB, what string, r response) {
	t.Helper()
	if r.Code != 204 || r.Body != "" {
		t.Fatalf("%s = %d %q, want 204 with an empty body", what, r.Code, r.Body)
	}
}

// wantError requires code with a JSON body that is exactly {"error": "<a
// non-empty message>"}; it returns the message.
func wantError(t testing.TB, what string, r response, code int) string {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s = %d %s, want %d", what, r.Code, r.Body, code)
	}
	if ct := r.Header.Get("Content-Type"); ct != jsonType {
		t.Errorf("%s: Content-Type %q, want %q", what, ct, jsonType)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.Body), &doc); err != nil {
		t.Fatalf("%s: body %q is not a JSON object: %v", what, r.Body, err)
	}
	msg, ok := doc["error"].(string)
	if len(doc) != 1 || !ok || msg == "" {
		t.Fatalf(`%s: body %s, want exactly {"error": "<message>"}`, what, r.Body)
	}
	return msg
}

// wantStatusBody requires GET /status to equal want (time_taken masked).
func (s *testServer) wantStatusBody(t testing.TB, want string) {
	t.Helper()
	wantJSON(t, "GET /status", s.do(t, "GET", "/status", nil), want)
}

// statusEventually polls GET /status until its masked body equals want:
// the job index behind it learns of status changes just after the request
// that caused them is answered.
func (s *testServer) statusEventually(t testing.TB, want string) {
	t.Helper()
	var got string
	pollUntil(t, 10*time.Second, "GET /status to be "+want, func() (bool, string) {
		r := s.do(t, "GET", "/status", nil)
		if r.Code != 200 {
			t.Fatalf("GET /status = %d %s", r.Code, r.Body)
		}
		got = maskTimes(t, r.Body)
		return got == want, got
	})
}

// topKeys lists the keys of a JSON object in document order.
func topKeys(t testing.TB, body string) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("%q is not a JSON object", body)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
	}
	return keys
}

// journalEvents decodes the journal's records so far.
func (s *testServer) journalEvents(t testing.TB) []core.Event {
	t.Helper()
	var evs []core.Event
	if err := s.Journal.Replay(func(ev core.Event) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

// callbackSettled reports whether the journal records that job's callback
// needs no more tries (delivered or given up), and whether it was delivered.
func (s *testServer) callbackSettled(t testing.TB, job int64) (settled, delivered bool) {
	t.Helper()
	for _, ev := range s.journalEvents(t) {
		if cs, ok := ev.(*core.CallbackSettled); ok && cs.Job == job {
			return true, cs.Delivered
		}
	}
	return false, false
}

// unitDoc is a WorkUnit document as a worker reads it.
type unitDoc struct {
	ID       int64           `json:"id"`
	JobID    int64           `json:"job_id"`
	Input    string          `json:"input"`
	Attempts int             `json:"attempts"`
	Action   string          `json:"action"`
	Options  json.RawMessage `json:"options"`
	Status   int             `json:"status"`
}

// decodeUnit requires a 200 with a WorkUnit document.
func decodeUnit(t testing.TB, what string, r response) unitDoc {
	t.Helper()
	if r.Code != 200 {
		t.Fatalf("%s = %d %s, want 200 with a work unit", what, r.Code, r.Body)
	}
	var u unitDoc
	d := json.NewDecoder(bytes.NewReader([]byte(r.Body)))
	d.DisallowUnknownFields()
	if err := d.Decode(&u); err != nil {
		t.Fatalf("%s: %q is not a work unit: %v", what, r.Body, err)
	}
	return u
}

// unitJSON is the exact WorkUnit document of a unit with empty options.
func unitJSON(id, job int64, input string, attempts int, action string, status int) string {
	in, _ := json.Marshal(input)
	return `{"id":` + strconv.FormatInt(id, 10) + `,"job_id":` + strconv.FormatInt(job, 10) +
		`,"input":` + string(in) + `,"attempts":` + strconv.Itoa(attempts) +
		`,"action":"` + action + `","options":{},"status":` + strconv.Itoa(status) + `}`
}

// queryPath appends form values as a query string to path.
func queryPath(path string, v url.Values) string { return path + "?" + v.Encode() }
