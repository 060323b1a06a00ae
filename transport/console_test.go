package transport

import (
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/metrics"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/webui"
	"github.com/documentcloud/crowd/wire"
)

// The console's JSON routes: /console/summary, /console/jobs,
// /console/jobs/:id, /console/jobs/:id/retry, /console/workers and
// /console/history.

// summaryDoc is GET /console/summary.
type summaryDoc struct {
	Jobs           map[string]int `json:"jobs"`
	Units          map[string]int `json:"units"`
	Workers        int            `json:"workers"`
	UnitsPerSecond float64        `json:"units_per_second"`
	WAL            *struct {
		Mode        string  `json:"mode"`
		LastFsyncMS float64 `json:"last_fsync_ms"`
		MaxFsyncMS  float64 `json:"max_fsync_ms"`
		Bytes       int64   `json:"bytes"`
	} `json:"wal"`
	Paused        []string `json:"paused"`
	Time          float64  `json:"time"`
	JobActors     int      `json:"job_actors"`
	FinishedBytes int64    `json:"finished_bytes"`
}

// counts is the part of a summary a test scripts.
type counts struct {
	Jobs    map[string]int
	Units   map[string]int
	Workers int
	Paused  []string
}

func (s *testServer) summary(t testing.TB) (summaryDoc, response) {
	t.Helper()
	r := s.do(t, "GET", "/console/summary", nil)
	var doc summaryDoc
	decodeStrict(t, "GET /console/summary", r, &doc)
	if keys := topKeys(t, r.Body); !slices.Equal(keys, []string{"jobs", "units", "workers", "units_per_second", "wal", "paused", "time", "job_actors", "finished_bytes"}) {
		t.Fatalf("GET /console/summary keys %v", keys)
	}
	return doc, r
}

// summaryEventually polls GET /console/summary until its counts are want
// (the job index learns of a status change just after the request that
// made it is answered).
func (s *testServer) summaryEventually(t testing.TB, want counts) (summaryDoc, response) {
	t.Helper()
	var doc summaryDoc
	var r response
	pollUntil(t, 10*time.Second, "GET /console/summary counts", func() (bool, string) {
		doc, r = s.summary(t)
		got := counts{doc.Jobs, doc.Units, doc.Workers, doc.Paused}
		return reflect.DeepEqual(got, want), r.Body
	})
	return doc, r
}

func TestConsoleSummaryCounts(t *testing.T) {
	clock := &offsetClock{}
	s := startServer(t, func(c *serverConfig) {
		c.settings.WorkUnitRetries = 2
		c.settings.RetryBackoff = time.Minute // a failed attempt waits (the cap is 60 s)
		c.settings.Now = clock.Now
	})
	const gm, wc, pp = "graphics_magick", "word_count", "process_pdfs"

	doc, r := s.summaryEventually(t, counts{
		Jobs:  map[string]int{"processing": 0, "succeeded": 0, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 0, "total": 0},
		Units: map[string]int{"ready": 0, "leased": 0, "waiting": 0, "incomplete": 0}, Paused: []string{},
	})
	if !strings.Contains(r.Body, `"wal":null`) || doc.WAL != nil {
		t.Fatalf("with the memory journal, wal should be null: %s", r.Body)
	}

	// Job 1 fails for good: one failed attempt, its back-off, another.
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["f"]}`)
	decodeUnit(t, "POST /work by w0", s.take(t, "w0", gm))
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w0", "failed", `{"output":"boom"}`, ""))
	s.summaryEventually(t, counts{
		Jobs:    map[string]int{"processing": 1, "succeeded": 0, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 1, "total": 1},
		Units:   map[string]int{"ready": 0, "leased": 0, "waiting": 1, "incomplete": 1},
		Workers: 1, Paused: []string{},
	})
	clock.Advance(3 * time.Minute) // the back-off ends; w0, silent, is dead
	if u := decodeUnit(t, "POST /work by w0", s.takeEventually(t, "w0", gm)); u.ID != 1 || u.Attempts != 1 {
		t.Fatalf("after the back-off, w0 got %+v, want unit 1 with attempts 1", u)
	}
	wantNoContent(t, "PUT /work/1 failed again", s.report(t, 1, "w0", "failed", `{"output":"boom"}`, ""))

	// Job 2 succeeds; job 6 has no inputs and succeeds at once.
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["s"]}`)
	decodeUnit(t, "POST /work by w1", s.take(t, "w1", gm))
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w1", "succeeded", `{"output":"S"}`, ""))
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b","c"]}`) // job 3: units 3-5
	s.mustCreate(t, `{"action":"word_count","inputs":["x"]}`)              // job 4: unit 6
	s.mustCreate(t, `{"action":"process_pdfs","inputs":["p"]}`)            // job 5: unit 7, splitting
	s.mustCreate(t, `{"action":"graphics_magick","inputs":[]}`)            // job 6

	wantJSON(t, "POST /work by w1", s.take(t, "w1", gm), unitJSON(3, 3, "a", 0, gm, 1))
	wantJSON(t, "POST /work by w2", s.take(t, "w2", wc), unitJSON(6, 4, "x", 0, wc, 1))
	wantNoContent(t, "PUT /work/6 failed", s.report(t, 6, "w2", "failed", `{"output":"later"}`, "")) // waits
	wantJSON(t, "POST /work by w3", s.take(t, "w3", pp), unitJSON(7, 5, "p", 0, pp, 4))
	wantNoContent(t, "PUT /worker w4", s.do(t, "PUT", "/worker", form("name", "w4", "thread_status", "idle")))
	for _, a := range []string{wc, pp} {
		if r := s.do(t, "POST", "/blacklist", form("action", a)); r.Code != 200 {
			t.Fatalf("POST /blacklist action=%s = %d %s", a, r.Code, r.Body)
		}
	}

	doc, r = s.summaryEventually(t, counts{
		Jobs: map[string]int{"processing": 2, "succeeded": 2, "failed": 1, "splitting": 1, "merging": 0,
			"incomplete": 3, "total": 6},
		Units:   map[string]int{"ready": 2, "leased": 2, "waiting": 1, "incomplete": 5},
		Workers: 5, Paused: []string{wc, pp},
	})
	if doc.WAL != nil {
		t.Errorf("wal = %+v, want null", doc.WAL)
	}
	if d := math.Abs(doc.Time - unix(clock.Now())); d > 60 {
		t.Errorf("time = %f, %f s away from the coordinator's clock", doc.Time, d)
	}
	if doc.UnitsPerSecond < 0 || math.IsInf(doc.UnitsPerSecond, 0) {
		t.Errorf("units_per_second = %v", doc.UnitsPerSecond)
	}
}

// With a write-ahead log the summary shows its sync mode, fsync latencies
// and size.
func TestConsoleSummaryWAL(t *testing.T) {
	group := persistence.SyncGroup
	s := startServer(t, func(c *serverConfig) { c.durable = &group })
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	doc, r := s.summary(t)
	if doc.WAL == nil {
		t.Fatalf("wal is null with a write-ahead log: %s", r.Body)
	}
	w := *doc.WAL
	if w.Mode != "group" || w.Bytes <= 0 || w.LastFsyncMS < 0 || w.MaxFsyncMS < w.LastFsyncMS || w.MaxFsyncMS <= 0 {
		t.Fatalf("wal = %+v, want mode group, bytes > 0, 0 < last_fsync_ms <= max_fsync_ms", w)
	}
	if doc.Jobs["processing"] != 1 || doc.Jobs["total"] != 1 || doc.Units["ready"] != 1 {
		t.Fatalf("counts %s", r.Body)
	}
}

// jobPage is GET /console/jobs with its jobs left raw.
type jobPage struct {
	Total   int               `json:"total"`
	Page    int               `json:"page"`
	PerPage int               `json:"per_page"`
	Jobs    []json.RawMessage `json:"jobs"`
}

// consoleJobJSON is a job as the console lists it, time_taken and
// created_at masked (T and C).
func consoleJobJSON(id int64, status string, percent, units int, outputs, action string) string {
	b := `{"id":` + strconv.FormatInt(id, 10) + `,"color":"` + wire.Color(id) + `","status":"` + status +
		`","percent_complete":` + strconv.Itoa(percent) + `,"work_units":` + strconv.Itoa(units) + `,"time_taken":T`
	if outputs != "" {
		b += `,"outputs":` + outputs
	}
	return b + `,"action":"` + action + `","created_at":C}`
}

func TestConsoleJobsFiltersAndPages(t *testing.T) {
	start := time.Now()
	s := startServer(t, nil)
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`) // 1
	s.mustCreate(t, `{"action":"word_count","inputs":["b"]}`)      // 2
	s.mustCreate(t, `{"action":"process_pdfs","inputs":["c"]}`)    // 3
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["d"]}`) // 4
	s.mustCreate(t, `{"action":"word_count","inputs":["e"]}`)      // 5
	wantJSON(t, "POST /work", s.take(t, "w", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"A"}`, gm), unitJSON(4, 4, "d", 0, gm, 1))
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "w", "succeeded", `{"output":"D"}`, gm))

	job := map[int64]string{
		1: consoleJobJSON(1, "succeeded", 100, 0, `["A"]`, gm),
		2: consoleJobJSON(2, "processing", 0, 1, "", "word_count"),
		3: consoleJobJSON(3, "splitting", 0, 1, "", "process_pdfs"),
		4: consoleJobJSON(4, "succeeded", 100, 0, `["D"]`, gm),
		5: consoleJobJSON(5, "processing", 0, 1, "", "word_count"),
	}
	page := func(total, pg, per int, ids ...int64) string {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = job[id]
		}
		return `{"total":` + strconv.Itoa(total) + `,"page":` + strconv.Itoa(pg) + `,"per_page":` + strconv.Itoa(per) +
			`,"jobs":[` + strings.Join(parts, ",") + `]}`
	}
	get := func(query string) string {
		r := s.do(t, "GET", "/console/jobs"+query, nil)
		var p jobPage
		decodeStrict(t, "GET /console/jobs"+query, r, &p)
		return maskCreatedAt(t, maskTimes(t, r.Body), start, time.Now())
	}
	// The index learns of the two completions just after they are answered.
	pollUntil(t, 10*time.Second, "both jobs complete in the index", func() (bool, string) {
		got := get("?filter=complete")
		return got == page(2, 1, 50, 4, 1), got
	})
	for _, c := range []struct{ query, want string }{
		{"", page(3, 1, 50, 2, 3, 5)}, // incomplete by default, oldest first
		{"?filter=incomplete", page(3, 1, 50, 2, 3, 5)},
		{"?filter=complete", page(2, 1, 50, 4, 1)}, // newest first
		{"?filter=all", page(5, 1, 50, 5, 4, 3, 2, 1)},
		{"?filter=all&per_page=2", page(5, 1, 2, 5, 4)},
		{"?filter=all&per_page=2&page=2", page(5, 2, 2, 3, 2)},
		{"?filter=all&per_page=2&page=3", page(5, 3, 2, 1)},
		{"?filter=all&per_page=2&page=4", page(5, 4, 2)},
		{"?filter=incomplete&per_page=2&page=2", page(3, 2, 2, 5)},
		{"?filter=incomplete&per_page=2&page=9", page(3, 9, 2)},
		{"?filter=complete&per_page=1&page=2", page(2, 2, 1, 1)},
		{"?filter=all&per_page=100000", page(5, 1, 500, 5, 4, 3, 2, 1)}, // per_page is capped
	} {
		if got := get(c.query); got != c.want {
			t.Errorf("GET /console/jobs%s\n got %s\nwant %s", c.query, got, c.want)
		}
	}
	for _, q := range []string{"?filter=bogus", "?filter=INCOMPLETE", "?page=0", "?page=-1", "?page=abc",
		"?per_page=0", "?per_page=x", "?page=1.5", "?filter=all&page=99999999999999999999"} {
		wantError(t, "GET /console/jobs"+q, s.do(t, "GET", "/console/jobs"+q, nil), 400)
	}
	// A deleted job leaves every list.
	wantNoContent(t, "DELETE /jobs/3", s.do(t, "DELETE", "/jobs/3", nil))
	if got, want := get("?filter=all"), page(4, 1, 50, 5, 4, 2, 1); got != want {
		t.Errorf("after DELETE /jobs/3\n got %s\nwant %s", got, want)
	}
	if got, want := get(""), page(2, 1, 50, 2, 5); got != want {
		t.Errorf("incomplete after DELETE /jobs/3\n got %s\nwant %s", got, want)
	}
}

// jobDetailDoc is GET /console/jobs/:id with its parts left raw.
type jobDetailDoc struct {
	Job        json.RawMessage   `json:"job"`
	UnitsTotal int               `json:"units_total"`
	Page       int               `json:"page"`
	PerPage    int               `json:"per_page"`
	Units      []json.RawMessage `json:"units"`
}

func (s *testServer) jobDetail(t testing.TB, path string) jobDetailDoc {
	t.Helper()
	var d jobDetailDoc
	decodeStrict(t, "GET "+path, s.do(t, "GET", path, nil), &d)
	return d
}

func rawStrings(raws []json.RawMessage) []string {
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = string(r)
	}
	return out
}

// Every unit state the job page shows: failed (with the text of each failed
// attempt), succeeded, waiting, running (with its worker) and queued.
func TestConsoleJobDetailUnits(t *testing.T) {
	start := time.Now()
	clock := &offsetClock{}
	s := startServer(t, func(c *serverConfig) {
		c.settings.WorkUnitRetries = 2
		c.settings.RetryBackoff = time.Minute
		c.settings.Now = clock.Now
	})
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["u1","u2","u3","u4","u5"],"options":{"k":"v"}}`)
	wantJSON(t, "POST /work", s.take(t, "w", gm), `{"id":1,"job_id":1,"input":"u1","attempts":0,"action":"graphics_magick","options":{"k":"v"},"status":1}`)
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"first <b>boom</b>"}`, ""))
	// The dispatcher starts the back-off just after the answer, on its clock.
	pollUntil(t, 10*time.Second, "unit 1 waiting", func() (bool, string) {
		d := s.jobDetail(t, "/console/jobs/1")
		return strings.Contains(string(d.Units[0]), `"state":"waiting"`), string(d.Units[0])
	})
	clock.Advance(3 * time.Minute) // unit 1's back-off ends
	pollUntil(t, 10*time.Second, "unit 1 queued again after its back-off", func() (bool, string) {
		d := s.jobDetail(t, "/console/jobs/1")
		return strings.Contains(string(d.Units[0]), `"state":"queued"`), string(d.Units[0])
	})
	if u := decodeUnit(t, "POST /work", s.take(t, "w", gm)); u.ID != 1 || u.Attempts != 1 {
		t.Fatalf("got %+v, want unit 1 with attempts 1", u)
	}
	wantNoContent(t, "PUT /work/1 failed again", s.report(t, 1, "w", "failed", `{"output":{"code":7}}`, ""))
	decodeUnit(t, "POST /work", s.take(t, "w", gm))
	wantNoContent(t, "PUT /work/2", s.do(t, "PUT", "/work/2", form("status", "succeeded", "output", `{"output":"two"}`, "time", "1.5", "worker_name", "w")))
	decodeUnit(t, "POST /work", s.take(t, "w", gm))
	wantNoContent(t, "PUT /work/3 failed", s.report(t, 3, "w", "failed", `{"output":"oops"}`, "")) // waits a minute
	decodeUnit(t, "POST /work by w2", s.take(t, "w2", gm))                                         // unit 4

	units := []string{
		`{"id":1,"phase":"processing","state":"failed","attempts":2,"worker":"w","time":0,"input":"u1","output":{"code":7},"errors":["first \u003cb\u003eboom\u003c/b\u003e","{\"code\":7}"]}`,
		`{"id":2,"phase":"processing","state":"succeeded","attempts":1,"worker":"w","time":1.5,"input":"u2","output":"two","errors":[]}`,
		`{"id":3,"phase":"processing","state":"waiting","attempts":1,"worker":null,"time":0,"input":"u3","output":null,"errors":["oops"]}`,
		`{"id":4,"phase":"processing","state":"running","attempts":0,"worker":"w2","time":0,"input":"u4","output":null,"errors":[]}`,
		`{"id":5,"phase":"processing","state":"queued","attempts":0,"worker":null,"time":0,"input":"u5","output":null,"errors":[]}`,
	}
	jobWant := `{"id":1,"color":"f75849","status":"processing","percent_complete":40,"work_units":5,"time_taken":T,` +
		`"action":"graphics_magick","created_at":C,"options":{"k":"v"}}`
	for _, c := range []struct {
		query              string
		page, per, from, n int
	}{
		{"", 1, 100, 0, 5},
		{"?per_page=2", 1, 2, 0, 2},
		{"?page=2&per_page=2", 2, 2, 2, 2},
		{"?page=3&per_page=2", 3, 2, 4, 1},
		{"?page=4&per_page=2", 4, 2, 5, 0},
		{"?per_page=100000", 1, 1000, 0, 5}, // capped
	} {
		path := "/console/jobs/1" + c.query
		r := s.do(t, "GET", path, nil)
		var d jobDetailDoc
		decodeStrict(t, "GET "+path, r, &d)
		if keys := topKeys(t, r.Body); !slices.Equal(keys, []string{"job", "units_total", "page", "per_page", "units"}) {
			t.Fatalf("GET %s keys %v", path, keys)
		}
		// The job was created before the clock moved three minutes on.
		job := maskNumber(t, string(d.Job), "time_taken", 170, 300, "T")
		if job = maskCreatedAt(t, job, start, time.Now()); job != jobWant {
			t.Errorf("GET %s job\n got %s\nwant %s", path, job, jobWant)
		}
		if d.UnitsTotal != 5 || d.Page != c.page || d.PerPage != c.per {
			t.Errorf("GET %s: units_total %d page %d per_page %d, want 5 %d %d", path, d.UnitsTotal, d.Page, d.PerPage, c.page, c.per)
		}
		if got, want := rawStrings(d.Units), units[c.from:c.from+c.n]; !slices.Equal(got, want) {
			t.Errorf("GET %s units\n got %s\nwant %s", path, got, want)
		}
	}
	// w2 reports: unit 4 is no longer running, and names who ran it.
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "w2", "succeeded", `{"output":4}`, ""))
	if got, want := string(s.jobDetail(t, "/console/jobs/1?page=4&per_page=1").Units[0]),
		`{"id":4,"phase":"processing","state":"succeeded","attempts":1,"worker":"w2","time":0,"input":"u4","output":4,"errors":[]}`; got != want {
		t.Errorf("unit 4 after its report\n got %s\nwant %s", got, want)
	}

	for _, p := range []string{"/console/jobs/99", "/console/jobs/abc", "/console/jobs/0", "/console/jobs/-1", "/console/jobs/1.0"} {
		wantError(t, "GET "+p, s.do(t, "GET", p, nil), 404)
	}
	for _, q := range []string{"?page=0", "?per_page=0", "?page=x", "?per_page=-2"} {
		wantError(t, "GET /console/jobs/1"+q, s.do(t, "GET", "/console/jobs/1"+q, nil), 400)
	}
	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	wantError(t, "GET /console/jobs/1 after DELETE", s.do(t, "GET", "/console/jobs/1", nil), 404)
}

// The units of each phase of a split and merged job.
func TestConsoleJobDetailPhases(t *testing.T) {
	s := startServer(t, nil)
	const pp = "process_pdfs"
	s.mustCreate(t, `{"action":"process_pdfs","inputs":["doc"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(1, 1, "doc", 0, pp, 4))
	if d := s.jobDetail(t, "/console/jobs/1"); !slices.Equal(rawStrings(d.Units), []string{
		`{"id":1,"phase":"splitting","state":"running","attempts":0,"worker":"w","time":0,"input":"doc","output":null,"errors":[]}`,
	}) {
		t.Fatalf("while splitting: %s", rawStrings(d.Units))
	}
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":["p1","p2"]}`, ""))
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(2, 1, "p1", 0, pp, 1))
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":"P1"}`, ""))
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(3, 1, "p2", 0, pp, 1))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w", "succeeded", `{"output":"P2"}`, ""))
	split := `{"id":1,"phase":"splitting","state":"succeeded","attempts":1,"worker":"w","time":0,"input":"doc","output":["p1","p2"],"errors":[]}`
	p1 := `{"id":2,"phase":"processing","state":"succeeded","attempts":1,"worker":"w","time":0,"input":"p1","output":"P1","errors":[]}`
	p2 := `{"id":3,"phase":"processing","state":"succeeded","attempts":1,"worker":"w","time":0,"input":"p2","output":"P2","errors":[]}`
	d := s.jobDetail(t, "/console/jobs/1")
	want := []string{split, p1, p2,
		`{"id":4,"phase":"merging","state":"queued","attempts":0,"worker":null,"time":0,"input":"[\"P1\",\"P2\"]","output":null,"errors":[]}`}
	if got := rawStrings(d.Units); !slices.Equal(got, want) || d.UnitsTotal != 4 {
		t.Fatalf("while merging (units_total %d)\n got %s\nwant %s", d.UnitsTotal, got, want)
	}
	if !strings.Contains(string(d.Job), `"status":"merging","percent_complete":99,"work_units":1,`) {
		t.Errorf("job while merging: %s", d.Job)
	}
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(4, 1, `["P1","P2"]`, 0, pp, 5))
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "w", "succeeded", `{"output":"final"}`, ""))
	d = s.jobDetail(t, "/console/jobs/1")
	want[3] = `{"id":4,"phase":"merging","state":"succeeded","attempts":1,"worker":"w","time":0,"input":"[\"P1\",\"P2\"]","output":"final","errors":[]}`
	if got := rawStrings(d.Units); !slices.Equal(got, want) {
		t.Fatalf("when complete\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(d.Job), `"status":"succeeded","percent_complete":100,"work_units":0,`) ||
		!strings.Contains(string(d.Job), `"outputs":["final"]`) {
		t.Errorf("job when complete: %s", d.Job)
	}
}

func TestConsoleRetryFailedJob(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 1 })
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`) // units 1, 2
	s.mustCreate(t, `{"action":"word_count","inputs":["c"]}`)          // job 2, processing
	wantJSON(t, "POST /work", s.take(t, "w", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"A"}`, gm), unitJSON(2, 1, "b", 0, gm, 1))
	wantNoContent(t, "PUT /work/2 failed", s.report(t, 2, "w", "failed", `{"output":"bad"}`, gm))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","bad"]}`)
	if d := s.jobDetail(t, "/console/jobs/1?page=2&per_page=1"); !slices.Equal(rawStrings(d.Units), []string{
		`{"id":2,"phase":"processing","state":"failed","attempts":1,"worker":"w","time":0,"input":"b","output":"bad","errors":["bad"]}`,
	}) {
		t.Fatalf("the failed unit: %s", rawStrings(d.Units))
	}

	wantError(t, "retry a processing job", s.do(t, "POST", "/console/jobs/2/retry", nil), 409)
	wantError(t, "retry an unknown job", s.do(t, "POST", "/console/jobs/99/retry", nil), 404)
	wantError(t, "retry job abc", s.do(t, "POST", "/console/jobs/abc/retry", nil), 404)
	wantError(t, "GET on the retry route", s.do(t, "GET", "/console/jobs/1/retry", nil), 405)

	wantJSON(t, "POST /console/jobs/1/retry", s.do(t, "POST", "/console/jobs/1/retry", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":50,"work_units":2,"time_taken":T}`)
	wantError(t, "retry it again while it runs", s.do(t, "POST", "/console/jobs/1/retry", nil), 409)
	wantJSON(t, "POST /work after the retry", s.take(t, "w", gm), unitJSON(2, 1, "b", 0, gm, 1))
	if d := s.jobDetail(t, "/console/jobs/1?page=2&per_page=1"); !strings.HasPrefix(string(d.Units[0]),
		`{"id":2,"phase":"processing","state":"running","attempts":0,"worker":"w","time":0,"input":"b","output":null,`) {
		t.Fatalf("the retried unit: %s", d.Units[0])
	}
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":"B"}`, gm))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","B"]}`)
	wantError(t, "retry a succeeded job", s.do(t, "POST", "/console/jobs/1/retry", nil), 409)
	s.summaryEventually(t, counts{
		Jobs:    map[string]int{"processing": 1, "succeeded": 1, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 1, "total": 2},
		Units:   map[string]int{"ready": 1, "leased": 0, "waiting": 0, "incomplete": 1},
		Workers: 1, Paused: []string{},
	})
}

// workerDoc is one worker of GET /console/workers.
type workerDoc struct {
	Name            string   `json:"name"`
	Status          *string  `json:"status"`
	ThreadStatus    string   `json:"thread_status"`
	Unit            *unitDoc `json:"unit"`
	LastSeen        float64  `json:"last_seen"`
	CheckInInterval *float64 `json:"check_in_interval"`
}

func TestConsoleWorkers(t *testing.T) {
	s := startServer(t, nil)
	before := time.Now()
	wantJSON(t, "GET /console/workers with none", s.do(t, "GET", "/console/workers", nil), `[]`)
	s.mustCreate(t, `{"action":"word_count","inputs":["<a>"],"options":{"lang":"en"}}`)
	wantNoContent(t, "PUT /worker w1", s.do(t, "PUT", "/worker", form("name", "w1", "thread_status", "sleeping", "check_in_interval", "30")))
	u := decodeUnit(t, "POST /work by w2", s.take(t, "w2", "word_count"))
	after := time.Now()

	r := s.do(t, "GET", "/console/workers", nil)
	var ws []workerDoc
	decodeStrict(t, "GET /console/workers", r, &ws)
	if len(ws) != 2 || ws[0].Name != "w2" || ws[1].Name != "w1" {
		t.Fatalf("GET /console/workers = %s, want w2 then w1", r.Body)
	}
	for _, w := range ws {
		if w.LastSeen < unix(before)-1 || w.LastSeen > unix(after)+1 {
			t.Errorf("%s: last_seen %f, want it within [%f, %f]", w.Name, w.LastSeen, unix(before), unix(after))
		}
	}
	w1, w2 := ws[1], ws[0]
	if w1.Status != nil || w1.ThreadStatus != "sleeping" || w1.Unit != nil || w1.CheckInInterval == nil || *w1.CheckInInterval != 30 {
		t.Errorf("w1 = %s", r.Body)
	}
	want := unitDoc{ID: 1, JobID: 1, Input: "<a>", Attempts: 0, Action: "word_count", Options: json.RawMessage(`{"lang":"en"}`), Status: 1}
	if w2.Status == nil || *w2.Status != "processing" || w2.ThreadStatus != "" || w2.Unit == nil ||
		!reflect.DeepEqual(*w2.Unit, want) || !reflect.DeepEqual(u, want) || w2.CheckInInterval != nil {
		t.Errorf("w2 = %s, want status processing, unit %+v, check_in_interval null", r.Body, want)
	}
	// The raw document: the unit as GET /worker/:name shows it, HTML escaped.
	if !strings.Contains(r.Body, `"unit":{"id":1,"job_id":1,"input":"\u003ca\u003e","attempts":0,"action":"word_count","options":{"lang":"en"},"status":1}`) {
		t.Errorf("GET /console/workers = %s", r.Body)
	}

	// w2 reports and goes idle; w1 takes the merge unit.
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w2", "succeeded", `{"output":1}`, ""))
	wantNoContent(t, "PUT /worker w1", s.do(t, "PUT", "/worker", form("name", "w1", "thread_status", "working")))
	decodeUnit(t, "POST /work by w1", s.take(t, "w1", "word_count"))
	r = s.do(t, "GET", "/console/workers", nil)
	ws = nil
	decodeStrict(t, "GET /console/workers", r, &ws)
	if len(ws) != 2 || ws[0].Name != "w2" || ws[0].Unit != nil || ws[0].Status != nil ||
		ws[1].Name != "w1" || ws[1].ThreadStatus != "working" || ws[1].Status == nil || *ws[1].Status != "merging" ||
		ws[1].Unit == nil || ws[1].Unit.ID != 2 || ws[1].Unit.Status != 5 || ws[1].CheckInInterval != nil {
		t.Errorf("after the report: %s", r.Body)
	}
	// A checked-out worker leaves the list.
	wantNoContent(t, "check out w2", s.do(t, "PUT", "/worker", form("name", "w2", "terminated", "true")))
	r = s.do(t, "GET", "/console/workers", nil)
	ws = nil
	decodeStrict(t, "GET /console/workers", r, &ws)
	if len(ws) != 1 || ws[0].Name != "w1" {
		t.Errorf("after w2 checked out: %s", r.Body)
	}
}

func TestConsoleHistory(t *testing.T) {
	s := startServer(t, nil)
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b","c"]}`)
	s.mustCreate(t, `{"action":"word_count","inputs":["d"]}`)
	decodeUnit(t, "POST /work by w1", s.take(t, "w1", gm))
	wantNoContent(t, "PUT /worker w2", s.do(t, "PUT", "/worker", form("name", "w2")))
	start := time.Now()
	var h struct {
		Step   int         `json:"step"`
		Points [][]float64 `json:"points"`
	}
	// 3 units queued, 1 leased, 2 workers.
	pollUntil(t, 10*time.Second, "a history point with 3 queued, 1 leased and 2 workers", func() (bool, string) {
		r := s.do(t, "GET", "/console/history", nil)
		h.Points = nil
		decodeStrict(t, "GET /console/history", r, &h)
		if len(h.Points) < 2 {
			return false, r.Body
		}
		p := h.Points[len(h.Points)-1]
		return len(p) == 5 && p[1] == 3 && p[2] == 1 && p[4] == 2, r.Body
	})
	if h.Step != 1 {
		t.Errorf("step = %d, want 1", h.Step)
	}
	for i, p := range h.Points {
		if len(p) != 5 {
			t.Fatalf("point %d has %d numbers: %v", i, len(p), p)
		}
		if p[0] < unix(start)-15 || p[0] > unix(time.Now())+1 || p[0] != math.Trunc(p[0]) {
			t.Errorf("point %d: time %f is not a whole second near now", i, p[0])
		}
		if i > 0 && p[0] < h.Points[i-1][0] {
			t.Errorf("point %d is older than point %d", i, i-1)
		}
		for k := 1; k < 5; k++ {
			if p[k] < 0 || math.IsNaN(p[k]) {
				t.Errorf("point %d: value %d is %f", i, k, p[k])
			}
		}
	}
	// A unit done shows as units per second in a later point.
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w1", "succeeded", `{"output":1}`, gm), unitJSON(2, 1, "b", 0, gm, 1))
	pollUntil(t, 10*time.Second, "a point with a rate above 0, then 2 queued and 1 leased", func() (bool, string) {
		r := s.do(t, "GET", "/console/history", nil)
		h.Points = nil
		decodeStrict(t, "GET /console/history", r, &h)
		rated := false
		for _, p := range h.Points {
			rated = rated || p[3] > 0
		}
		last := h.Points[len(h.Points)-1]
		return rated && last[1] == 2 && last[2] == 1 && last[4] == 2, r.Body
	})
}

// User text reaches the console only inside JSON strings, with <, > and &
// escaped, so no document can close a <script> or open a tag.
func TestConsoleJSONEscapesHTML(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 2 })
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["<script>alert(1)</script>","b&c"],`+
		`"options":{"<b>":"</script><script>alert(2)</script>","x":"a&b"},"callback_url":"http://127.0.0.1:1/cb?a=<x>&b=1"}`)
	decodeUnit(t, "POST /work", s.take(t, "w", gm))
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"<img src=x onerror=alert(3)>"}`, ""))
	if u := decodeUnit(t, "POST /work", s.takeEventually(t, "w", gm)); u.ID != 1 || u.Input != "<script>alert(1)</script>" {
		t.Fatalf("got %+v, want unit 1 again", u)
	}
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"<i>done</i>"}`, ""))
	decodeUnit(t, "POST /work by w2", s.take(t, "w2", gm)) // unit 2, held

	for _, path := range []string{"/console/jobs/1", "/console/jobs?filter=all", "/console/workers", "/console/summary"} {
		r := s.do(t, "GET", path, nil)
		if r.Code != 200 || !json.Valid([]byte(r.Body)) {
			t.Fatalf("GET %s = %d %s", path, r.Code, r.Body)
		}
		if strings.ContainsAny(r.Body, "<>&") {
			t.Errorf("GET %s holds raw < > or &: %s", path, r.Body)
		}
	}
	d := s.jobDetail(t, "/console/jobs/1")
	if got, want := string(d.Units[0]), `{"id":1,"phase":"processing","state":"succeeded","attempts":2,"worker":"w","time":0,`+
		`"input":"\u003cscript\u003ealert(1)\u003c/script\u003e","output":"\u003ci\u003edone\u003c/i\u003e",`+
		`"errors":["\u003cimg src=x onerror=alert(3)\u003e"]}`; got != want {
		t.Errorf("unit 1\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(d.Job), `"options":{"\u003cb\u003e":"\u003c/script\u003e\u003cscript\u003ealert(2)\u003c/script\u003e","x":"a\u0026b"}`) ||
		!strings.Contains(string(d.Job), `"callback_url":"http://127.0.0.1:1/cb?a=\u003cx\u003e\u0026b=1"`) {
		t.Errorf("job: %s", d.Job)
	}
	if !strings.Contains(string(d.Units[1]), `"input":"b\u0026c"`) {
		t.Errorf("unit 2: %s", d.Units[1])
	}
	// The decoded values are the text as given.
	var opts map[string]string
	var job struct {
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(d.Job, &job); err != nil || json.Unmarshal(job.Options, &opts) != nil ||
		opts["<b>"] != "</script><script>alert(2)</script>" || opts["x"] != "a&b" {
		t.Errorf("options decode to %v (%v)", opts, err)
	}
}

// With authentication on, the console's routes, its files and /metrics
// refuse a request without credentials.
func TestConsoleRoutesNeedAuthentication(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.opts.Login, c.opts.Password = "admin", "s3cret"
		c.opts.Metrics = metrics.New()
	})
	routes := [][2]string{
		{"GET", "/console/summary"}, {"GET", "/console/jobs"}, {"GET", "/console/jobs?filter=all"},
		{"GET", "/console/jobs/1"}, {"POST", "/console/jobs/1/retry"}, {"GET", "/console/workers"},
		{"GET", "/console/history"}, {"GET", "/blacklist"}, {"POST", "/blacklist?action=word_count"},
		{"DELETE", "/blacklist/word_count"}, {"GET", "/metrics"}, {"GET", "/"}, {"GET", "/console/static/index.html"},
		{"GET", "/console/static/nope.css"},
	}
	if _, err := fs.Stat(webui.Files(), "app.css"); err == nil {
		routes = append(routes, [2]string{"GET", "/console/static/app.css"})
	}
	for _, rt := range routes {
		for _, set := range []func(*http.Request){
			func(r *http.Request) { r.Header.Del("Authorization") },
			func(r *http.Request) { r.SetBasicAuth("admin", "wrong") },
		} {
			r := s.rawRequest(t, rt[0], rt[1], "", nil, set)
			if r.Code != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="CloudCrowd"` {
				t.Errorf("%s %s without good credentials = %d %q, want 401", rt[0], rt[1], r.Code, r.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(r.Body, "crowd_") || strings.Contains(r.Body, "<html") {
				t.Errorf("%s %s answered 401 with content: %.200s", rt[0], rt[1], r.Body)
			}
		}
	}
	// Nothing was paused by the refused requests; with credentials they work.
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)
	for _, p := range []string{"/console/summary", "/console/jobs", "/console/workers", "/console/history", "/metrics"} {
		if r := s.do(t, "GET", p, nil); r.Code != 200 {
			t.Errorf("GET %s with credentials = %d %s", p, r.Code, r.Body)
		}
	}
	if _, err := fs.Stat(webui.Files(), "app.css"); err == nil {
		if r := s.do(t, "GET", "/console/static/app.css", nil); r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
			t.Errorf("GET /console/static/app.css with credentials = %d %q", r.Code, r.Header.Get("Content-Type"))
		}
	}
}

// The console polls several routes at once while workers report: every
// answer stays well formed and the race detector stays quiet (pages once
// shared the index's own slice, which the next query compacted).
func TestConsoleConcurrentReadsWhileJobsComplete(t *testing.T) {
	s := startServer(t, nil)
	const gm = "graphics_magick"
	const jobs = 40
	for range jobs {
		s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, path := range []string{"/console/jobs", "/console/jobs?per_page=5&page=2", "/console/summary", "/status", "/console/jobs?filter=all"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := s.do(t, "GET", path, nil)
				if r.Code != 200 || !json.Valid([]byte(r.Body)) {
					t.Errorf("GET %s = %d %s", path, r.Code, r.Body)
					return
				}
				if path == "/console/jobs" {
					var p jobPage
					if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
						t.Errorf("GET %s: %v", path, err)
						return
					}
					// Incomplete jobs are listed oldest first, each once.
					last := int64(0)
					for _, raw := range p.Jobs {
						var j struct{ ID int64 }
						json.Unmarshal(raw, &j)
						if j.ID <= last {
							t.Errorf("GET %s lists job %d after job %d: %s", path, j.ID, last, r.Body)
							return
						}
						last = j.ID
					}
				}
			}
		}()
	}
	for range jobs {
		u := decodeUnit(t, "POST /work", s.takeEventually(t, "w", gm))
		wantNoContent(t, "PUT /work", s.report(t, u.ID, "w", "succeeded", `{"output":1}`, ""))
	}
	close(stop)
	wg.Wait()
}

// A page number so large that (page-1)*per_page would overflow is past the
// end of every list: an empty page or a 400, answered at once (such pages
// used to panic the directory or job actor and answer 503 after
// request_timeout).
func TestConsoleHugePageNumbers(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.RequestTimeout = 2 * time.Second })
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	for _, p := range []string{
		"/console/jobs?page=9223372036854775807",
		"/console/jobs?filter=all&page=9223372036854775807",
		"/console/jobs?filter=complete&page=9223372036854775807",
		"/console/jobs?page=4611686018427387904&per_page=2",
		"/console/jobs/1?page=9223372036854775807",
		"/console/jobs/1?page=4611686018427387904&per_page=4",
	} {
		r := s.do(t, "GET", p, nil)
		if r.Code == 400 {
			wantError(t, "GET "+p, r, 400)
			continue
		}
		var doc struct {
			Jobs  []json.RawMessage `json:"jobs"`
			Units []json.RawMessage `json:"units"`
		}
		if r.Code != 200 || json.Unmarshal([]byte(r.Body), &doc) != nil || len(doc.Jobs) != 0 || len(doc.Units) != 0 {
			t.Errorf("GET %s = %d %s, want an empty page or a 400", p, r.Code, r.Body)
		}
	}
}

// Retrying a job whose merge unit failed runs the merge again.
func TestConsoleRetryFailedMerge(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 1 })
	const wc = "word_count"
	s.mustCreate(t, `{"action":"word_count","inputs":["a b","c"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", wc), unitJSON(1, 1, "a b", 0, wc, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":2}`, wc), unitJSON(2, 1, "c", 0, wc, 1))
	wantJSON(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":1}`, wc), unitJSON(3, 1, "[2,1]", 0, wc, 5))
	wantNoContent(t, "PUT /work/3 failed", s.report(t, 3, "w", "failed", `{"output":"merge broke"}`, wc))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["merge broke"]}`)
	wantJSON(t, "POST /console/jobs/1/retry", s.do(t, "POST", "/console/jobs/1/retry", nil),
		`{"id":1,"color":"f75849","status":"merging","percent_complete":99,"work_units":1,"time_taken":T}`)
	wantJSON(t, "POST /work", s.take(t, "w", wc), unitJSON(3, 1, "[2,1]", 0, wc, 5))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w", "succeeded", `{"output":3}`, wc))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[3]}`)
}

// Retrying a job whose split failed splits that input again; the outputs
// keep the order of the inputs.
func TestConsoleRetryFailedSplit(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.WorkUnitRetries = 1 })
	const pp = "process_pdfs"
	s.mustCreate(t, `{"action":"process_pdfs","inputs":["d1","d2"]}`) // split units 1, 2
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(1, 1, "d1", 0, pp, 4))
	wantJSON(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"unreadable"}`, pp), unitJSON(2, 1, "d2", 0, pp, 4))
	wantJSON(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":["p"]}`, pp), unitJSON(3, 1, "p", 0, pp, 1))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w", "succeeded", `{"output":"P"}`, pp))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["unreadable","P"]}`)
	wantJSON(t, "POST /console/jobs/1/retry", s.do(t, "POST", "/console/jobs/1/retry", nil),
		`{"id":1,"color":"f75849","status":"splitting","percent_complete":0,"work_units":2,"time_taken":T}`)
	wantJSON(t, "POST /work", s.take(t, "w", pp), unitJSON(1, 1, "d1", 0, pp, 4))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":["q1","q2"]}`, pp), unitJSON(4, 1, "q1", 0, pp, 1))
	wantJSON(t, "PUT /work/4", s.report(t, 4, "w", "succeeded", `{"output":"Q1"}`, pp), unitJSON(5, 1, "q2", 0, pp, 1))
	wantJSON(t, "PUT /work/5", s.report(t, 5, "w", "succeeded", `{"output":"Q2"}`, pp), unitJSON(6, 1, `["Q1","Q2","P"]`, 0, pp, 5))
	wantNoContent(t, "PUT /work/6", s.report(t, 6, "w", "succeeded", `{"output":"all"}`, pp))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["all"]}`)
	d := s.jobDetail(t, "/console/jobs/1")
	var phases []string
	for _, u := range d.Units {
		var v struct {
			ID    int64
			Phase string
			State string
		}
		json.Unmarshal(u, &v)
		phases = append(phases, strconv.FormatInt(v.ID, 10)+":"+v.Phase+":"+v.State)
	}
	if want := []string{"1:splitting:succeeded", "2:splitting:succeeded", "3:processing:succeeded", "4:processing:succeeded",
		"5:processing:succeeded", "6:merging:succeeded"}; !slices.Equal(phases, want) {
		t.Errorf("units %v, want %v", phases, want)
	}
}

// A retried job goes back to the incomplete list in its place, and the
// retry and its errors survive a restart, from the log and from a snapshot.
func TestConsoleRetrySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *serverConfig) { c.settings.WorkUnitRetries = 1 }
	s := startWALServer(t, dir, edit)
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`) // 1
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["b"]}`) // 2
	decodeUnit(t, "POST /work", s.take(t, "w", gm))
	wantNoContent(t, "PUT /work/1 failed", s.report(t, 1, "w", "failed", `{"output":"bad <1>"}`, ""))
	wantJSON(t, "POST /console/jobs/1/retry", s.do(t, "POST", "/console/jobs/1/retry", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	const unit1 = `{"id":1,"phase":"processing","state":"queued","attempts":0,"worker":null,"time":0,"input":"a","output":null,"errors":["bad \u003c1\u003e"]}`
	pollUntil(t, 10*time.Second, "jobs 1 and 2 incomplete, in order", func() (bool, string) {
		var p jobPage
		r := s.do(t, "GET", "/console/jobs", nil)
		decodeStrict(t, "GET /console/jobs", r, &p)
		return p.Total == 2 && len(p.Jobs) == 2 && strings.HasPrefix(string(p.Jobs[0]), `{"id":1,`) &&
			strings.HasPrefix(string(p.Jobs[1]), `{"id":2,`), r.Body
	})
	for _, how := range []string{"log", "snapshot"} {
		if how == "snapshot" {
			if err := s.Snap.Take(); err != nil {
				t.Fatal(err)
			}
		}
		s.stop(t)
		s = startWALServer(t, dir, edit)
		if got := s.jobDetail(t, "/console/jobs/1").Units; len(got) != 1 || string(got[0]) != unit1 {
			t.Fatalf("after a restart from the %s: unit 1 %s, want %s", how, rawStrings(got), unit1)
		}
		s.summaryEventually(t, counts{
			Jobs:  map[string]int{"processing": 2, "succeeded": 0, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 2, "total": 2},
			Units: map[string]int{"ready": 2, "leased": 0, "waiting": 0, "incomplete": 2}, Paused: []string{},
		})
	}
	wantJSON(t, "POST /work", s.take(t, "w", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"A"}`, gm), unitJSON(2, 2, "b", 0, gm, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}

// A lease taken back from a silent worker shows on the job page as a failed
// attempt with the reason; with no retries left the job fails, and a retry
// runs the unit again.
func TestConsoleLostLeaseShowsItsReason(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.settings.WorkUnitRetries = 1
		c.settings.WorkerTimeout = time.Second
	})
	const gm = "graphics_magick"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	decodeUnit(t, "POST /work by w1", s.take(t, "w1", gm))
	// w1 goes silent.
	pollUntil(t, 10*time.Second, "the job to fail", func() (bool, string) {
		r := s.do(t, "GET", "/jobs/1", nil)
		return strings.Contains(r.Body, `"status":"failed"`), r.Body
	})
	const reason = "worker w1 stopped checking in"
	if got, want := string(s.jobDetail(t, "/console/jobs/1").Units[0]),
		`{"id":1,"phase":"processing","state":"failed","attempts":1,"worker":null,"time":0,"input":"a","output":"`+reason+`","errors":["`+reason+`"]}`; got != want {
		t.Fatalf("unit 1\n got %s\nwant %s", got, want)
	}
	wantJSON(t, "POST /console/jobs/1/retry", s.do(t, "POST", "/console/jobs/1/retry", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":1,"time_taken":T}`)
	wantJSON(t, "POST /work by w2", s.take(t, "w2", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w2", "succeeded", `{"output":"A"}`, gm))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A"]}`)
}

// A job without inputs has a job page without units.
func TestConsoleJobDetailNoUnits(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"word_count","inputs":[]}`)
	d := s.jobDetail(t, "/console/jobs/1")
	if d.UnitsTotal != 0 || d.Units == nil || len(d.Units) != 0 || d.Page != 1 || d.PerPage != 100 {
		t.Fatalf("job page %+v", d)
	}
	if !strings.Contains(string(d.Job), `"status":"succeeded","percent_complete":100,"work_units":0,`) ||
		!strings.Contains(string(d.Job), `"outputs":[],"action":"word_count",`) {
		t.Errorf("job %s", d.Job)
	}
}

// GET /console/history?since=T answers only the points after T, so a
// polling console moves what is new, not the hour.
func TestConsoleHistorySince(t *testing.T) {
	s := startServer(t, nil)
	type history struct {
		Step   int         `json:"step"`
		Points [][]float64 `json:"points"`
	}
	get := func(what, query string) history {
		t.Helper()
		var h history
		r := s.do(t, "GET", "/console/history"+query, nil)
		decodeStrict(t, what, r, &h)
		if h.Step != 1 || h.Points == nil {
			t.Fatalf("%s: step %d, points %v; want step 1 and a list", what, h.Step, h.Points)
		}
		for _, p := range h.Points {
			if len(p) != 5 {
				t.Fatalf("%s: point %v, want [time, queued, leased, rate, workers]", what, p)
			}
		}
		return h
	}
	var before history
	// Four points, so that since (the second) leaves two or more after it,
	// and neither the newest point alone nor all of them is the answer.
	pollUntil(t, 10*time.Second, "four history points", func() (bool, string) {
		before = get("GET /console/history", "")
		return len(before.Points) >= 4, strconv.Itoa(len(before.Points)) + " points"
	})
	since := before.Points[1][0]
	some := get("GET /console/history?since", "?since="+strconv.FormatFloat(since, 'f', -1, 64))
	after := get("GET /console/history again", "")

	// The history only grows (an hour fits in its ring), so the answer is
	// exactly the points after since: every one of before's (the points
	// at or before since are its first two, unless two samples fell in
	// the same second), then those sampled between the two full reads.
	i := sort.Search(len(after.Points), func(i int) bool { return after.Points[i][0] > since })
	if len(after.Points) < len(before.Points) || !slices.EqualFunc(before.Points, after.Points[:len(before.Points)], slices.Equal) {
		t.Fatalf("the history changed under the test:\nbefore %v\nafter  %v", before.Points, after.Points)
	}
	if i < 2 || i > len(before.Points) {
		t.Fatalf("%d points at or before since %v in %v; want the first two, or more of the same second", i, since, before.Points)
	}
	if n := len(some.Points); n < len(before.Points)-i || n > len(after.Points)-i ||
		!slices.EqualFunc(some.Points, after.Points[i:i+n], slices.Equal) {
		t.Fatalf("since %v answered %v; want the points after it, from %v (the history then) to %v (the history after)",
			since, some.Points, before.Points[i:], after.Points[i:])
	}

	// Far ahead of the last point: nothing, as an empty list (not null).
	if future := get("GET /console/history?since=<future>", "?since=99999999999"); len(future.Points) != 0 {
		t.Fatalf("since the future: %v, want no points", future.Points)
	}
	// since=0 is all of them.
	if all := get("GET /console/history?since=0", "?since=0"); len(all.Points) < len(after.Points) ||
		!slices.EqualFunc(all.Points[:len(after.Points)], after.Points, slices.Equal) {
		t.Fatalf("since=0 answered %v, want all of %v and any newer", all.Points, after.Points)
	}
	if r := s.do(t, "GET", "/console/history?since=soon", nil); r.Code != 400 {
		t.Fatalf("since=soon: %d %s", r.Code, r.Body)
	}
}
