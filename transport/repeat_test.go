package transport

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/documentcloud/crowd/persistence"
)

// CloudCrowd 0.1's worker, once its clean-up raises after a recorded
// report, sends the same PUT /work/:id again every 5 s; any worker whose
// answer is lost does the same. The repeat is answered as the first was.
func TestRepeatedReportOverHTTP(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	failed := `{"output":"could not download a"}`
	first := s.report(t, 1, "w", "failed", failed, "graphics_magick")
	wantJSON(t, "PUT /work/1 failed", first, unitJSON(2, 1, "b", 0, "graphics_magick", 1))
	records := s.Journal.(*persistence.Memory).Len()
	for i := range 3 {
		wantJSON(t, "PUT /work/1 failed, repeated "+strconv.Itoa(i+1)+" times", s.report(t, 1, "w", "failed", failed, "graphics_magick"), first.Body)
	}
	wantError(t, "PUT /work/1 succeeded (another status)", s.report(t, 1, "w", "succeeded", `{"output":"x"}`, "graphics_magick"), 409)
	wantError(t, "PUT /work/1 failed by another worker", s.report(t, 1, "v", "failed", failed, "graphics_magick"), 409)
	if n := s.Journal.(*persistence.Memory).Len(); n != records {
		t.Fatalf("the repeats took the log from %d records to %d", records, n)
	}
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":2,"time_taken":T}`)
}

// A worker loop that sends every report twice, failing every tenth unit's
// first attempt, still finishes a 1,000-unit job with exact outputs: each
// repeat gets the first answer, and nothing is recorded twice.
func TestWorkerThatRepeatsEveryReport(t *testing.T) {
	s := startServer(t, nil)
	const n = 1000
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = strconv.Itoa(i)
	}
	doc, _ := json.Marshal(map[string]any{"action": "graphics_magick", "inputs": inputs})
	job := s.mustCreate(t, string(doc))

	failedOnce := map[string]bool{}
	r := s.take(t, "w", "graphics_magick")
	for r.Code == 200 {
		u := decodeUnit(t, "the unit", r)
		status, output := "succeeded", `{"output":`+u.Input+`}`
		if i, _ := strconv.Atoi(u.Input); i%10 == 0 && !failedOnce[u.Input] {
			failedOnce[u.Input] = true
			status, output = "failed", `{"output":"try again"}`
		}
		path := "PUT /work/" + strconv.FormatInt(u.ID, 10)
		r = s.report(t, u.ID, "w", status, output, "graphics_magick")
		if r.Code != 200 && r.Code != 204 {
			t.Fatalf("%s %s = %d %s", path, status, r.Code, r.Body)
		}
		again := s.report(t, u.ID, "w", status, output, "graphics_magick")
		if again.Code != r.Code || again.Body != r.Body {
			t.Fatalf("%s %s repeated = %d %s; the first answer was %d %s", path, status, again.Code, again.Body, r.Code, r.Body)
		}
	}
	if r.Code != 204 {
		t.Fatalf("the loop ended with %d %s", r.Code, r.Body)
	}
	got := s.do(t, "GET", "/jobs/"+strconv.FormatInt(job, 10), nil)
	var view struct {
		Status  string `json:"status"`
		Outputs []int  `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(got.Body), &view); err != nil {
		t.Fatalf("GET /jobs/%d: %v: %s", job, err, got.Body)
	}
	if view.Status != "succeeded" || len(view.Outputs) != n {
		t.Fatalf("the job: %s with %d outputs, want succeeded with %d", view.Status, len(view.Outputs), n)
	}
	for i, o := range view.Outputs {
		if o != i {
			t.Fatalf("output %d = %d, want %d", i, o, i)
		}
	}
	// One creation, a success per unit and the hundred first failures.
	if got, want := s.Journal.(*persistence.Memory).Len(), int64(1+n+n/10); got != want {
		t.Fatalf("%d records in the log, want %d", got, want)
	}
}
