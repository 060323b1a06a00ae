package transport

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/metrics"
)

func TestCreateJobFormBodyShape(t *testing.T) {
	s := startServer(t, nil)
	r := s.postJob(t, `{"action":"graphics_magick","inputs":["a","b","c"],"options":{"size":"50x50"},"email":"a@b.c"}`)
	wantJSON(t, "POST /jobs", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":3,"time_taken":T,"email":"a@b.c"}`)
	if got := topKeys(t, r.Body); !slices.Equal(got, []string{"id", "color", "status", "percent_complete", "work_units", "time_taken", "email"}) {
		t.Errorf("Job keys %v", got)
	}
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":3,"time_taken":T,"email":"a@b.c"}`)
	// Without an email there is no email key, and an incomplete job has no outputs.
	r = s.postJob(t, `{"action":"graphics_magick","inputs":["d"]}`)
	wantJSON(t, "POST /jobs", r, `{"id":2,"color":"c14862","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	// email: null is no email.
	r = s.postJob(t, `{"action":"graphics_magick","inputs":["d"],"email":null}`)
	wantJSON(t, "POST /jobs", r, `{"id":3,"color":"`+colorOf(3)+`","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
}

// colorOf computes a job's colour the way SPEC §4 defines it, independently
// of the server's code: characters 25..30 of the MD5 hex digest of the id.
func colorOf(id int64) string {
	sum := md5.Sum([]byte(strconv.FormatInt(id, 10)))
	return hex.EncodeToString(sum[:])[25:31]
}

func TestCompleteJobShapeOutputsThenEmail(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"],"email":"x@y.z"}`)
	u := decodeUnit(t, "POST /work", s.take(t, "w", "graphics_magick"))
	wantNoContent(t, "PUT /work", s.report(t, u.ID, "w", "succeeded", `{"output":"file:///a.png"}`, "graphics_magick"))
	r := s.do(t, "GET", "/jobs/1", nil)
	wantJSON(t, "GET /jobs/1", r, `{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["file:///a.png"],"email":"x@y.z"}`)
	if got := topKeys(t, r.Body); !slices.Equal(got, []string{"id", "color", "status", "percent_complete", "work_units", "time_taken", "outputs", "email"}) {
		t.Errorf("Job keys %v", got)
	}
	// time_taken is frozen at completion.
	again := s.do(t, "GET", "/jobs/1", nil)
	if a, b := timeTakenRE.FindString(r.Body), timeTakenRE.FindString(again.Body); a != b {
		t.Fatalf("time_taken moved after completion: %s then %s", a, b)
	}
}

func TestJobColors(t *testing.T) {
	s := startServer(t, nil)
	for i := 1; i <= 11; i++ {
		if id := s.mustCreate(t, `{"action":"word_count","inputs":["x"]}`); id != int64(i) {
			t.Fatalf("job %d got id %d", i, id)
		}
	}
	// The colours SPEC §4 lists.
	for id, color := range map[string]string{"1": "f75849", "2": "c14862", "11": "2652dc"} {
		wantJSON(t, "GET /jobs/"+id, s.do(t, "GET", "/jobs/"+id, nil),
			`{"id":`+id+`,"color":"`+color+`","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	}
	if colorOf(42) != "4ac58a" {
		t.Fatalf("colorOf(42) = %s", colorOf(42))
	}
}

func TestCreateJobQueryString(t *testing.T) {
	s := startServer(t, nil)
	r := s.do(t, "POST", queryPath("/jobs", form("job", `{"action":"word_count","inputs":["one two"]}`)), nil)
	wantJSON(t, "POST /jobs?job=", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	s.readBack(t, r)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(1, 1, "one two", 0, "word_count", 1))
}

func TestCreateJobJSONBody(t *testing.T) {
	s := startServer(t, nil)
	body := `{"action":"word_count","inputs":["one two"],"options":{"k":"v"}}`
	r := s.rawRequest(t, "POST", "/jobs", "application/json", strings.NewReader(body), nil)
	wantJSON(t, "POST /jobs (JSON body)", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	s.readBack(t, r)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"),
		`{"id":1,"job_id":1,"input":"one two","attempts":0,"action":"word_count","options":{"k":"v"},"status":1}`)

	r = s.rawRequest(t, "POST", "/jobs", "application/json; charset=utf-8", strings.NewReader(`{"action":"word_count","inputs":[]}`), nil)
	wantJSON(t, "POST /jobs (JSON body, charset)", r, `{"id":2,"color":"c14862","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[]}`)

	// A malformed JSON body is a 400, and creates nothing.
	wantError(t, "POST /jobs (bad JSON body)", s.rawRequest(t, "POST", "/jobs", "application/json", strings.NewReader(`{"action":`), nil), 400)
	wantError(t, "POST /jobs (empty JSON body)", s.rawRequest(t, "POST", "/jobs", "application/json", strings.NewReader(``), nil), 400)
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"word_count","inputs":[]}`),
		`{"id":3,"color":"2a7baf","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[]}`)
}

func TestCreateJobBodyWinsOverQuery(t *testing.T) {
	s := startServer(t, nil)
	path := queryPath("/jobs", form("job", `{"action":"word_count","inputs":["from the query"]}`))
	r := s.do(t, "POST", path, form("job", `{"action":"graphics_magick","inputs":["b1","b2"]}`))
	wantJSON(t, "POST /jobs", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":2,"time_taken":T}`)
	s.readBack(t, r)
	wantNoContent(t, "POST /work (word_count)", s.take(t, "w", "word_count"))
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "b1", 0, "graphics_magick", 1))
}

func TestCreateJobInputsNotFlattenedAndEncoded(t *testing.T) {
	s := startServer(t, nil)
	r := s.postJob(t, `{"action":"graphics_magick","inputs":[[1,2],[3, 4],5,{"a": 1},"plain",null,true,"[not json"]}`)
	wantJSON(t, "POST /jobs", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":8,"time_taken":T}`)
	want := []string{"[1,2]", "[3,4]", "5", `{"a":1}`, "plain", "null", "true", "[not json"}
	for i, in := range want {
		wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(int64(i+1), 1, in, 0, "graphics_magick", 1))
	}
	wantNoContent(t, "POST /work (drained)", s.take(t, "w", "graphics_magick"))
}

func TestCreateJobOptionsReachUnits(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["x"],"options":{"b": [1, 2], "a": {"c": "<d>"}}}`)
	// Compacted, in the client's key order.
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"),
		`{"id":1,"job_id":1,"input":"x","attempts":0,"action":"word_count","options":{"b":[1,2],"a":{"c":"<d>"}},"status":1}`)
	s.mustCreate(t, `{"action":"word_count","inputs":["y"],"options":null}`)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(2, 2, "y", 0, "word_count", 1))
}

func TestCreateJobEmptyInputsSucceedsAtOnce(t *testing.T) {
	s := startServer(t, nil)
	const want = `{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[]}`
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"word_count","inputs":[]}`), want)
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil), want)
	// Also for an action that splits: nothing to split.
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"process_pdfs","inputs":[]}`),
		`{"id":2,"color":"c14862","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[]}`)
	wantNoContent(t, "POST /work", s.take(t, "w", "word_count,process_pdfs"))
	s.statusEventually(t, `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":2,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
}

func TestCreateJobSplittingAction(t *testing.T) {
	s := startServer(t, nil)
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"process_pdfs","inputs":["file:///a.pdf","file:///b.pdf"]}`),
		`{"id":1,"color":"f75849","status":"splitting","percent_complete":0,"work_units":2,"time_taken":T}`)
	wantJSON(t, "POST /work", s.take(t, "w", "process_pdfs"), unitJSON(1, 1, "file:///a.pdf", 0, "process_pdfs", 4))
	s.wantStatusBody(t, `{"jobs":[{"id":1,"color":"f75849","status":"splitting","percent_complete":0,"work_units":2,"time_taken":T}],`+
		`"workers":[{"name":"w","status":"splitting"}],"work_unit_count":2,"job_count":1,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":1,"merging":0},"units":{"ready":1,"leased":1,"waiting":0}}`)
}

// Every client error of POST /jobs is a 400 with a JSON error, and creates
// nothing: no job shows in /status and the next job still gets id 1.
func TestCreateJobClientErrors(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct{ name, job string }{
		{"malformed JSON", `{"action":"word_count","inputs":[`},
		{"trailing garbage", `{"action":"word_count","inputs":[]} x`},
		{"not an object (array)", `["word_count"]`},
		{"not an object (string)", `"word_count"`},
		{"not an object (number)", `5`},
		{"not an object (null)", `null`},
		{"missing action", `{"inputs":["a"]}`},
		{"empty action", `{"action":"","inputs":["a"]}`},
		{"action not a string (number)", `{"action":5,"inputs":["a"]}`},
		{"action not a string (array)", `{"action":["word_count"],"inputs":["a"]}`},
		{"action not snake case (capitals)", `{"action":"Word_Count","inputs":["a"]}`},
		{"action not snake case (dash)", `{"action":"a-b","inputs":["a"]}`},
		{"action not snake case (leading digit)", `{"action":"1abc","inputs":["a"]}`},
		{"action not snake case (path)", `{"action":"../word_count","inputs":["a"]}`},
		{"unknown action", `{"action":"no_such_action","inputs":["a"]}`},
		{"missing inputs", `{"action":"word_count"}`},
		{"null inputs", `{"action":"word_count","inputs":null}`},
		{"inputs a string", `{"action":"word_count","inputs":"a b"}`},
		{"inputs an object", `{"action":"word_count","inputs":{"a":1}}`},
		{"inputs a number", `{"action":"word_count","inputs":5}`},
		{"options an array", `{"action":"word_count","inputs":["a"],"options":[1]}`},
		{"options a string", `{"action":"word_count","inputs":["a"],"options":"{}"}`},
		{"options a number", `{"action":"word_count","inputs":["a"],"options":1}`},
		{"callback_url ftp", `{"action":"word_count","inputs":["a"],"callback_url":"ftp://x"}`},
		{"callback_url relative", `{"action":"word_count","inputs":["a"],"callback_url":"/relative"}`},
		{"callback_url without host", `{"action":"word_count","inputs":["a"],"callback_url":"http://"}`},
		{"callback_url not a string", `{"action":"word_count","inputs":["a"],"callback_url":5}`},
		{"email a number", `{"action":"word_count","inputs":["a"],"email":5}`},
		{"email an object", `{"action":"word_count","inputs":["a"],"email":{"a":"b"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, "POST /jobs "+c.job, s.postJob(t, c.job), 400)
		})
	}
	// No job field at all, an empty one, and only blanks.
	wantError(t, "POST /jobs (no job)", s.do(t, "POST", "/jobs", form("other", "1")), 400)
	wantError(t, "POST /jobs (no body)", s.do(t, "POST", "/jobs", nil), 400)
	wantError(t, "POST /jobs (job empty)", s.postJob(t, ""), 400)
	wantError(t, "POST /jobs (job blank)", s.postJob(t, "  \n"), 400)
	// Errors in the query string are refused too.
	wantError(t, "POST /jobs?job=bad", s.do(t, "POST", queryPath("/jobs", form("job", `{"action":"Bad"}`)), nil), 400)

	s.wantStatusBody(t, emptyStatus)
	wantJSON(t, "POST /jobs after the errors", s.postJob(t, `{"action":"word_count","inputs":["a"]}`),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
}

// An error message names the field at fault.
func TestCreateJobErrorMessagesNameTheField(t *testing.T) {
	s := startServer(t, nil)
	for job, field := range map[string]string{
		`{"inputs":["a"]}`:                                              "action",
		`{"action":"nope","inputs":["a"]}`:                              "nope",
		`{"action":"word_count","inputs":"a"}`:                          "inputs",
		`{"action":"word_count","inputs":["a"],"options":[]}`:           "options",
		`{"action":"word_count","inputs":["a"],"callback_url":"ftp:x"}`: "callback_url",
		`{"action":"word_count","inputs":["a"],"email":1}`:              "email",
	} {
		if msg := wantError(t, "POST /jobs "+job, s.postJob(t, job), 400); !strings.Contains(msg, field) {
			t.Errorf("POST /jobs %s: error %q does not name %q", job, msg, field)
		}
	}
}

func TestJobNotFound(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	for _, id := range []string{"abc", "0", "-1", "999", "1.0", "1e3", "99999999999999999999999"} {
		wantError(t, "GET /jobs/"+id, s.do(t, "GET", "/jobs/"+id, nil), 404)
		wantError(t, "DELETE /jobs/"+id, s.do(t, "DELETE", "/jobs/"+id, nil), 404)
	}
	wantError(t, "PUT /work/abc", s.do(t, "PUT", "/work/abc", form("status", "succeeded", "worker_name", "w")), 404)
	wantError(t, "PUT /work/0", s.do(t, "PUT", "/work/0", form("status", "succeeded", "worker_name", "w")), 404)
	wantError(t, "PUT /work/999", s.report(t, 999, "w", "succeeded", `{"output":1}`, "word_count"), 404)
	for _, path := range []string{"/nope", "/jobs/", "/jobs/1/x", "/work/", "/worker/", "/status/x"} {
		wantError(t, "GET "+path, s.do(t, "GET", path, nil), 404)
	}
	// Nothing was deleted along the way.
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
}

func TestWrongMethodIs405(t *testing.T) {
	s := startServer(t, nil)
	for _, c := range []struct{ method, path string }{
		{"POST", "/status"},
		{"DELETE", "/heartbeat"},
		{"GET", "/work"},
		{"DELETE", "/work"},
		{"GET", "/jobs"},
		{"PUT", "/jobs"},
		{"PUT", "/jobs/1"},
		{"GET", "/work/1"},
		{"DELETE", "/work/1"},
		{"GET", "/worker"},
		{"DELETE", "/worker/w"},
		{"PUT", "/"},
	} {
		r := s.do(t, c.method, c.path, url.Values{})
		wantError(t, c.method+" "+c.path, r, 405)
	}
}

func TestDeleteJob(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a","b"]}`) // units 1, 2
	s.mustCreate(t, `{"action":"word_count","inputs":["c"]}`)     // unit 3
	wantJSON(t, "POST /work by A", s.take(t, "A", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))

	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	wantError(t, "GET /jobs/1 after DELETE", s.do(t, "GET", "/jobs/1", nil), 404)
	// Its queued unit 2 is never handed out.
	wantJSON(t, "POST /work by B", s.take(t, "B", "word_count"), unitJSON(3, 2, "c", 0, "word_count", 1))
	wantNoContent(t, "POST /work by B again", s.take(t, "B", "word_count"))
	// A, who held unit 1, is told the unit is gone.
	wantError(t, "PUT /work/1 by A", s.report(t, 1, "A", "succeeded", `{"output":1}`, "word_count"), 404)
	wantError(t, "PUT /work/2 by A", s.report(t, 2, "A", "succeeded", `{"output":1}`, "word_count"), 404)
	wantError(t, "DELETE /jobs/1 twice", s.do(t, "DELETE", "/jobs/1", nil), 404)

	wantJSON(t, "GET /worker/A", s.do(t, "GET", "/worker/A", nil), `{}`)
	pollUntil(t, 10*time.Second, "/status to forget job 1", func() (bool, string) {
		r := s.do(t, "GET", "/status", nil)
		got := maskTimes(t, r.Body)
		return strings.HasPrefix(got, `{"jobs":[{"id":2,"color":"c14862","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`) &&
			strings.HasSuffix(got, `],"work_unit_count":1,"job_count":1,`+
				`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":1,"waiting":0}}`), got
	})
	// The next job gets the next id: ids are never reused.
	if id := s.mustCreate(t, `{"action":"word_count","inputs":["d"]}`); id != 3 {
		t.Fatalf("next job id %d, want 3", id)
	}
	wantJSON(t, "POST /work by B", s.take(t, "B", "word_count"), unitJSON(4, 3, "d", 0, "word_count", 1))
}

// A worker that held a unit of a deleted job holds nothing: /status must not
// show it busy with that unit.
func TestDeleteJobFreesItsWorker(t *testing.T) {

	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["b"]}`)
	wantJSON(t, "POST /work by A", s.take(t, "A", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	s.statusEventually(t, `{"jobs":[{"id":2,"color":"c14862","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[{"name":"A","status":null}],"work_unit_count":1,"job_count":1,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":1,"leased":0,"waiting":0}}`)
	// Also once A has been told the unit is gone.
	wantError(t, "PUT /work/1 by A", s.report(t, 1, "A", "succeeded", `{"output":1}`, "word_count"), 404)
	s.statusEventually(t, `{"jobs":[{"id":2,"color":"c14862","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[{"name":"A","status":null}],"work_unit_count":1,"job_count":1,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":1,"leased":0,"waiting":0}}`)
}

func TestDeleteCompleteJob(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	u := decodeUnit(t, "POST /work", s.take(t, "w", "graphics_magick"))
	wantNoContent(t, "PUT /work/1", s.report(t, u.ID, "w", "succeeded", `{"output":"x"}`, "graphics_magick"))
	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	wantError(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil), 404)
	// A report on a unit of a deleted job is a 404, not a 409.
	wantError(t, "PUT /work/1 again", s.report(t, 1, "w", "succeeded", `{"output":"x"}`, "graphics_magick"), 404)
	s.statusEventually(t, `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
}

func TestMethodOverride(t *testing.T) {
	s := startServer(t, nil)
	for range 3 {
		s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`) // job n has unit n
	}
	// _method=DELETE in the body, and in the query string.
	wantNoContent(t, "POST /jobs/1 _method=DELETE", s.do(t, "POST", "/jobs/1", form("_method", "DELETE")))
	wantError(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil), 404)
	wantNoContent(t, "POST /jobs/2?_method=delete", s.do(t, "POST", "/jobs/2?_method=delete", nil))
	wantError(t, "GET /jobs/2", s.do(t, "GET", "/jobs/2", nil), 404)

	// _method=PUT: PUT /worker and PUT /work/:id.
	wantNoContent(t, "POST /worker _method=PUT", s.do(t, "POST", "/worker", form("_method", "PUT", "name", "w")))
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(3, 3, "a", 0, "graphics_magick", 1))
	wantNoContent(t, "POST /work/3?_method=PUT", s.do(t, "POST", "/work/3?_method=PUT",
		form("status", "succeeded", "worker_name", "w", "output", `{"output":"done"}`)))
	wantJSON(t, "GET /jobs/3", s.do(t, "GET", "/jobs/3", nil),
		`{"id":3,"color":"2a7baf","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["done"]}`)
	wantNoContent(t, "POST /worker?_method=PUT (check-out)", s.do(t, "POST", "/worker?_method=PUT", form("name", "w", "terminated", "true")))

	// Other methods are refused, and change nothing.
	for _, m := range []string{"PATCH", "GET", "POST", "bogus"} {
		wantError(t, "POST /jobs/3 _method="+m, s.do(t, "POST", "/jobs/3", form("_method", m)), 400)
		wantError(t, "POST /jobs/3?_method="+m, s.do(t, "POST", "/jobs/3?_method="+m, nil), 400)
	}
	wantJSON(t, "GET /jobs/3", s.do(t, "GET", "/jobs/3", nil),
		`{"id":3,"color":"2a7baf","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["done"]}`)
	// _method on a GET is not an override.
	wantJSON(t, "GET /jobs/3?_method=DELETE", s.do(t, "GET", "/jobs/3?_method=DELETE", nil),
		`{"id":3,"color":"2a7baf","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["done"]}`)
}

func TestHeartbeatAndConsole(t *testing.T) {
	s := startServer(t, nil)
	r := s.do(t, "GET", "/heartbeat", nil)
	if r.Code != 200 || r.Body != "buh-bump" {
		t.Fatalf("GET /heartbeat = %d %q", r.Code, r.Body)
	}
	r = s.do(t, "GET", "/", nil)
	if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(r.Body), "<html") {
		t.Fatalf("GET / = %d %q %.200s", r.Code, r.Header.Get("Content-Type"), r.Body)
	}
	s.wantStatusBody(t, emptyStatus)
}

// A JSON body is recognised by its media type, compared without case and
// without parameters; application/jsonfoo is not JSON.
func TestCreateJobJSONMediaType(t *testing.T) {
	s := startServer(t, nil)
	const doc = `{"action":"word_count","inputs":[]}`
	for i, ct := range []string{"Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json ; charset=utf-8", "application/json;charset=utf-8"} {
		r := s.rawRequest(t, "POST", "/jobs", ct, strings.NewReader(doc), nil)
		if r.Code != 200 || jobID(t, r) != int64(i+1) {
			t.Fatalf("POST /jobs (Content-Type %s) = %d %s, want 200 with job %d", ct, r.Code, r.Body, i+1)
		}
	}
	for _, ct := range []string{"application/jsonfoo", "application/json-patch+json", "text/json"} {
		wantError(t, "POST /jobs (Content-Type "+ct+")", s.rawRequest(t, "POST", "/jobs", ct, strings.NewReader(doc), nil), 400)
	}
}

// HEAD answers wherever GET does, with GET's status, Content-Type and
// Content-Length and no body (health checkers use HEAD /heartbeat).
func TestHeadOnGetRoutes(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.opts.Metrics = metrics.New() })
	s.mustCreate(t, `{"action":"word_count","inputs":[]}`) // job 1, complete at once
	for _, c := range []struct {
		path   string
		stable bool // the body's length does not change between requests
	}{
		{"/heartbeat", true}, {"/status", true}, {"/jobs/1", true}, {"/jobs/99", true}, {"/worker/w", true},
		{"/", true}, {"/console/static/index.html", true}, {"/console/static/nope.css", true},
		{"/console/summary", false}, {"/console/jobs?filter=all", true}, {"/console/jobs/1", true},
		{"/console/workers", true}, {"/console/history", false}, {"/blacklist", true}, {"/metrics", false},
	} {
		identity := func(r *http.Request) { r.Header.Set("Accept-Encoding", "identity") }
		get := s.rawRequest(t, "GET", c.path, "", nil, identity)
		head := s.rawRequest(t, "HEAD", c.path, "", nil, identity)
		if head.Code != get.Code || head.Body != "" {
			t.Errorf("HEAD %s = %d %q, want %d with no body", c.path, head.Code, head.Body, get.Code)
		}
		if h, g := head.Header.Get("Content-Type"), get.Header.Get("Content-Type"); h != g {
			t.Errorf("HEAD %s: Content-Type %q, GET's is %q", c.path, h, g)
		}
		n, err := strconv.Atoi(head.Header.Get("Content-Length"))
		if err != nil || (c.stable && n != len(get.Body)) || (!c.stable && n <= 0) {
			t.Errorf("HEAD %s: Content-Length %q, GET's body has %d bytes", c.path, head.Header.Get("Content-Length"), len(get.Body))
		}
	}
	// The connection is still in step after the HEADs.
	if r := s.do(t, "GET", "/heartbeat", nil); r.Code != 200 || r.Body != "buh-bump" {
		t.Fatalf("GET /heartbeat = %d %q", r.Code, r.Body)
	}
	// HEAD where there is no GET is still a 405.
	if r := s.do(t, "HEAD", "/work", nil); r.Code != 405 {
		t.Fatalf("HEAD /work = %d, want 405", r.Code)
	}
}
