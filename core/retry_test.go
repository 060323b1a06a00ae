package core

import (
	"errors"
	"reflect"
	"testing"
)

func (r *run) retry(at int64) Effects {
	r.t.Helper()
	ev, err := r.job.RetryFailed(at)
	if err != nil {
		r.t.Fatalf("RetryFailed: %v", err)
	}
	return r.apply(ev)
}

func TestRetryFailedProcessingUnits(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "w", Merge: true, Inputs: []string{"a", "b", "c"}, MaxAttempts: 2, FirstUnit: 1, At: t0, CallbackURL: "http://cb"}, 4)
	r.do("ok", 1, `1`, t0)
	r.do("fail", 2, `"e1"`, t0)
	r.do("fail", 2, `"e2"`, t0+sec)
	r.do("ok", 3, `3`, t0+2*sec)
	if r.job.Status != Failed || r.job.Callback != CallbackPending {
		t.Fatalf("status %v callback %v, want failed and pending", r.job.Status, r.job.Callback)
	}
	if u := r.unit(2); !reflect.DeepEqual(u.Errors, []string{`"e1"`, `"e2"`}) {
		t.Fatalf("errors of unit 2: %q", u.Errors)
	}
	fx := r.retry(t0 + 3*sec)
	if !reflect.DeepEqual(fx.Ready, []Ready{{ID: 2, Input: "b", Status: Processing}}) || !fx.Changed {
		t.Fatalf("retry effects %+v", fx)
	}
	if r.job.Status != Processing || r.job.Outputs != nil || r.job.Callback != CallbackNone || r.job.PercentComplete() != 67 {
		t.Fatalf("after retry: %s callback %v", viewJSON(r.job, t0+4*sec), r.job.Callback)
	}
	if u := r.unit(2); u.Attempts != 0 || u.Output != nil || len(u.Errors) != 2 {
		t.Fatalf("retried unit %+v: fresh attempts, errors kept", u)
	}
	// It goes on as before: this time unit 2 succeeds, the job merges.
	fx = r.do("ok", 2, `2`, t0+5*sec)
	if r.job.Status != Merging || len(fx.Ready) != 1 || fx.Ready[0].Input != `[1,2,3]` {
		t.Fatalf("after the retried unit: %s, ready %+v", viewJSON(r.job, t0), fx.Ready)
	}
}

func TestRetryFailedSplitAndMerge(t *testing.T) {
	t.Run("a failed split splits again", func(t *testing.T) {
		r, _ := start(t, &JobCreated{Job: 1, Action: "p", Split: true, Merge: true, Inputs: []string{"d1", "d2"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 3)
		r.do("ok", 1, `["x"]`, t0) // child 3
		r.do("fail", 2, `"bad pdf"`, t0)
		r.do("ok", 3, `"X"`, t0)
		if r.job.Status != Failed {
			t.Fatalf("status %v", r.job.Status)
		}
		fx := r.retry(t0)
		if r.job.Status != Splitting || !reflect.DeepEqual(fx.Ready, []Ready{{ID: 2, Input: "d2", Status: Splitting}}) {
			t.Fatalf("after retry: status %v ready %+v", r.job.Status, fx.Ready)
		}
		r.do("ok", 2, `["y"]`, t0) // child 4
		fx = r.do("ok", 4, `"Y"`, t0)
		if r.job.Status != Merging || fx.Ready[0].Input != `["X","Y"]` {
			t.Fatalf("merge input %+v, status %v", fx.Ready, r.job.Status)
		}
	})
	t.Run("a failed merge merges again", func(t *testing.T) {
		r, _ := start(t, &JobCreated{Job: 1, Action: "w", Merge: true, Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 2)
		r.do("ok", 1, `1`, t0) // merge unit 2
		r.do("fail", 2, `"merge broke"`, t0)
		if r.job.Status != Failed || string(r.job.Outputs) != `["merge broke"]` {
			t.Fatalf("%s", viewJSON(r.job, t0))
		}
		fx := r.retry(t0)
		if r.job.Status != Merging || !reflect.DeepEqual(fx.Ready, []Ready{{ID: 2, Input: `[1]`, Status: Merging}}) {
			t.Fatalf("after retry: status %v ready %+v", r.job.Status, fx.Ready)
		}
		r.do("ok", 2, `1`, t0)
		if r.job.Status != Succeeded || string(r.job.Outputs) != `[1]` {
			t.Fatalf("%s", viewJSON(r.job, t0))
		}
	})
}

func TestRetryRefused(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "g", Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: 1, At: t0}, 2)
	if _, err := r.job.RetryFailed(t0); !errors.Is(err, ErrNoFailures) {
		t.Fatalf("retry of a running job: %v", err)
	}
	r.do("ok", 1, `1`, t0)
	if _, err := r.job.RetryFailed(t0); !errors.Is(err, ErrNoFailures) {
		t.Fatalf("retry of a succeeded job: %v", err)
	}
	if _, err := r.job.Apply(&UnitsRetried{Job: 1, Seq: r.job.Seq + 1}); !errors.Is(err, ErrNoFailures) {
		t.Fatalf("applying a retry to a succeeded job: %v", err)
	}
}

func TestUnitRemembersItsLastTenErrors(t *testing.T) {
	r, _ := start(t, &JobCreated{Job: 1, Action: "g", Inputs: []string{"a"}, MaxAttempts: 12, FirstUnit: 1, At: t0}, 2)
	for i := 0; i < 11; i++ {
		r.do("fail", 1, `"e`+string(rune('a'+i))+`"`, t0)
	}
	u := r.unit(1)
	if len(u.Errors) != maxErrors || u.Errors[0] != `"eb"` || u.Errors[9] != `"ek"` {
		t.Fatalf("errors %q: want the last 10, eb..ek", u.Errors)
	}
}

func TestIndexTakesBackARetriedJob(t *testing.T) {
	x := NewIndex()
	for id := int64(1); id <= 4; id++ {
		x.Set(id, Processing)
	}
	x.Set(2, Failed)
	x.Set(4, Succeeded)
	if ids, total := x.Incomplete(10); !reflect.DeepEqual(ids, []int64{1, 3}) || total != 2 {
		t.Fatalf("incomplete %v %d", ids, total)
	}
	x.Set(2, Processing) // retried
	x.Set(2, Processing) // a second status change keeps one entry
	if ids, _ := x.Incomplete(10); !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
		t.Fatalf("incomplete after a retry %v, want 1 2 3", ids)
	}
}

func TestPausedActionsAreNotHandedOut(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2)
	enqueue(q, 2, "b", 3)
	if got := lease(q, "w", "a,b", t0); got != 1 {
		t.Fatalf("lease %d, want 1", got)
	}
	q.SetPaused(Pause{ID: 1, Action: "a", At: t0}, true)
	if got := lease(q, "w", "a,b", t0); got != 3 {
		t.Fatalf("lease with a paused: %d, want b's unit 3", got)
	}
	if got := lease(q, "w", "a,b", t0); got != 0 {
		t.Fatalf("lease %d, want none while a is paused", got)
	}
	if ps := q.Paused(); len(ps) != 1 || ps[0].Action != "a" {
		t.Fatalf("paused %+v", ps)
	}
	if old, was := q.SetPaused(Pause{Action: "a"}, false); !was || old.ID != 1 {
		t.Fatalf("resume returned %+v %v", old, was)
	}
	if got := lease(q, "w", "a,b", t0); got != 2 {
		t.Fatalf("lease after resume %d, want 2", got)
	}
}

func TestIndexPages(t *testing.T) {
	x := NewIndex()
	for id := int64(1); id <= 10; id++ {
		x.Set(id, Processing)
	}
	for _, id := range []int64{2, 5, 9} {
		x.Set(id, Succeeded)
	}
	x.Set(7, Failed)
	x.Remove(3)
	for _, c := range []struct {
		f             Filter
		offset, limit int
		want          []int64
		total         int
	}{
		{IncompleteJobs, 0, 3, []int64{1, 4, 6}, 5},
		{IncompleteJobs, 3, 3, []int64{8, 10}, 5},
		{IncompleteJobs, 9, 3, []int64{}, 5},
		{AllJobs, 0, 4, []int64{10, 9, 8, 7}, 9},
		{AllJobs, 8, 4, []int64{1}, 9},
		{CompleteJobs, 0, 2, []int64{9, 7}, 4},
		{CompleteJobs, 2, 5, []int64{5, 2}, 4},
	} {
		got, total := x.Page(c.f, c.offset, c.limit)
		if len(got) == 0 {
			got = []int64{}
		}
		if !reflect.DeepEqual(got, c.want) || total != c.total {
			t.Errorf("Page(%d, %d, %d) = %v, %d; want %v, %d", c.f, c.offset, c.limit, got, total, c.want, c.total)
		}
	}
}
