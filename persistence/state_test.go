package persistence

import (
	"reflect"
	"testing"

	"github.com/documentcloud/crowd/core"
)

type ids struct{ next int64 }

func (c *ids) NewUnits(n int) int64 { c.next += int64(n); return c.next - int64(n) }

// jobsInEveryShape builds jobs in each phase, with retries, failures and
// splits, by the core's own decisions.
func jobsInEveryShape(t *testing.T) []*core.Job {
	t.Helper()
	c := &ids{next: 100}
	mk := func(ev *core.JobCreated) *core.Job {
		ev.FirstUnit = c.NewUnits(len(ev.Inputs))
		j, _ := core.NewJob(ev)
		return j
	}
	step := func(j *core.Job, unit int64, ok bool, out string) {
		ev, err := j.Finish(unit, ok, []byte(out), 0.25, 1e9, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	email := "a@b.c"
	running := mk(&core.JobCreated{Job: 1, Action: "w", Merge: true, Inputs: []string{"a", "b", "c"}, Options: []byte(`{"k":1}`), Email: &email, MaxAttempts: 3})
	step(running, 100, true, `1`)
	step(running, 101, false, `"again"`) // retried: its error is kept
	split := mk(&core.JobCreated{Job: 2, Action: "p", Split: true, Merge: true, Inputs: []string{"d1", "d2"}, CallbackURL: "http://cb", MaxAttempts: 1})
	step(split, 103, true, `["x",["y"]]`)
	merging := mk(&core.JobCreated{Job: 3, Action: "w", Merge: true, Inputs: []string{"m"}, MaxAttempts: 2})
	step(merging, c.next-1, true, `7`)
	failed := mk(&core.JobCreated{Job: 4, Action: "g", Inputs: []string{"f"}, MaxAttempts: 1, CallbackURL: "http://cb"})
	step(failed, c.next-1, false, `"boom"`)
	empty := mk(&core.JobCreated{Job: 5, Action: "g", Inputs: nil, MaxAttempts: 1})
	return []*core.Job{running, split, merging, failed, empty}
}

func TestSnapshotRoundTrip(t *testing.T) {
	jobs := jobsInEveryShape(t)
	var parts [][]byte
	for _, j := range jobs {
		s := j.State()
		parts = append(parts, AppendJob(nil, &s))
	}
	want := Snapshot{LastJob: 9, LastUnit: 999, LastPause: 7, Paused: []core.Pause{{ID: 1, Action: "a", At: 5}, {ID: 4, Action: "b_c", At: -1}}}
	head, got, err := DecodeSnapshot(EncodeSnapshot(want, parts))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(head, want) || len(got) != len(jobs) {
		t.Fatalf("snapshot %+v with %d jobs, want %+v with %d", head, len(got), want, len(jobs))
	}
	for i, j := range jobs {
		r := core.RestoreJob(got[i])
		if want, have := j.View(5e9), r.View(5e9); string(want.AppendJSON(nil)) != string(have.AppendJSON(nil)) {
			t.Errorf("job %d view %s, want %s", j.ID, have.AppendJSON(nil), want.AppendJSON(nil))
		}
		if !reflect.DeepEqual(j.Incomplete(), r.Incomplete()) || !reflect.DeepEqual(j.Units(), r.Units()) {
			t.Errorf("job %d units differ:\n got %+v\nwant %+v", j.ID, r.Units(), j.Units())
		}
		if j.Seq != r.Seq || j.Callback != r.Callback {
			t.Errorf("job %d seq/callback %d/%d, want %d/%d", j.ID, r.Seq, r.Callback, j.Seq, j.Callback)
		}
	}
	// The restored running job takes the next event exactly as the original.
	a, b := jobs[0], core.RestoreJob(got[0])
	evA, _ := a.Finish(102, true, []byte(`3`), 0, 2e9, &ids{next: 500})
	evB, _ := b.Finish(102, true, []byte(`3`), 0, 2e9, &ids{next: 500})
	fxA, errA := a.Apply(&evA)
	fxB, errB := b.Apply(&evB)
	if errA != nil || errB != nil || !reflect.DeepEqual(fxA, fxB) {
		t.Fatalf("after restore the job decides differently: %+v %v / %+v %v", fxA, errA, fxB, errB)
	}
}

func TestDecodeSnapshotRefusesDamage(t *testing.T) {
	jobs := jobsInEveryShape(t)
	s := jobs[1].State()
	body := EncodeSnapshot(Snapshot{LastJob: 2, LastUnit: 200, Paused: []core.Pause{{ID: 1, Action: "x"}}}, [][]byte{AppendJob(nil, &s)})
	for cut := 0; cut < len(body); cut++ {
		if _, _, err := DecodeSnapshot(body[:cut]); err == nil {
			t.Fatalf("snapshot cut to %d of %d bytes decoded", cut, len(body))
		}
	}
}
