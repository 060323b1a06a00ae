package transport

import (
	"net/url"
	"strings"
	"testing"
)

func TestWorkerCheckIn(t *testing.T) {
	s := startServer(t, nil)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "alpha", "thread_status", "sleeping")))
	wantNoContent(t, "PUT /worker again", s.do(t, "PUT", "/worker", form("name", "alpha", "thread_status", "sleeping")))
	wantNoContent(t, "PUT /worker?name=", s.do(t, "PUT", queryPath("/worker", form("name", "beta")), nil))
	// A worker's first POST /work registers it too.
	wantNoContent(t, "POST /work by gamma", s.take(t, "gamma", "word_count"))
	// Live workers, by name descending, status null while idle.
	s.wantStatusBody(t, `{"jobs":[],"workers":[{"name":"gamma","status":null},{"name":"beta","status":null},{"name":"alpha","status":null}],`+
		`"work_unit_count":0,"job_count":0,"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},`+
		`"units":{"ready":0,"leased":0,"waiting":0}}`)
	wantJSON(t, "GET /worker/alpha (idle)", s.do(t, "GET", "/worker/alpha", nil), `{}`)
	wantJSON(t, "GET /worker/nobody", s.do(t, "GET", "/worker/nobody", nil), `{}`)
}

func TestWorkerCheckInErrors(t *testing.T) {
	s := startServer(t, nil)
	wantError(t, "PUT /worker without name", s.do(t, "PUT", "/worker", form("thread_status", "x")), 400)
	wantError(t, "PUT /worker with an empty name", s.do(t, "PUT", "/worker", form("name", "")), 400)
	for _, v := range []string{"0", "-1", "abc", "100000", "NaN"} {
		wantError(t, "PUT /worker check_in_interval="+v, s.do(t, "PUT", "/worker", form("name", "w", "check_in_interval", v)), 400)
	}
	// None of them registered a worker.
	s.wantStatusBody(t, emptyStatus)
}

func TestWorkerHoldingAUnit(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"],"options":{"o":1}}`)
	s.mustCreate(t, `{"action":"process_pdfs","inputs":["p"]}`)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w1")))
	const u1 = `{"id":1,"job_id":1,"input":"a","attempts":0,"action":"word_count","options":{"o":1},"status":1}`
	wantJSON(t, "POST /work by w1", s.take(t, "w1", "word_count"), u1)
	wantJSON(t, "POST /work by w2", s.take(t, "w2", "process_pdfs"), unitJSON(2, 2, "p", 0, "process_pdfs", 4))

	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), u1)
	wantJSON(t, "GET /worker/w2", s.do(t, "GET", "/worker/w2", nil), unitJSON(2, 2, "p", 0, "process_pdfs", 4))
	s.wantStatusBody(t, `{"jobs":[`+
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T},`+
		`{"id":2,"color":"c14862","status":"splitting","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[{"name":"w2","status":"splitting"},{"name":"w1","status":"processing"}],"work_unit_count":2,"job_count":2,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":1,"merging":0},"units":{"ready":0,"leased":2,"waiting":0}}`)

	// Once the unit is reported, the worker holds nothing.
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w1", "succeeded", `{"output":1}`, "graphics_magick"))
	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), `{}`)
	// A check-in does not drop the unit it holds.
	wantNoContent(t, "PUT /worker w2", s.do(t, "PUT", "/worker", form("name", "w2", "thread_status", "busy")))
	wantJSON(t, "GET /worker/w2", s.do(t, "GET", "/worker/w2", nil), unitJSON(2, 2, "p", 0, "process_pdfs", 4))
}

func TestWorkerCheckOutReleasesItsUnit(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b","c"]}`)
	const act = "graphics_magick"
	// Unit 1 had one failed attempt already; a failed unit goes back to the
	// front of the queue.
	wantJSON(t, "POST /work by w1", s.take(t, "w1", act), unitJSON(1, 1, "a", 0, act, 1))
	wantJSON(t, "PUT /work/1 failed", s.report(t, 1, "w1", "failed", `{"output":"x"}`, act), unitJSON(2, 1, "b", 0, act, 1))
	wantJSON(t, "POST /work by w1 (retry)", s.takeEventually(t, "w1", act), unitJSON(1, 1, "a", 1, act, 1))
	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), unitJSON(1, 1, "a", 1, act, 1))
	// w1 holds 2 and 1; it checks out.
	wantNoContent(t, "PUT /worker terminated=true", s.do(t, "PUT", "/worker", form("name", "w1", "terminated", "true")))
	s.wantStatusBody(t, `{"jobs":[{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":3,"time_taken":T}],`+
		`"workers":[],"work_unit_count":3,"job_count":1,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":3,"leased":0,"waiting":0}}`)
	wantJSON(t, "GET /worker/w1", s.do(t, "GET", "/worker/w1", nil), `{}`)
	// Both units are back at the front, before unit 3, attempts unchanged,
	// in the order w1 took them.
	wantJSON(t, "POST /work by w2", s.take(t, "w2", act), unitJSON(2, 1, "b", 0, act, 1))
	wantJSON(t, "POST /work by w2", s.take(t, "w2", act), unitJSON(1, 1, "a", 1, act, 1))
	wantJSON(t, "POST /work by w2", s.take(t, "w2", act), unitJSON(3, 1, "c", 0, act, 1))
	// w1's late reports conflict.
	wantError(t, "PUT /work/2 by w1", s.report(t, 2, "w1", "succeeded", `{"output":"B"}`, act), 409)
	wantNoContent(t, "PUT /work/2 by w2", s.report(t, 2, "w2", "succeeded", `{"output":"B"}`, ""))
	wantNoContent(t, "PUT /work/1 by w2", s.report(t, 1, "w2", "succeeded", `{"output":"A"}`, ""))
	wantNoContent(t, "PUT /work/3 by w2", s.report(t, 3, "w2", "succeeded", `{"output":"C"}`, ""))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","B","C"]}`)
}

func TestWorkerCheckOutIdle(t *testing.T) {
	s := startServer(t, nil)
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w")))
	wantNoContent(t, "PUT /worker terminated=true", s.do(t, "PUT", "/worker", form("name", "w", "terminated", "true")))
	s.wantStatusBody(t, emptyStatus)
	// Checking out a worker nobody knows is fine.
	wantNoContent(t, "PUT /worker terminated=true (unknown)", s.do(t, "PUT", "/worker", form("name", "ghost", "terminated", "true")))
	s.wantStatusBody(t, emptyStatus)
}

// Worker names as CloudCrowd made them (pid@host), and names that need
// escaping, in the path of GET /worker/:name and in /status.
func TestWorkerNamesEscaped(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	wantJSON(t, "POST /work", s.take(t, "1234@host-1.example", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", `w "1" <b>&`)))
	wantJSON(t, "GET /worker/1234@host-1.example", s.do(t, "GET", "/worker/1234@host-1.example", nil), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantJSON(t, "GET /worker/w%20%221%22...", s.do(t, "GET", "/worker/"+url.PathEscape(`w "1" <b>&`), nil), `{}`)
	s.wantStatusBody(t, `{"jobs":[{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[{"name":"w \"1\" \u003cb\u003e\u0026","status":null},{"name":"1234@host-1.example","status":"processing"}],`+
		`"work_unit_count":1,"job_count":1,"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},`+
		`"units":{"ready":0,"leased":1,"waiting":0}}`)
}

// Names, thread_status and worker_actions must be UTF-8: /status and the
// console show them in JSON.
func TestNamesMustBeUTF8(t *testing.T) {
	s := startServer(t, nil)
	const bad = "w\xff"
	wantError(t, "POST /work worker_name=w\\xff", s.take(t, bad, "word_count"), 400)
	wantError(t, "POST /work worker_actions=word_count,\\xff", s.take(t, "w", "word_count,\xff"), 400)
	wantError(t, "PUT /work/1 worker_name=w\\xff", s.report(t, 1, bad, "succeeded", `{"output":1}`, "word_count"), 400)
	wantError(t, "PUT /worker name=w\\xff", s.do(t, "PUT", "/worker", form("name", bad)), 400)
	wantError(t, "PUT /worker thread_status=\\xff", s.do(t, "PUT", "/worker", form("name", "w", "thread_status", "\xff")), 400)
	wantError(t, "PUT /worker name=w\\xff terminated=true", s.do(t, "PUT", "/worker", form("name", bad, "terminated", "true")), 400)
	s.wantStatusBody(t, emptyStatus)

	// UTF-8 beyond ASCII is fine.
	wantNoContent(t, "PUT /worker name=wörker", s.do(t, "PUT", "/worker", form("name", "wörker", "thread_status", "läuft")))
	s.wantStatusBody(t, `{"jobs":[],"workers":[{"name":"wörker","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
}

// thread_status is at most 1024 bytes: every console poll shows it.
func TestThreadStatusBounded(t *testing.T) {
	s := startServer(t, nil)
	wantError(t, "PUT /worker thread_status=<1025 bytes>",
		s.do(t, "PUT", "/worker", form("name", "w", "thread_status", strings.Repeat("s", 1025))), 400)
	s.wantStatusBody(t, emptyStatus)
	wantNoContent(t, "PUT /worker thread_status=<1024 bytes>",
		s.do(t, "PUT", "/worker", form("name", "w", "thread_status", strings.Repeat("s", 1024))))
}

// A declared check_in_interval is at least a tenth of a second: a worker is
// dead after three missed check-ins, so a smaller one would be declared dead
// at once.
func TestCheckInIntervalAtLeastATenthOfASecond(t *testing.T) {
	s := startServer(t, nil)
	for _, v := range []string{"0.000000001", "0.099", "1e-300", "1e-400", "0." + strings.Repeat("0", 400) + "1"} {
		wantError(t, "PUT /worker check_in_interval="+v[:min(len(v), 20)],
			s.do(t, "PUT", "/worker", form("name", "w", "check_in_interval", v)), 400)
	}
	s.wantStatusBody(t, emptyStatus)
	for _, v := range []string{"0.1", "1e-1", "3", "86400"} {
		wantNoContent(t, "PUT /worker check_in_interval="+v, s.do(t, "PUT", "/worker", form("name", "w", "check_in_interval", v)))
	}
}

// terminated is true or false, in any case; anything else is a 400 rather
// than a check-in.
func TestTerminatedIsABoolean(t *testing.T) {
	s := startServer(t, nil)
	const oneWorker = `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,` +
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`
	for _, v := range []string{"yes", "no", "on", "2", "truee", "true ", "t"} {
		wantError(t, "PUT /worker terminated="+v, s.do(t, "PUT", "/worker", form("name", "w", "terminated", v)), 400)
	}
	s.wantStatusBody(t, emptyStatus)
	for _, v := range []string{"false", "FALSE", "False", "0"} {
		wantNoContent(t, "PUT /worker terminated="+v, s.do(t, "PUT", "/worker", form("name", "w", "terminated", v)))
		s.wantStatusBody(t, oneWorker)
	}
	for _, v := range []string{"TRUE", "True", "true", "1"} {
		wantNoContent(t, "PUT /worker", s.do(t, "PUT", "/worker", form("name", "w")))
		wantNoContent(t, "PUT /worker terminated="+v, s.do(t, "PUT", "/worker", form("name", "w", "terminated", v)))
		s.wantStatusBody(t, emptyStatus)
	}
}
