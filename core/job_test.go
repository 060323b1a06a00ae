package core

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

const (
	sec = int64(1e9)
	ms  = int64(1e6)
	t0  = 1_700_000_000 * sec // creation time of every test job
)

// counter hands out unit ids like the shell does and remembers each
// reservation as {n, first}.
type counter struct {
	next  int64
	calls [][2]int64
}

func (c *counter) NewUnits(n int) int64 {
	first := c.next
	c.next += int64(n)
	c.calls = append(c.calls, [2]int64{int64(n), first})
	return first
}

// colors are the known console colours of the job ids the tests use.
var colors = map[int64]string{1: "f75849", 2: "c14862", 11: "2652dc", 42: "4ac58a"}

// doc is the Job JSON the tests expect; outputs "" means none.
func doc(id int64, status string, pct, units int, taken, outputs string) string {
	s := `{"id":` + strconv.FormatInt(id, 10) + `,"color":"` + colors[id] + `","status":"` + status +
		`","percent_complete":` + strconv.Itoa(pct) + `,"work_units":` + strconv.Itoa(units) +
		`,"time_taken":` + taken
	if outputs != "" {
		s += `,"outputs":` + outputs
	}
	return s + "}"
}

func viewJSON(j *Job, now int64) string {
	v := j.View(now)
	return string(v.AppendJSON(nil))
}

// ready lists new units with consecutive ids from first.
func ready(status Status, first int64, inputs ...string) []Ready {
	r := make([]Ready, len(inputs))
	for i, in := range inputs {
		r[i] = Ready{ID: first + int64(i), Input: in, Status: status}
	}
	return r
}

// run drives a job the way the job actor does (decide, then apply) and
// records every event, for replay.
type run struct {
	t      *testing.T
	job    *Job
	ids    *counter
	events []Event
}

func start(t *testing.T, ev *JobCreated, next int64) (*run, Effects) {
	t.Helper()
	j, fx := NewJob(ev)
	return &run{t: t, job: j, ids: &counter{next: next}}, fx
}

// do performs one scripted action: "ok" and "fail" report an attempt with
// output arg, "lose" loses the unit with reason arg, "other" lets another
// job reserve unit ids.
func (r *run) do(op string, unit int64, arg string, at int64) Effects {
	r.t.Helper()
	var ev Event
	var err error
	switch op {
	case "ok", "fail":
		var fin UnitFinished
		before := r.ids.next
		fin, err = r.job.Finish(unit, op == "ok", []byte(arg), 0.5, at, r.ids)
		if err == nil && fin.FirstNew != 0 && fin.FirstNew != before {
			r.t.Fatalf("Finish reserved ids from %d, counter was at %d", fin.FirstNew, before)
		}
		ev = &fin
	case "lose":
		ev, err = r.job.Lose(unit, arg, at)
	case "other":
		r.ids.NewUnits(int(unit))
		return Effects{}
	default:
		r.t.Fatalf("unknown op %q", op)
	}
	if err != nil {
		r.t.Fatalf("%s unit %d: %v", op, unit, err)
	}
	return r.apply(ev)
}

func (r *run) apply(ev Event) Effects {
	r.t.Helper()
	fx, err := r.job.Apply(ev)
	if err != nil {
		r.t.Fatalf("Apply(%#v): %v", ev, err)
	}
	r.events = append(r.events, ev)
	// New units take ids the decision reserved, in order.
	if fin, ok := ev.(*UnitFinished); ok && len(fx.Ready) > 0 {
		for i, rd := range fx.Ready {
			if rd.ID != fin.FirstNew+int64(i) {
				r.t.Fatalf("new unit %d has id %d, want %d", i, rd.ID, fin.FirstNew+int64(i))
			}
		}
		if last := fx.Ready[len(fx.Ready)-1].ID; last >= r.ids.next {
			r.t.Fatalf("new unit id %d was never reserved (counter at %d)", last, r.ids.next)
		}
	}
	return fx
}

func (r *run) unit(id int64) Unit {
	for _, u := range r.job.Units() {
		if u.ID == id {
			return u
		}
	}
	r.t.Fatalf("no unit %d", id)
	return Unit{}
}

type step struct {
	op       string
	unit     int64
	arg      string
	at       int64 // ms after t0
	fx       Effects
	attempts int    // the unit's attempts afterwards; 0: not checked
	view     string // View(t0+at) as JSON
}

type script struct {
	name    string
	created JobCreated // At is t0
	next    int64      // the counter's first id after the job's own
	fx      Effects    // of NewJob
	view    string     // at t0
	steps   []step
	ids     [][2]int64 // every reservation, {n, first}
}

func (s *script) play(t *testing.T) *run {
	t.Helper()
	ev := s.created
	ev.At = t0
	r, fx := start(t, &ev, s.next)
	if !reflect.DeepEqual(fx, s.fx) {
		t.Fatalf("NewJob effects:\n got %+v\nwant %+v", fx, s.fx)
	}
	if got := viewJSON(r.job, t0); got != s.view {
		t.Fatalf("NewJob view:\n got %s\nwant %s", got, s.view)
	}
	for i, st := range s.steps {
		fx := r.do(st.op, st.unit, st.arg, t0+st.at*ms)
		if st.op == "other" {
			continue
		}
		if !reflect.DeepEqual(fx, st.fx) {
			t.Fatalf("step %d (%s %d): effects\n got %+v\nwant %+v", i, st.op, st.unit, fx, st.fx)
		}
		if st.attempts != 0 {
			if got := r.unit(st.unit).Attempts; got != st.attempts {
				t.Fatalf("step %d (%s %d): attempts %d, want %d", i, st.op, st.unit, got, st.attempts)
			}
		}
		if got := viewJSON(r.job, t0+st.at*ms); got != st.view {
			t.Fatalf("step %d (%s %d): view\n got %s\nwant %s", i, st.op, st.unit, got, st.view)
		}
	}
	if !reflect.DeepEqual(r.ids.calls, s.ids) {
		t.Fatalf("id reservations %v, want %v", r.ids.calls, s.ids)
	}
	return r
}

var done = Effects{Changed: true, Completed: true}

var phaseScripts = []script{
	{
		name:    "process only, finished out of order",
		created: JobCreated{Job: 1, Action: "a", Inputs: []string{"a", "b", "c"}, MaxAttempts: 3, FirstUnit: 1},
		next:    100,
		fx:      Effects{Ready: ready(Processing, 1, "a", "b", "c"), Changed: true},
		view:    doc(1, "processing", 0, 3, "0", ""),
		steps: []step{
			{"ok", 3, `"C"`, 1000, Effects{}, 1, doc(1, "processing", 33, 3, "1", "")},
			{"ok", 1, `1`, 2000, Effects{}, 1, doc(1, "processing", 67, 3, "2", "")},
			{"ok", 2, `{"b":2}`, 2500, done, 1, doc(1, "succeeded", 100, 0, "2.5", `[1,{"b":2},"C"]`)},
		},
	},
	{
		name:    "merge input in input order",
		created: JobCreated{Job: 2, Action: "m", Merge: true, Inputs: []string{"x", "y", "z"}, MaxAttempts: 3, FirstUnit: 1},
		next:    10,
		fx:      Effects{Ready: ready(Processing, 1, "x", "y", "z"), Changed: true},
		view:    doc(2, "processing", 0, 3, "0", ""),
		steps: []step{
			{"ok", 2, `"Y"`, 1000, Effects{}, 1, doc(2, "processing", 33, 3, "1", "")},
			{"ok", 3, `"Z"`, 2000, Effects{}, 1, doc(2, "processing", 67, 3, "2", "")},
			{"ok", 1, `"X"`, 3000, Effects{Ready: ready(Merging, 10, `["X","Y","Z"]`), Changed: true}, 1, doc(2, "merging", 99, 1, "3", "")},
			{"ok", 10, `{"total":3}`, 4000, done, 1, doc(2, "succeeded", 100, 0, "4", `[{"total":3}]`)},
		},
		ids: [][2]int64{{1, 10}},
	},
	{
		name:    "merge fails for good",
		created: JobCreated{Job: 42, Action: "m", Merge: true, Inputs: []string{"only"}, MaxAttempts: 2, FirstUnit: 5},
		next:    6,
		fx:      Effects{Ready: ready(Processing, 5, "only"), Changed: true},
		view:    doc(42, "processing", 0, 1, "0", ""),
		steps: []step{
			{"ok", 5, `7`, 1000, Effects{Ready: ready(Merging, 6, `[7]`), Changed: true}, 1, doc(42, "merging", 99, 1, "1", "")},
			{"fail", 6, `"oops"`, 2000, Effects{Retry: &Retry{Unit: 6, Attempts: 1}}, 1, doc(42, "merging", 99, 1, "2", "")},
			{"fail", 6, `"boom"`, 3000, Effects{Settled: 6, Changed: true, Completed: true}, 2, doc(42, "failed", 100, 0, "3", `["boom"]`)},
		},
		ids: [][2]int64{{1, 6}},
	},
	{
		name:    "a process unit fails for good: the others run on, no merge",
		created: JobCreated{Job: 1, Action: "m", Merge: true, Inputs: []string{"a", "b", "c"}, MaxAttempts: 1, FirstUnit: 1},
		next:    50,
		fx:      Effects{Ready: ready(Processing, 1, "a", "b", "c"), Changed: true},
		view:    doc(1, "processing", 0, 3, "0", ""),
		steps: []step{
			{"fail", 2, `"bad b"`, 1000, Effects{Settled: 2}, 1, doc(1, "processing", 33, 3, "1", "")},
			{"ok", 3, `3`, 2000, Effects{}, 1, doc(1, "processing", 67, 3, "2", "")},
			{"ok", 1, `1`, 3000, done, 1, doc(1, "failed", 100, 0, "3", `[1,"bad b",3]`)},
		},
	},
	{
		name:    "split, process before the other split ends, merge in split order",
		created: JobCreated{Job: 11, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2"}, MaxAttempts: 3, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Splitting, 1, "s1", "s2"), Changed: true},
		view:    doc(11, "splitting", 0, 2, "0", ""),
		steps: []step{
			{"ok", 2, `[["c",[["d"]]],null]`, 1000, Effects{Ready: ready(Processing, 3, "c", "d")}, 1, doc(11, "splitting", 0, 2, "1", "")},
			{"ok", 3, `"o3"`, 2000, Effects{}, 1, doc(11, "splitting", 0, 2, "2", "")},
			{"ok", 1, `[[1,2],[3,[4]]]`, 3000, Effects{Ready: ready(Processing, 5, "1", "2", "3", "4"), Changed: true}, 1, doc(11, "processing", 17, 6, "3", "")},
			{"ok", 8, `"o8"`, 4000, Effects{}, 1, doc(11, "processing", 33, 6, "4", "")},
			{"ok", 6, `"o6"`, 5000, Effects{}, 1, doc(11, "processing", 50, 6, "5", "")},
			{"ok", 7, `"o7"`, 6000, Effects{}, 1, doc(11, "processing", 67, 6, "6", "")},
			{"ok", 5, `"o5"`, 7000, Effects{}, 1, doc(11, "processing", 83, 6, "7", "")},
			{"ok", 4, `"o4"`, 8000, Effects{Ready: ready(Merging, 9, `["o5","o6","o7","o8","o3","o4"]`), Changed: true}, 1, doc(11, "merging", 99, 1, "8", "")},
			{"ok", 9, `{"n":6}`, 9000, done, 1, doc(11, "succeeded", 100, 0, "9", `[{"n":6}]`)},
		},
		ids: [][2]int64{{2, 3}, {4, 5}, {1, 9}},
	},
	{
		name:    "split outputs: a string makes one unit, null and [] none",
		created: JobCreated{Job: 2, Action: "s", Split: true, Inputs: []string{"p", "q", "r"}, MaxAttempts: 3, FirstUnit: 1},
		next:    4,
		fx:      Effects{Ready: ready(Splitting, 1, "p", "q", "r"), Changed: true},
		view:    doc(2, "splitting", 0, 3, "0", ""),
		steps: []step{
			{"ok", 1, `"only"`, 1000, Effects{Ready: ready(Processing, 4, "only")}, 1, doc(2, "splitting", 0, 3, "1", "")},
			{"ok", 2, `null`, 1500, Effects{}, 1, doc(2, "splitting", 0, 3, "1.5", "")},
			{"ok", 3, `[]`, 2000, Effects{Changed: true}, 1, doc(2, "processing", 0, 1, "2", "")},
			{"ok", 4, `"done"`, 3000, done, 1, doc(2, "succeeded", 100, 0, "3", `["done"]`)},
		},
		ids: [][2]int64{{1, 4}},
	},
	{
		name:    "every split returns nothing: succeeded with [] and no merge unit",
		created: JobCreated{Job: 42, Action: "s", Split: true, Merge: true, Inputs: []string{"a", "b"}, MaxAttempts: 3, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Splitting, 1, "a", "b"), Changed: true},
		view:    doc(42, "splitting", 0, 2, "0", ""),
		steps: []step{
			{"ok", 1, `[]`, 1000, Effects{}, 1, doc(42, "splitting", 0, 2, "1", "")},
			{"ok", 2, `[[],null]`, 2000, done, 1, doc(42, "succeeded", 100, 0, "2", `[]`)},
		},
	},
	{
		name:    "a split fails for good: its error takes its children's place",
		created: JobCreated{Job: 1, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2"}, MaxAttempts: 1, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Splitting, 1, "s1", "s2"), Changed: true},
		view:    doc(1, "splitting", 0, 2, "0", ""),
		steps: []step{
			{"fail", 1, `"cannot split"`, 1000, Effects{Settled: 1}, 1, doc(1, "splitting", 0, 2, "1", "")},
			{"ok", 2, `["a","b"]`, 2000, Effects{Ready: ready(Processing, 3, "a", "b"), Changed: true}, 1, doc(1, "processing", 0, 2, "2", "")},
			{"ok", 4, `"B"`, 3000, Effects{}, 1, doc(1, "processing", 50, 2, "3", "")},
			{"ok", 3, `"A"`, 4000, done, 1, doc(1, "failed", 100, 0, "4", `["cannot split","A","B"]`)},
		},
		ids: [][2]int64{{2, 3}},
	},
	{
		name:    "the last split ends processing: it reserves the merge unit's id",
		created: JobCreated{Job: 2, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2"}, MaxAttempts: 3, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Splitting, 1, "s1", "s2"), Changed: true},
		view:    doc(2, "splitting", 0, 2, "0", ""),
		steps: []step{
			{"ok", 1, `["x"]`, 1000, Effects{Ready: ready(Processing, 3, "x")}, 1, doc(2, "splitting", 0, 2, "1", "")},
			{op: "other", unit: 10},
			{"ok", 3, `"X"`, 2000, Effects{}, 1, doc(2, "splitting", 0, 2, "2", "")},
			{"ok", 2, `null`, 3000, Effects{Ready: ready(Merging, 14, `["X"]`), Changed: true}, 1, doc(2, "merging", 99, 1, "3", "")},
			{"ok", 14, `"m"`, 4000, done, 1, doc(2, "succeeded", 100, 0, "4", `["m"]`)},
		},
		ids: [][2]int64{{1, 3}, {10, 4}, {1, 14}},
	},
	{
		name:    "a retried split's children come after other splits' but keep split order",
		created: JobCreated{Job: 11, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2"}, MaxAttempts: 3, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Splitting, 1, "s1", "s2"), Changed: true},
		view:    doc(11, "splitting", 0, 2, "0", ""),
		steps: []step{
			{"fail", 1, `"flaky"`, 1000, Effects{Retry: &Retry{Unit: 1, Attempts: 1}}, 1, doc(11, "splitting", 0, 2, "1", "")},
			{"ok", 2, `["b1","b2"]`, 2000, Effects{Ready: ready(Processing, 3, "b1", "b2")}, 1, doc(11, "splitting", 0, 2, "2", "")},
			{op: "other", unit: 3},
			{"ok", 1, `["a1"]`, 3000, Effects{Ready: ready(Processing, 8, "a1"), Changed: true}, 2, doc(11, "processing", 0, 3, "3", "")},
			{"ok", 8, `"A1"`, 4000, Effects{}, 1, doc(11, "processing", 33, 3, "4", "")},
			{"ok", 4, `"B2"`, 5000, Effects{}, 1, doc(11, "processing", 67, 3, "5", "")},
			{"ok", 3, `"B1"`, 6000, Effects{Ready: ready(Merging, 9, `["A1","B1","B2"]`), Changed: true}, 1, doc(11, "merging", 99, 1, "6", "")},
			{"fail", 9, `"merge broke"`, 7000, Effects{Retry: &Retry{Unit: 9, Attempts: 1}}, 1, doc(11, "merging", 99, 1, "7", "")},
			{"ok", 9, `"all"`, 8000, done, 2, doc(11, "succeeded", 100, 0, "8", `["all"]`)},
		},
		ids: [][2]int64{{2, 3}, {3, 5}, {1, 8}, {1, 9}},
	},
}

func TestJobPhases(t *testing.T) {
	for _, s := range phaseScripts {
		t.Run(s.name, func(t *testing.T) {
			r := s.play(t)
			if r.job.Incomplete() != nil {
				t.Fatalf("complete job has incomplete units %v", r.job.Incomplete())
			}
			if want := r.job.Units()[len(r.job.Units())-1].ID; r.job.LastUnit() != want {
				t.Fatalf("LastUnit %d, want %d", r.job.LastUnit(), want)
			}
		})
	}
}

// TestReplay journals every event of each script and rebuilds the job from
// them: the two must agree after every event.
func TestReplay(t *testing.T) {
	scripts := append([]script(nil), phaseScripts...)
	scripts = append(scripts, retryScripts...)
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			a := s.play(t)
			created := s.created
			created.At = t0
			b, _ := NewJob(&created)
			for i, ev := range a.events {
				if _, err := b.Apply(ev); err != nil {
					t.Fatalf("replay event %d: %v", i, err)
				}
			}
			for _, now := range []int64{t0, t0 + 5*sec, t0 + 3600*sec} {
				if va, vb := viewJSON(a.job, now), viewJSON(b, now); va != vb {
					t.Fatalf("view at %d: live %s, replayed %s", now, va, vb)
				}
			}
			if !reflect.DeepEqual(a.job.Incomplete(), b.Incomplete()) {
				t.Fatalf("incomplete: live %v, replayed %v", a.job.Incomplete(), b.Incomplete())
			}
			if !reflect.DeepEqual(a.job.Units(), b.Units()) {
				t.Fatalf("units: live %+v, replayed %+v", a.job.Units(), b.Units())
			}
		})
	}
}

// TestReplayStepByStep replays a longer script with retries, losses,
// interleaved reservations and a deletion, comparing after every event.
func TestReplayStepByStep(t *testing.T) {
	created := &JobCreated{Job: 42, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2", "s3"},
		MaxAttempts: 3, FirstUnit: 7, At: t0, CallbackURL: "http://cb.example/x"}
	a, _ := start(t, created, 10)
	b, _ := NewJob(created)
	check := func(at int64) {
		t.Helper()
		ev := a.events[len(a.events)-1]
		if _, err := b.Apply(ev); err != nil {
			t.Fatalf("replay %#v: %v", ev, err)
		}
		for _, now := range []int64{at, at + 7*sec} {
			if va, vb := viewJSON(a.job, now), viewJSON(b, now); va != vb {
				t.Fatalf("after %#v: live %s, replayed %s", ev, va, vb)
			}
		}
		if !reflect.DeepEqual(a.job.Incomplete(), b.Incomplete()) {
			t.Fatalf("after %#v: incomplete live %v, replayed %v", ev, a.job.Incomplete(), b.Incomplete())
		}
		if a.job.Callback != b.Callback || a.job.Deleted != b.Deleted {
			t.Fatalf("after %#v: callback/deleted differ", ev)
		}
	}
	at := t0
	tick := func() int64 { at += 250 * ms; return at }
	a.do("lose", 8, "worker w1 stopped checking in", tick())
	check(at)
	a.do("ok", 7, `["a",["b"]]`, tick()) // 10, 11
	check(at)
	a.do("other", 5, "", 0) // 12..16
	a.do("fail", 10, `"x"`, tick())
	check(at)
	a.do("ok", 8, `[1,2,3]`, tick()) // 17, 18, 19
	check(at)
	a.do("ok", 18, `"two"`, tick())
	check(at)
	a.do("ok", 9, `null`, tick())
	check(at)
	for _, u := range []int64{19, 11, 17} {
		a.do("ok", u, strconv.FormatInt(u, 10), tick())
		check(at)
	}
	a.do("lose", 10, "unit_timeout passed", tick())
	check(at)
	a.do("ok", 10, `"ten"`, tick()) // ends processing: merge unit 20
	check(at)
	if got := a.job.Incomplete(); !reflect.DeepEqual(got, []Ready{{ID: 20, Input: `["ten",11,17,"two",19]`, Status: Merging}}) {
		t.Fatalf("incomplete %v", got)
	}
	a.do("ok", 20, `"merged"`, tick())
	check(at)
	a.apply(a.job.SettleCallback(true))
	check(at)
	a.apply(&JobDeleted{Job: 42, Seq: a.job.Seq + 1})
	check(at)
	if want := [][2]int64{{2, 10}, {5, 12}, {3, 17}, {1, 20}}; !reflect.DeepEqual(a.ids.calls, want) {
		t.Fatalf("reservations %v, want %v", a.ids.calls, want)
	}
}

var retryScripts = []script{
	{
		name:    "three attempts: the last failure is final and keeps its output",
		created: JobCreated{Job: 1, Action: "a", Inputs: []string{"in"}, MaxAttempts: 3, FirstUnit: 1},
		next:    2,
		fx:      Effects{Ready: ready(Processing, 1, "in"), Changed: true},
		view:    doc(1, "processing", 0, 1, "0", ""),
		steps: []step{
			{"fail", 1, `"e1"`, 1000, Effects{Retry: &Retry{Unit: 1, Attempts: 1}}, 1, doc(1, "processing", 0, 1, "1", "")},
			{"fail", 1, `"e2"`, 2000, Effects{Retry: &Retry{Unit: 1, Attempts: 2}}, 2, doc(1, "processing", 0, 1, "2", "")},
			{"fail", 1, `"e3"`, 3000, Effects{Settled: 1, Changed: true, Completed: true}, 3, doc(1, "failed", 100, 0, "3", `["e3"]`)},
		},
	},
	{
		name:    "one attempt: the first failure is final",
		created: JobCreated{Job: 2, Action: "a", Inputs: []string{"in", "other"}, MaxAttempts: 1, FirstUnit: 1},
		next:    3,
		fx:      Effects{Ready: ready(Processing, 1, "in", "other"), Changed: true},
		view:    doc(2, "processing", 0, 2, "0", ""),
		steps: []step{
			{"fail", 1, `{"error":"e1"}`, 1000, Effects{Settled: 1}, 1, doc(2, "processing", 50, 2, "1", "")},
			{"ok", 2, `2`, 2000, done, 1, doc(2, "failed", 100, 0, "2", `[{"error":"e1"},2]`)},
		},
	},
	{
		name:    "zero attempts means one",
		created: JobCreated{Job: 11, Action: "a", Inputs: []string{"in"}, FirstUnit: 1},
		next:    2,
		fx:      Effects{Ready: ready(Processing, 1, "in"), Changed: true},
		view:    doc(11, "processing", 0, 1, "0", ""),
		steps: []step{
			{"fail", 1, `"e1"`, 1000, Effects{Settled: 1, Changed: true, Completed: true}, 1, doc(11, "failed", 100, 0, "1", `["e1"]`)},
		},
	},
	{
		name:    "a lost unit counts an attempt; its output is the reason",
		created: JobCreated{Job: 42, Action: "a", Inputs: []string{"in"}, MaxAttempts: 2, FirstUnit: 1},
		next:    2,
		fx:      Effects{Ready: ready(Processing, 1, "in"), Changed: true},
		view:    doc(42, "processing", 0, 1, "0", ""),
		steps: []step{
			{"lose", 1, "worker w1 stopped checking in", 1000, Effects{Retry: &Retry{Unit: 1, Attempts: 1}}, 1, doc(42, "processing", 0, 1, "1", "")},
			{"lose", 1, `died "hard" <x>`, 2000, Effects{Settled: 1, Changed: true, Completed: true}, 2, doc(42, "failed", 100, 0, "2", `["died \"hard\" \u003cx\u003e"]`)},
		},
	},
	{
		name:    "a failure, a loss, then success",
		created: JobCreated{Job: 1, Action: "a", Inputs: []string{"in"}, MaxAttempts: 3, FirstUnit: 1},
		next:    2,
		fx:      Effects{Ready: ready(Processing, 1, "in"), Changed: true},
		view:    doc(1, "processing", 0, 1, "0", ""),
		steps: []step{
			{"fail", 1, `"e1"`, 1000, Effects{Retry: &Retry{Unit: 1, Attempts: 1}}, 1, doc(1, "processing", 0, 1, "1", "")},
			{"lose", 1, "gone", 2000, Effects{Retry: &Retry{Unit: 1, Attempts: 2}}, 2, doc(1, "processing", 0, 1, "2", "")},
			{"ok", 1, `"fine"`, 3000, done, 3, doc(1, "succeeded", 100, 0, "3", `["fine"]`)},
		},
	},
}

func TestRetries(t *testing.T) {
	for _, s := range retryScripts {
		t.Run(s.name, func(t *testing.T) { s.play(t) })
	}
}

// TestRetryDropsOutput checks what a unit keeps between attempts.
func TestRetryDropsOutput(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "a", Inputs: []string{"in"}, MaxAttempts: 3, FirstUnit: 1, At: t0}, 2)
	r.do("fail", 1, `"e1"`, t0+sec)
	u := r.unit(1)
	if u.Output != nil || u.Status != Processing || u.Attempts != 1 || u.Time != 0.5 {
		t.Fatalf("after a retried failure: %+v", u)
	}
	if got, want := r.job.Incomplete(), []Ready{{ID: 1, Input: "in", Status: Processing, Attempts: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("incomplete %v, want %v", got, want)
	}
	r.do("lose", 1, "lost", t0+2*sec)
	r.do("fail", 1, `"e3"`, t0+3*sec)
	u = r.unit(1)
	if string(u.Output) != `"e3"` || u.Status != Failed || u.Attempts != 3 {
		t.Fatalf("after the final failure: %+v", u)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		backoff int64
		attempt int
		want    int64
	}{
		{sec, 1, sec},
		{sec, 2, 2 * sec},
		{sec, 3, 4 * sec},
		{sec, 4, 8 * sec},
		{sec, 5, 16 * sec},
		{sec, 6, 32 * sec},
		{sec, 7, 60 * sec},
		{sec, 1000, 60 * sec},
		{sec, 0, 0},
		{sec, -1, 0},
		{10 * sec, 3, 40 * sec},
		{10 * sec, 4, 60 * sec},
		{90 * sec, 1, 60 * sec},
		{250 * ms, 3, sec},
		{0, 1, 0},
		{0, 5, 0},
		{-sec, 2, 0},
	}
	for _, tt := range tests {
		if got := (Rules{RetryBackoff: tt.backoff}).Backoff(tt.attempt); got != tt.want {
			t.Errorf("Backoff(%d) with retry_backoff %d = %d, want %d", tt.attempt, tt.backoff, got, tt.want)
		}
	}
}

func TestEmptyInputs(t *testing.T) {
	email := "e@x.org"
	tests := []struct {
		name string
		ev   JobCreated
		cb   CallbackState
		want string
	}{
		{"process", JobCreated{Job: 1, Action: "a"}, CallbackNone, doc(1, "succeeded", 100, 0, "0", `[]`)},
		{"split and merge", JobCreated{Job: 2, Action: "s", Split: true, Merge: true, Inputs: []string{}}, CallbackNone, doc(2, "succeeded", 100, 0, "0", `[]`)},
		{"with callback", JobCreated{Job: 11, Action: "a", CallbackURL: "http://cb/"}, CallbackPending, doc(11, "succeeded", 100, 0, "0", `[]`)},
		{"with email", JobCreated{Job: 42, Action: "a", Email: &email}, CallbackNone, `{"id":42,"color":"4ac58a","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":0,"outputs":[],"email":"e@x.org"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			ev.At = t0
			j, fx := NewJob(&ev)
			if !reflect.DeepEqual(fx, done) {
				t.Fatalf("effects %+v", fx)
			}
			if j.Status != Succeeded || string(j.Outputs) != "[]" || j.PercentComplete() != 100 || j.WorkUnits() != 0 {
				t.Fatalf("job %+v", j)
			}
			if j.Callback != tt.cb {
				t.Fatalf("callback %d, want %d", j.Callback, tt.cb)
			}
			if got := viewJSON(j, t0+10*sec); got != tt.want {
				t.Fatalf("view %s, want %s", got, tt.want)
			}
			if j.Incomplete() != nil || j.LastUnit() != 0 {
				t.Fatalf("units %v, last %d", j.Incomplete(), j.LastUnit())
			}
		})
	}
}

// finishFirst creates a job with n inputs and lets its first k units succeed.
func finishFirst(t *testing.T, n, k int) *Job {
	t.Helper()
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = strconv.Itoa(i)
	}
	r, _ := start(t, &JobCreated{Job: 1, Action: "a", Inputs: inputs, MaxAttempts: 1, FirstUnit: 1, At: t0}, int64(n)+1)
	for i := range k {
		if i%2 == 0 {
			r.do("ok", int64(i+1), "1", t0)
		} else {
			r.do("fail", int64(i+1), `"x"`, t0) // a final failure counts as complete too
		}
	}
	return r.job
}

func TestPercentComplete(t *testing.T) {
	tests := []struct{ n, k, want int }{
		{8, 1, 13}, // 12.5 rounds up
		{8, 3, 38}, // 37.5
		{3, 1, 33},
		{3, 2, 67},
		{200, 1, 1}, // 0.5 rounds up
		{200, 199, 100},
		{5, 0, 0},
		{6, 1, 17},
		{7, 3, 43},
		{2, 1, 50},
		{1000, 4, 0}, // 0.4
	}
	for _, tt := range tests {
		j := finishFirst(t, tt.n, tt.k)
		if got := j.PercentComplete(); got != tt.want {
			t.Errorf("%d of %d: percent %d, want %d", tt.k, tt.n, got, tt.want)
		}
		if j.Status != Processing || j.WorkUnits() != tt.n {
			t.Errorf("%d of %d: status %v, work units %d", tt.k, tt.n, j.Status, j.WorkUnits())
		}
	}
}

func TestWorkUnitsPerPhase(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "s", Split: true, Merge: true, Inputs: []string{"a", "b", "c"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 4)
	type want struct {
		status      Status
		units, pcnt int
	}
	check := func(w want) {
		t.Helper()
		if r.job.Status != w.status || r.job.WorkUnits() != w.units || r.job.PercentComplete() != w.pcnt {
			t.Fatalf("status %v, work units %d, percent %d; want %+v", r.job.Status, r.job.WorkUnits(), r.job.PercentComplete(), w)
		}
	}
	check(want{Splitting, 3, 0})
	r.do("ok", 1, `[1,2,3,4,5]`, t0) // 4..8
	check(want{Splitting, 3, 0})
	r.do("ok", 4, `1`, t0) // a processed child does not move a splitting job's percentage
	check(want{Splitting, 3, 0})
	r.do("ok", 2, `[]`, t0)
	r.do("ok", 3, `[6]`, t0) // 9
	check(want{Processing, 6, 17})
	for u := int64(5); u <= 9; u++ {
		r.do("ok", u, `1`, t0)
	}
	check(want{Merging, 1, 99})
	r.do("ok", 10, `6`, t0)
	check(want{Succeeded, 0, 100})
}

func TestTimeTaken(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "a", Inputs: []string{"a", "b"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 3)
	running := []struct {
		now  int64
		want float64
	}{{t0, 0}, {t0 + 1500*ms, 1.5}, {t0 + 90*sec, 90}}
	for _, tt := range running {
		if got := r.job.TimeTaken(tt.now); got != tt.want {
			t.Errorf("running: TimeTaken(t0+%dms) = %v, want %v", (tt.now-t0)/ms, got, tt.want)
		}
	}
	r.do("ok", 1, `1`, t0+sec)
	r.do("fail", 2, `"x"`, t0+2250*ms)
	for _, now := range []int64{t0 + 2250*ms, t0 + 3*sec, t0 + 86400*sec} {
		if got := r.job.TimeTaken(now); got != 2.25 {
			t.Errorf("complete: TimeTaken(t0+%dms) = %v, want 2.25", (now-t0)/ms, got)
		}
		if got, want := viewJSON(r.job, now), doc(1, "failed", 100, 0, "2.25", `[1,"x"]`); got != want {
			t.Errorf("view %s, want %s", got, want)
		}
	}
	if r.job.FinishedAt != t0+2250*ms {
		t.Errorf("FinishedAt %d", r.job.FinishedAt)
	}
}

// snapshot is everything an error must leave alone.
type snapshot struct {
	view       string
	incomplete []Ready
	units      []Unit
	calls      int
	next       int64
	status     Status
	deleted    bool
}

func snap(r *run) snapshot {
	return snapshot{
		view:       viewJSON(r.job, t0+sec),
		incomplete: r.job.Incomplete(),
		units:      append([]Unit(nil), r.job.Units()...),
		calls:      len(r.ids.calls),
		next:       r.ids.next,
		status:     r.job.Status,
		deleted:    r.job.Deleted,
	}
}

func TestErrorsChangeNothing(t *testing.T) {
	// Units 1, 2 split; 3..9 go to another job; split 1 makes 10 and 11;
	// 10 succeeds; 11 failed once and waits for its retry.
	setup := func(t *testing.T) *run {
		r, _ := start(t, &JobCreated{Job: 2, Action: "s", Split: true, Merge: true, Inputs: []string{"s1", "s2"}, MaxAttempts: 3, FirstUnit: 1, At: t0}, 3)
		r.do("other", 7, "", 0)
		r.do("ok", 1, `["a","b"]`, t0)
		r.do("ok", 10, `"A"`, t0)
		r.do("fail", 11, `"e"`, t0)
		return r
	}
	tests := []struct {
		name string
		call func(r *run) error
		want error // nil: any error
	}{
		{"finish unit 0", func(r *run) error { _, err := r.job.Finish(0, true, []byte("1"), 0, t0, r.ids); return err }, ErrUnknownUnit},
		{"finish unit below the job's", func(r *run) error { _, err := r.job.Finish(-4, true, []byte("1"), 0, t0, r.ids); return err }, ErrUnknownUnit},
		{"finish unit between ranges", func(r *run) error { _, err := r.job.Finish(5, true, []byte("1"), 0, t0, r.ids); return err }, ErrUnknownUnit},
		{"finish unit above the job's", func(r *run) error { _, err := r.job.Finish(12, false, []byte("1"), 0, t0, r.ids); return err }, ErrUnknownUnit},
		{"finish complete split", func(r *run) error { _, err := r.job.Finish(1, true, []byte("[]"), 0, t0, r.ids); return err }, ErrUnitComplete},
		{"finish complete unit", func(r *run) error { _, err := r.job.Finish(10, false, []byte("1"), 0, t0, r.ids); return err }, ErrUnitComplete},
		{"lose unknown unit", func(r *run) error { _, err := r.job.Lose(99, "x", t0); return err }, ErrUnknownUnit},
		{"lose complete unit", func(r *run) error { _, err := r.job.Lose(10, "x", t0); return err }, ErrUnitComplete},
		{"split output not JSON", func(r *run) error { _, err := r.job.Finish(2, true, []byte(`["a",`), 0, t0, r.ids); return err }, errNotJSON},
		{"split output with trailing data", func(r *run) error { _, err := r.job.Finish(2, true, []byte(`["a"] ["b"]`), 0, t0, r.ids); return err }, errNotJSON},
		{"apply finished to complete unit", func(r *run) error {
			_, err := r.job.Apply(&UnitFinished{Job: 2, Seq: r.job.Seq + 1, Unit: 10, Succeeded: true, Output: []byte("1")})
			return err
		}, ErrUnitComplete},
		{"apply finished to unknown unit", func(r *run) error {
			_, err := r.job.Apply(&UnitFinished{Job: 2, Seq: r.job.Seq + 1, Unit: 77, Succeeded: true, Output: []byte("1")})
			return err
		}, ErrUnknownUnit},
		{"apply lost to complete unit", func(r *run) error {
			_, err := r.job.Apply(&UnitLost{Job: 2, Seq: r.job.Seq + 1, Unit: 1, Reason: "x"})
			return err
		}, ErrUnitComplete},
		{"apply created", func(r *run) error { _, err := r.job.Apply(&JobCreated{Job: 2}); return err }, nil},
		{"apply nil event", func(r *run) error { _, err := r.job.Apply(nil); return err }, nil},
		{"apply an event twice", func(r *run) error { _, err := r.job.Apply(r.events[len(r.events)-1]); return err }, ErrOutOfOrder},
		{"apply an event from the future", func(r *run) error {
			_, err := r.job.Apply(&UnitLost{Job: 2, Seq: r.job.Seq + 2, Unit: 2, Reason: "x"})
			return err
		}, ErrOutOfOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := setup(t)
			before := snap(r)
			err := tt.call(r)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if after := snap(r); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\nbefore %+v\n after %+v", before, after)
			}
		})
	}

	t.Run("deleted job", func(t *testing.T) {
		r := setup(t)
		fx := r.apply(&JobDeleted{Job: 2, Seq: r.job.Seq + 1})
		if want := (Effects{Deleted: true, Drop: []int64{2, 11}}); !reflect.DeepEqual(fx, want) {
			t.Fatalf("delete effects %+v, want %+v", fx, want)
		}
		before := snap(r)
		calls := map[string]func() error{
			"finish": func() error { _, err := r.job.Finish(11, true, []byte("1"), 0, t0, r.ids); return err },
			"finish complete": func() error {
				_, err := r.job.Finish(10, true, []byte("1"), 0, t0, r.ids)
				return err
			},
			"lose": func() error { _, err := r.job.Lose(2, "x", t0); return err },
			"apply finish": func() error {
				_, err := r.job.Apply(&UnitFinished{Job: 2, Seq: r.job.Seq + 1, Unit: 11, Succeeded: true})
				return err
			},
			"apply lost":   func() error { _, err := r.job.Apply(&UnitLost{Job: 2, Seq: r.job.Seq + 1, Unit: 11}); return err },
			"delete again": func() error { _, err := r.job.Apply(&JobDeleted{Job: 2, Seq: r.job.Seq + 1}); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, ErrJobDeleted) {
				t.Errorf("%s: error %v, want ErrJobDeleted", name, err)
			}
			if after := snap(r); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s changed the job:\nbefore %+v\n after %+v", name, before, after)
			}
		}
	})
}

func TestJobDeleted(t *testing.T) {
	tests := []struct {
		name    string
		created JobCreated
		script  func(r *run)
		drop    []int64
	}{
		{"fresh", JobCreated{Job: 1, Action: "a", Inputs: []string{"a", "b"}, MaxAttempts: 3, FirstUnit: 1}, func(*run) {}, []int64{1, 2}},
		{"partly done", JobCreated{Job: 1, Action: "a", Inputs: []string{"a", "b", "c"}, MaxAttempts: 3, FirstUnit: 1}, func(r *run) {
			r.do("ok", 1, "1", t0)
			r.do("fail", 2, `"e"`, t0) // waiting for its retry: still incomplete
		}, []int64{2, 3}},
		{"splitting with children", JobCreated{Job: 1, Action: "s", Split: true, Merge: true, Inputs: []string{"a", "b"}, MaxAttempts: 1, FirstUnit: 1}, func(r *run) {
			r.do("ok", 2, `["x","y"]`, t0) // 3, 4
			r.do("ok", 4, `"Y"`, t0)
		}, []int64{1, 3}},
		{"merging", JobCreated{Job: 1, Action: "m", Merge: true, Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1}, func(r *run) {
			r.do("ok", 1, `1`, t0) // merge unit 2
		}, []int64{2}},
		{"complete", JobCreated{Job: 1, Action: "a", Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1}, func(r *run) {
			r.do("fail", 1, `"e"`, t0)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.created
			ev.At = t0
			r, _ := start(t, &ev, int64(len(ev.Inputs))+1)
			tt.script(r)
			fx := r.apply(&JobDeleted{Job: 1, Seq: r.job.Seq + 1})
			if want := (Effects{Deleted: true, Drop: tt.drop}); !reflect.DeepEqual(fx, want) {
				t.Fatalf("effects %+v, want %+v", fx, want)
			}
			if !r.job.Deleted {
				t.Fatal("not marked deleted")
			}
		})
	}
}

func TestCallbackState(t *testing.T) {
	tests := []struct {
		url                         string
		created, completed, settled CallbackState
	}{
		{"", CallbackNone, CallbackNone, CallbackNone},
		{"http://cb.example/done", CallbackNone, CallbackPending, CallbackDone},
	}
	for _, tt := range tests {
		for _, ok := range []bool{true, false} {
			r, _ := start(t, &JobCreated{Job: 1, Action: "a", Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1, CallbackURL: tt.url, At: t0}, 2)
			if r.job.Callback != tt.created {
				t.Errorf("%q: created: callback %d, want %d", tt.url, r.job.Callback, tt.created)
			}
			if ok {
				r.do("ok", 1, "1", t0)
			} else {
				r.do("fail", 1, `"e"`, t0)
			}
			if r.job.Callback != tt.completed {
				t.Errorf("%q ok=%v: completed: callback %d, want %d", tt.url, ok, r.job.Callback, tt.completed)
			}
			if tt.url == "" {
				continue // no callback, so nothing settles it
			}
			fx := r.apply(r.job.SettleCallback(ok))
			if r.job.Callback != tt.settled || !reflect.DeepEqual(fx, Effects{}) {
				t.Errorf("%q ok=%v: settled: callback %d, effects %+v", tt.url, ok, r.job.Callback, fx)
			}
		}
	}
	// A running job with a callback URL stays CallbackNone until it completes.
	r, _ := start(t, &JobCreated{Job: 1, Action: "a", Inputs: []string{"a", "b"}, MaxAttempts: 1, FirstUnit: 1, CallbackURL: "http://cb/", At: t0}, 3)
	r.do("ok", 1, "1", t0)
	if r.job.Callback != CallbackNone {
		t.Errorf("running: callback %d", r.job.Callback)
	}
	r.do("ok", 2, "2", t0)
	if r.job.Callback != CallbackPending {
		t.Errorf("complete: callback %d", r.job.Callback)
	}
}

func TestViewJSON(t *testing.T) {
	empty, email, odd := "", "a@b.c", `x"<y>`
	tests := []struct {
		name   string
		email  *string
		finish bool
		want   string
	}{
		{"running, no email", nil, false, `{"id":11,"color":"2652dc","status":"processing","percent_complete":50,"work_units":2,"time_taken":1.25}`},
		{"running, email", &email, false, `{"id":11,"color":"2652dc","status":"processing","percent_complete":50,"work_units":2,"time_taken":1.25,"email":"a@b.c"}`},
		{"running, empty email", &empty, false, `{"id":11,"color":"2652dc","status":"processing","percent_complete":50,"work_units":2,"time_taken":1.25,"email":""}`},
		{"complete, no email", nil, true, `{"id":11,"color":"2652dc","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":1.25,"outputs":[{"k":[1,2]},"two"]}`},
		{"complete, email", &email, true, `{"id":11,"color":"2652dc","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":1.25,"outputs":[{"k":[1,2]},"two"],"email":"a@b.c"}`},
		{"complete, empty email", &empty, true, `{"id":11,"color":"2652dc","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":1.25,"outputs":[{"k":[1,2]},"two"],"email":""}`},
		{"complete, email to escape", &odd, true, `{"id":11,"color":"2652dc","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":1.25,"outputs":[{"k":[1,2]},"two"],"email":"x\"\u003cy\u003e"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := start(t, &JobCreated{Job: 11, Action: "a", Inputs: []string{"a", "b"}, MaxAttempts: 1, FirstUnit: 1, Email: tt.email, At: t0}, 3)
			r.do("ok", 1, `{"k":[1,2]}`, t0+sec)
			now := t0 + 1250*ms
			if tt.finish {
				r.do("ok", 2, `"two"`, now)
				now += 10 * sec
			}
			if got := viewJSON(r.job, now); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		s        Status
		name     string
		complete bool
	}{
		{0, "unknown", false},
		{Processing, "processing", false},
		{Succeeded, "succeeded", true},
		{Failed, "failed", true},
		{Splitting, "splitting", false},
		{Merging, "merging", false},
		{6, "unknown", false},
		{255, "unknown", false},
	}
	for _, tt := range tests {
		if tt.s.String() != tt.name || tt.s.Complete() != tt.complete {
			t.Errorf("status %d: %q %v, want %q %v", tt.s, tt.s.String(), tt.s.Complete(), tt.name, tt.complete)
		}
	}
}

func TestJobMisc(t *testing.T) {
	j, _ := NewJob(&JobCreated{Job: 42, Action: "word_count", Inputs: []string{"a"}, FirstUnit: 3, At: t0})
	if j.String() != "job #42 (word_count)" || j.Color != "4ac58a" || j.LastUnit() != 3 || j.MaxAttempts != 1 {
		t.Fatalf("%s color %s last %d attempts %d", j, j.Color, j.LastUnit(), j.MaxAttempts)
	}
	evs := []Event{&JobCreated{Job: 1}, &UnitFinished{Job: 2}, &UnitLost{Job: 3}, &JobDeleted{Job: 4}, &CallbackSettled{Job: 5}}
	for i, ev := range evs {
		if ev.JobID() != int64(i+1) {
			t.Errorf("%T.JobID() = %d", ev, ev.JobID())
		}
	}
}

// TestEmptyOutputIsNull: a report without output counts as null, in the
// merge input and in the job's outputs.
func TestEmptyOutputIsNull(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "m", Merge: true, Inputs: []string{"a", "b"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 3)
	r.do("ok", 1, "", t0)
	fx := r.do("ok", 2, "2", t0)
	if want := ready(Merging, 3, `[null,2]`); !reflect.DeepEqual(fx.Ready, want) {
		t.Fatalf("merge unit %v, want %v", fx.Ready, want)
	}
	r.do("ok", 3, "", t0+sec)
	if got, want := viewJSON(r.job, t0+sec), doc(1, "succeeded", 100, 0, "1", `[null]`); got != want {
		t.Fatalf("view %s, want %s", got, want)
	}
	r, _ = start(t, &JobCreated{Job: 2, Action: "a", Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 2)
	r.do("fail", 1, "", t0)
	if got, want := viewJSON(r.job, t0), doc(2, "failed", 100, 0, "0", `[null]`); got != want {
		t.Fatalf("view %s, want %s", got, want)
	}
}
