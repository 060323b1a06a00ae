package transport

import (
	"os"
	"path/filepath"
	"testing"
)

// splitterDir makes an actions directory with the exec action `splitter`,
// which splits, processes and merges (the coordinator only asks it for its
// phases).
func splitterDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = phases ]; then echo 'split process merge'; exit 0; fi\necho 'not run by the coordinator' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "splitter"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSplitProcessMergeWithExecAction(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.actions = splitterDir(t) })
	const act = "splitter"
	wantJSON(t, "POST /jobs", s.postJob(t, `{"action":"splitter","inputs":["x","y"]}`),
		`{"id":1,"color":"f75849","status":"splitting","percent_complete":0,"work_units":2,"time_taken":T}`)
	wantJSON(t, "POST /work by A", s.take(t, "A", act), unitJSON(1, 1, "x", 0, act, 4))
	wantJSON(t, "POST /work by B", s.take(t, "B", act), unitJSON(2, 1, "y", 0, act, 4))

	// x splits into a, b, c (deeply flattened): units 3, 4, 5, processed at
	// once although y is still splitting. A's answer is its next unit.
	wantJSON(t, "PUT /work/1", s.report(t, 1, "A", "succeeded", `{"output":[["a","b"],"c"]}`, act), unitJSON(3, 1, "a", 0, act, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"splitting","percent_complete":0,"work_units":2,"time_taken":T}`)
	wantJSON(t, "POST /work by C", s.take(t, "C", act), unitJSON(4, 1, "b", 0, act, 1))
	// y splits into d: unit 6. B gets c, the oldest ready unit.
	wantJSON(t, "PUT /work/2", s.report(t, 2, "B", "succeeded", `{"output":["d"]}`, act), unitJSON(5, 1, "c", 0, act, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":4,"time_taken":T}`)
	wantJSON(t, "POST /work by D", s.take(t, "D", act), unitJSON(6, 1, "d", 0, act, 1))
	wantNoContent(t, "POST /work by E", s.take(t, "E", act))

	// Completed out of order: d, b, c, then a.
	wantNoContent(t, "PUT /work/6", s.report(t, 6, "D", "succeeded", `{"output":"D"}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":25,"work_units":4,"time_taken":T}`)
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "C", "succeeded", `{"output":{"b":2}}`, act))
	wantNoContent(t, "PUT /work/5", s.report(t, 5, "B", "succeeded", `{"output":["C"]}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":75,"work_units":4,"time_taken":T}`)
	// The last one makes the merge unit (7) ready, and it is A's answer; its
	// input lists the outputs in split order.
	const merge = `[{"a":1},{"b":2},["C"],"D"]`
	wantJSON(t, "PUT /work/3", s.report(t, 3, "A", "succeeded", `{"output":{"a":1}}`, act), unitJSON(7, 1, merge, 0, act, 5))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"merging","percent_complete":99,"work_units":1,"time_taken":T}`)
	wantNoContent(t, "PUT /work/7", s.report(t, 7, "A", "succeeded", `{"output":{"merged":4}}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[{"merged":4}]}`)
}

// Processing units of an earlier split come first in the merge input even
// when the later split finished first.
func TestSplitOrderIsInputOrderNotFinishOrder(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.actions = splitterDir(t) })
	const act = "splitter"
	s.mustCreate(t, `{"action":"splitter","inputs":["x","y"]}`)
	wantJSON(t, "POST /work by A", s.take(t, "A", act), unitJSON(1, 1, "x", 0, act, 4))
	wantJSON(t, "POST /work by B", s.take(t, "B", act), unitJSON(2, 1, "y", 0, act, 4))
	// y finishes first: its children get the lower ids.
	wantJSON(t, "PUT /work/2", s.report(t, 2, "B", "succeeded", `{"output":["y1","y2"]}`, act), unitJSON(3, 1, "y1", 0, act, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "A", "succeeded", `{"output":["x1"]}`, act), unitJSON(4, 1, "y2", 0, act, 1))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":3,"time_taken":T}`)
	wantJSON(t, "POST /work by C", s.take(t, "C", act), unitJSON(5, 1, "x1", 0, act, 1))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "B", "succeeded", `{"output":"Y1"}`, act))
	wantNoContent(t, "PUT /work/4", s.report(t, 4, "A", "succeeded", `{"output":"Y2"}`, act))
	wantJSON(t, "PUT /work/5", s.report(t, 5, "C", "succeeded", `{"output":"X1"}`, act), unitJSON(6, 1, `["X1","Y1","Y2"]`, 0, act, 5))
	wantNoContent(t, "PUT /work/6", s.report(t, 6, "C", "succeeded", `{"output":3}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[3]}`)
}

// Splits that return nothing complete the job at once, with no merge.
func TestSplitsReturningNothing(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.actions = splitterDir(t) })
	const act = "splitter"
	s.mustCreate(t, `{"action":"splitter","inputs":["x","y"]}`)
	wantJSON(t, "POST /work", s.take(t, "A", act), unitJSON(1, 1, "x", 0, act, 4))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "A", "succeeded", `{"output":[]}`, act), unitJSON(2, 1, "y", 0, act, 4))
	wantNoContent(t, "PUT /work/2", s.report(t, 2, "A", "succeeded", `{"output":[[],[]]}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[]}`)
	wantNoContent(t, "POST /work", s.take(t, "A", act))
}

// A split that fails for good fails the job; its error stands for its
// children in outputs.
func TestSplitFailure(t *testing.T) {
	s := startServer(t, func(c *serverConfig) {
		c.actions = splitterDir(t)
		c.settings.WorkUnitRetries = 1
	})
	const act = "splitter"
	s.mustCreate(t, `{"action":"splitter","inputs":["x","y"]}`)
	wantJSON(t, "POST /work", s.take(t, "A", act), unitJSON(1, 1, "x", 0, act, 4))
	wantJSON(t, "PUT /work/1 failed", s.report(t, 1, "A", "failed", `{"output":"cannot split x"}`, act), unitJSON(2, 1, "y", 0, act, 4))
	wantJSON(t, "PUT /work/2", s.report(t, 2, "A", "succeeded", `{"output":["y1"]}`, act), unitJSON(3, 1, "y1", 0, act, 1))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "A", "succeeded", `{"output":"Y1"}`, act))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"failed","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["cannot split x","Y1"]}`)
	wantNoContent(t, "POST /work (no merge)", s.take(t, "A", act))
}
