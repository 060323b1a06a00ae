package transport

import (
	"strings"
	"testing"
	"time"
)

func TestDequeueNeedsWorkerName(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	wantError(t, "POST /work without worker_name", s.do(t, "POST", "/work", form("worker_actions", "word_count")), 400)
	wantError(t, "POST /work with an empty worker_name", s.do(t, "POST", "/work", form("worker_name", "", "worker_actions", "word_count")), 400)
	wantError(t, "POST /work with a huge worker_name", s.take(t, strings.Repeat("w", 1025), "word_count"), 400)
	// Nothing was leased by those.
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
}

func TestDequeueNothingReady(t *testing.T) {
	s := startServer(t, nil)
	wantNoContent(t, "POST /work (no job)", s.take(t, "w", "word_count"))
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantNoContent(t, "POST /work (all leased)", s.take(t, "w2", "word_count"))
	// The query string works as well as the form body.
	wantNoContent(t, "POST /work?worker_name=", s.do(t, "POST", queryPath("/work", form("worker_name", "w3", "worker_actions", "word_count")), nil))
}

func TestDequeueOldestFirstAcrossJobs(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["g1"]}`) // unit 1
	s.mustCreate(t, `{"action":"word_count","inputs":["w1","w2"]}`) // units 2, 3
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["g2"]}`) // unit 4
	s.mustCreate(t, `{"action":"word_count","inputs":["w3"]}`)      // unit 5
	const both = "word_count,graphics_magick"
	wantJSON(t, "POST /work 1", s.take(t, "w", both), unitJSON(1, 1, "g1", 0, "graphics_magick", 1))
	wantJSON(t, "POST /work 2", s.take(t, "w", both), unitJSON(2, 2, "w1", 0, "word_count", 1))
	wantJSON(t, "POST /work 3", s.take(t, "w", both), unitJSON(3, 2, "w2", 0, "word_count", 1))
	wantJSON(t, "POST /work 4", s.take(t, "w", both), unitJSON(4, 3, "g2", 0, "graphics_magick", 1))
	wantJSON(t, "POST /work 5", s.take(t, "w", both), unitJSON(5, 4, "w3", 0, "word_count", 1))
	wantNoContent(t, "POST /work 6", s.take(t, "w", both))
}

func TestDequeueFiltersByWorkerActions(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	wantNoContent(t, "POST /work (other action)", s.take(t, "w", "graphics_magick"))
	wantNoContent(t, "POST /work (no actions)", s.do(t, "POST", "/work", form("worker_name", "w")))
	wantNoContent(t, "POST /work (unknown action)", s.take(t, "w", "word_count_x"))
	wantNoContent(t, "POST /work (prefix)", s.take(t, "w", "word"))
	// Blanks around the names are allowed.
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick, word_count"), unitJSON(1, 1, "a", 0, "word_count", 1))
}

func TestCompleteByAnotherWorkerIs409(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	wantJSON(t, "POST /work by A", s.take(t, "A", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantError(t, "PUT /work/1 by B", s.report(t, 1, "B", "succeeded", `{"output":"b"}`, "graphics_magick"), 409)
	wantError(t, "PUT /work/1 by B (failed)", s.report(t, 1, "B", "failed", `{"output":"b"}`, "graphics_magick"), 409)
	// A report on a unit nobody holds is a conflict too.
	wantError(t, "PUT /work/2 by A (not leased)", s.report(t, 2, "A", "succeeded", `{"output":"x"}`, "graphics_magick"), 409)
	// Nothing changed: B's 409 did not lease B unit 2, A still holds 1.
	wantJSON(t, "GET /worker/A", s.do(t, "GET", "/worker/A", nil), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantJSON(t, "GET /worker/B", s.do(t, "GET", "/worker/B", nil), `{}`)
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":2,"time_taken":T}`)
	// The holder completes it; its answer is the next unit.
	wantJSON(t, "PUT /work/1 by A", s.report(t, 1, "A", "succeeded", `{"output":"a!"}`, "graphics_magick"), unitJSON(2, 1, "b", 0, "graphics_magick", 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":50,"work_units":2,"time_taken":T}`)
}

func TestCompleteTwiceIs409(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	// No worker_actions: the answer is 204 even though unit 2 is ready.
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"A"}`, ""))
	wantError(t, "PUT /work/1 again", s.report(t, 1, "w", "succeeded", `{"output":"A2"}`, "graphics_magick"), 409)
	wantError(t, "PUT /work/1 again, failed", s.report(t, 1, "w", "failed", `{"output":"boom"}`, "graphics_magick"), 409)
	// Those 409s leased nothing.
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(2, 1, "b", 0, "graphics_magick", 1))
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":"B"}`, "graphics_magick"))
	// The job is complete but still here: still 409, and the outputs stand.
	wantError(t, "PUT /work/2 again", s.report(t, 2, "w", "succeeded", `{"output":"B2"}`, "graphics_magick"), 409)
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","B"]}`)
}

func TestFailedAttemptIsRetried(t *testing.T) {
	s := startServer(t, nil) // work_unit_retries 3, retry_backoff 0
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	const act = "graphics_magick"
	for attempt := range 3 {
		u := decodeUnit(t, "POST /work", s.takeEventually(t, "w", act))
		if u.ID != 1 || u.Attempts != attempt {
			t.Fatalf("attempt %d: got unit %d with attempts %d", attempt, u.ID, u.Attempts)
		}
		if attempt < 2 {
			// The answer does not hand the failed unit straight back.
			wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"boom `+string(rune('0'+attempt))+`"}`, act))
			wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
				`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
		} else {
			wantNoContent(t, "PUT /work/1 failed (last)", s.report(t, 1, "w", "failed", `{"output":"boom 2"}`, act))
		}
	}
	// The last attempt's output is kept; the earlier ones are dropped.
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["boom 2"]}`)
	wantNoContent(t, "POST /work", s.take(t, "w", act))
	wantError(t, "PUT /work/1 after the job failed", s.report(t, 1, "w", "succeeded", `{"output":1}`, act), 409)
	s.statusEventually(t, `{"jobs":[],"workers":[{"name":"w","status":null}],"work_unit_count":0,"job_count":0,`+
		`"jobs_by_status":{"processing":0,"succeeded":0,"failed":1,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":0}}`)
}

func TestFailedAttemptAnswerIsTheNextUnit(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	const act = "graphics_magick"
	wantJSON(t, "POST /work", s.take(t, "w", act), unitJSON(1, 1, "a", 0, act, 1))
	// The failed unit 1 is skipped: the answer is unit 2.
	wantJSON(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"boom"}`, act), unitJSON(2, 1, "b", 0, act, 1))
	// Unit 1 comes back, attempts 1, to another worker.
	wantJSON(t, "POST /work by v", s.takeEventually(t, "v", act), unitJSON(1, 1, "a", 1, act, 1))
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":"B"}`, act))
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "v", "succeeded", `{"output":"A"}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","B"]}`)
}

// A unit that fails for good fails the job, which then never merges; its
// error message takes the unit's place in outputs.
func TestPermanentFailureFailsMergingJob(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 1 })
	s.mustCreate(t, `{"action":"word_count","inputs":["a","b c"]}`)
	const act = "word_count"
	wantJSON(t, "POST /work", s.take(t, "w", act), unitJSON(1, 1, "a", 0, act, 1))
	wantJSON(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"no such file"}`, act), unitJSON(2, 1, "b c", 0, act, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":50,"work_units":2,"time_taken":T}`)
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":2}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["no such file",2]}`)
	wantNoContent(t, "POST /work (no merge unit)", s.take(t, "w", act))
}

func TestMergeUnitAndPercent(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a","b","c"]}`)
	const act = "word_count"
	for id := int64(1); id <= 3; id++ {
		wantJSON(t, "POST /work", s.take(t, "w", act), unitJSON(id, 1, string(rune('a'+id-1)), 0, act, 1))
	}
	// Out of order: the merge input follows the input order.
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w", "succeeded", `{"output":30}`, ""))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":33,"work_units":3,"time_taken":T}`)
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":10}`, ""))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":67,"work_units":3,"time_taken":T}`)
	// The last report answers the merge unit it made ready.
	wantJSON(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":{"n":20}}`, act), unitJSON(4, 1, `[10,{"n":20},30]`, 0, act, 5))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"merging","percent_complete":99,"work_units":1,"time_taken":T}`)
	wantJSON(t, "GET /worker/w", s.do(t, "GET", "/worker/w", nil), unitJSON(4, 1, `[10,{"n":20},30]`, 0, act, 5))
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "w", "succeeded", `{"output":60}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[60]}`)
}

func TestCompleteStatusRequired(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	for _, f := range []struct {
		name string
		kv   []string
	}{
		{"no status", []string{"worker_name", "w", "output", `{"output":1}`}},
		{"empty status", []string{"status", "", "worker_name", "w"}},
		{"status done", []string{"status", "done", "worker_name", "w"}},
		{"status Succeeded", []string{"status", "Succeeded", "worker_name", "w"}},
		{"status 2", []string{"status", "2", "worker_name", "w"}},
	} {
		r := s.do(t, "PUT", "/work/1", form(f.kv...))
		if r.Code != 400 || r.Body != "Completing a work unit must specify status." {
			t.Fatalf("PUT /work/1 with %s = %d %q", f.name, r.Code, r.Body)
		}
	}
	// Nothing changed: w still holds the unit and can complete it.
	wantJSON(t, "GET /worker/w", s.do(t, "GET", "/worker/w", nil), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"ok"}`, "graphics_magick"))
}

func TestCompleteBadFields(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b","c"]}`)
	const act = "graphics_magick"
	wantJSON(t, "POST /work", s.take(t, "w", act), unitJSON(1, 1, "a", 0, act, 1))
	for _, f := range []struct {
		name string
		kv   []string
	}{
		{"no worker_name", []string{"status", "succeeded", "output", `{"output":1}`}},
		{"output not JSON", []string{"status", "succeeded", "worker_name", "w", "output", `not json`}},
		{"output an array", []string{"status", "succeeded", "worker_name", "w", "output", `[1]`}},
		{"output a string", []string{"status", "succeeded", "worker_name", "w", "output", `"x"`}},
		{"output a number", []string{"status", "succeeded", "worker_name", "w", "output", `1`}},
		{"output truncated", []string{"status", "succeeded", "worker_name", "w", "output", `{"output":[1,`}},
		{"failed, output not JSON", []string{"status", "failed", "worker_name", "w", "output", `oops`}},
		{"time not a number", []string{"status", "succeeded", "worker_name", "w", "output", `{"output":1}`, "time", "abc"}},
		{"time negative", []string{"status", "succeeded", "worker_name", "w", "output", `{"output":1}`, "time", "-1"}},
		{"time NaN", []string{"status", "succeeded", "worker_name", "w", "output", `{"output":1}`, "time", "NaN"}},
		{"time infinite", []string{"status", "succeeded", "worker_name", "w", "output", `{"output":1}`, "time", "+Inf"}},
	} {
		wantError(t, "PUT /work/1 with "+f.name, s.do(t, "PUT", "/work/1", form(f.kv...)), 400)
	}
	// None of them changed anything.
	wantJSON(t, "GET /worker/w", s.do(t, "GET", "/worker/w", nil), unitJSON(1, 1, "a", 0, act, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":3,"time_taken":T}`)
	// An object without "output" is a null output; so is no output at all.
	r := s.do(t, "PUT", "/work/1", form("status", "succeeded", "worker_name", "w", "output", `{"x":1}`, "time", "1.5", "worker_actions", act))
	wantJSON(t, "PUT /work/1 with {\"x\":1}", r, unitJSON(2, 1, "b", 0, act, 1))
	r = s.do(t, "PUT", "/work/2", form("status", "succeeded", "worker_name", "w", "time", "0", "worker_actions", act))
	wantJSON(t, "PUT /work/2 without output", r, unitJSON(3, 1, "c", 0, act, 1))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w", "succeeded", `{ "output" : { "k" : [1, 2] } }`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[null,null,{"k":[1,2]}]}`)
}

// percent_complete rounds half up: 1 of 8 is 12.5 -> 13.
func TestPercentRoundsHalfUp(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["1","2","3","4","5","6","7","8"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "1", 0, "graphics_magick", 1))
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":1}`, ""))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":13,"work_units":8,"time_taken":T}`)
}

// With a retry_backoff, a failed unit waits before it is ready again.
func TestFailedAttemptWaitsForRetryBackoff(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.RetryBackoff = time.Hour })
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"x"}`, "graphics_magick"))
	s.statusEventually(t, `{"jobs":[{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[{"name":"w","status":null}],"work_unit_count":1,"job_count":1,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":0,"leased":0,"waiting":1}}`)
	wantNoContent(t, "POST /work during the back-off", s.take(t, "w", "graphics_magick"))
	wantError(t, "PUT /work/1 during the back-off", s.report(t, 1, "w", "succeeded", `{"output":"x"}`, "graphics_magick"), 409)
}

// worker_actions is at most 4096 bytes: the name table and the dispatcher
// keep the lists workers send, so longer ones are refused with 400 and
// change nothing.
func TestWorkerActionsBounded(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":["a"]}`)
	long := "word_count," + strings.Repeat("x", 4096)
	wantError(t, "POST /work with worker_actions over 4096 bytes", s.take(t, "w", long), 400)
	s.wantStatusBody(t, `{"jobs":[{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}],`+
		`"workers":[],"work_unit_count":1,"job_count":1,`+
		`"jobs_by_status":{"processing":1,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":1,"leased":0,"waiting":0}}`)

	justRight := "word_count," + strings.Repeat("x", 4096-len("word_count,"))
	wantJSON(t, "POST /work with worker_actions of 4096 bytes", s.take(t, "w", justRight), unitJSON(1, 1, "a", 0, "word_count", 1))
	wantError(t, "PUT /work/1 with worker_actions over 4096 bytes", s.report(t, 1, "w", "succeeded", `{"output":1}`, long), 400)
	// The refused report changed nothing: the unit is still w's to report.
	wantJSON(t, "GET /worker/w", s.do(t, "GET", "/worker/w", nil), unitJSON(1, 1, "a", 0, "word_count", 1))
	if r := s.report(t, 1, "w", "succeeded", `{"output":1}`, justRight); r.Code != 200 {
		t.Fatalf("PUT /work/1 = %d %s, want 200 with the merge unit", r.Code, r.Body)
	}
}
