package core

import "testing"

const window = 60 * sec

// report leases unit (which must be the next ready one) to worker, reports
// it at now as the dispatcher does, leasing the worker's next unit.
func report(t *testing.T, q *Queue, worker string, unit int64, succeeded bool, now int64) *Entry {
	t.Helper()
	e, err := q.Report(unit, worker)
	if err != nil {
		t.Fatalf("Report(%d, %s): %v", unit, worker, err)
	}
	if succeeded {
		q.Settle(unit)
	}
	next := q.Lease(worker, "a", now)
	q.RememberReport(e, worker, succeeded, []byte(`1`), next, now)
	return next
}

func TestRepeatOfTheLastReport(t *testing.T) {
	tests := []struct {
		name string
		// then acts after worker w's report on unit 1 at t0, which failed
		// unless succeeded is set; the repeat of it comes at t0+at.
		succeeded bool
		then      func(q *Queue)
		repeat    string // the repeating worker
		repeatOK  bool   // the outcome of the repeat
		output    string // the repeat's; "1" when empty
		at        int64
		want      bool
	}{
		{name: "another output", repeat: "w", output: "2"},
		{name: "a success", succeeded: true, repeat: "w", repeatOK: true, want: true},
		{name: "a failure", repeat: "w", want: true},
		{name: "a failure that was final", then: func(q *Queue) { q.Settle(1) }, repeat: "w", want: true},
		{name: "a failure, queued again and leased to another who has not reported", then: func(q *Queue) {
			q.Requeue(1, 1, 0, t0)
			if lease(q, "v", "a", t0) != 1 {
				panic("unit 1 is not v's")
			}
		}, repeat: "w", want: true},
		{name: "at the end of the window", repeat: "w", at: window, want: true},
		{name: "after the window", repeat: "w", at: window + 1},
		{name: "another outcome", repeat: "w", repeatOK: true},
		{name: "another worker", repeat: "v"},
		{name: "reported by another since", then: func(q *Queue) {
			q.Requeue(1, 1, 0, t0)
			lease(q, "v", "a", t0)
			q.Report(1, "v")
		}, repeat: "w"},
		{name: "lost by another since", then: func(q *Queue) {
			q.Requeue(1, 1, 0, t0)
			lease(q, "v", "a", t0)
			q.Recover("v", []int64{1})
		}, repeat: "w"},
		{name: "the worker reported another unit since", then: func(q *Queue) {
			report(t, q, "w", 2, true, t0)
		}, repeat: "w"},
		{name: "the job was dropped", then: func(q *Queue) { q.DropJob(1, []int64{1, 2, 3}) }, repeat: "w"},
		{name: "the job was retried: a new entry for the unit", then: func(q *Queue) {
			q.Settle(1)
			enqueue(q, 1, "a", 1)
		}, repeat: "w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(0, window)
			enqueue(q, 1, "a", 1, 2, 3)
			if lease(q, "w", "a", t0) != 1 {
				t.Fatal("unit 1 is not w's")
			}
			next := report(t, q, "w", 1, tt.succeeded, t0)
			if tt.then != nil {
				tt.then(q)
			}
			if tt.output == "" {
				tt.output = "1"
			}
			job, again, ok := q.Repeat(1, tt.repeat, tt.repeatOK, []byte(tt.output), t0+tt.at)
			if ok != tt.want {
				t.Fatalf("Repeat = %v, want %v", ok, tt.want)
			}
			if !ok {
				return
			}
			if job != q.Job(1) {
				t.Errorf("Repeat's job %v, want job 1", job)
			}
			if stillHeld := next.Worker == "w"; stillHeld != (again == next) {
				t.Errorf("Repeat's next unit %v; the first answer's was %d, still w's: %v", again, next.Unit, stillHeld)
			}
		})
	}
}

// The repeat is answered with the unit the first answer leased while the
// worker holds it, and not once that lease has ended.
func TestRepeatGivesTheFirstAnswersUnit(t *testing.T) {
	q := NewQueue(0, window)
	enqueue(q, 1, "a", 1, 2, 3)
	lease(q, "w", "a", t0)
	next := report(t, q, "w", 1, true, t0)
	if next == nil || next.Unit != 2 {
		t.Fatalf("next unit %v, want 2", next)
	}
	if _, again, ok := q.Repeat(1, "w", true, []byte(`1`), t0); !ok || again != next {
		t.Fatalf("Repeat = %v, %v; want unit 2 again", again, ok)
	}
	q.Release("w", []int64{2}) // given back: the worker never heard of it
	_, again, ok := q.Repeat(1, "w", true, []byte(`1`), t0)
	if !ok || again != nil {
		t.Fatalf("Repeat after the release = %v, %v; want a repeat with no unit", again, ok)
	}
	// The dispatcher leases a new one for the repeat's answer: it is the
	// one a further repeat gets.
	fresh := q.LeaseNext("w", "a", t0)
	if _, again, _ := q.Repeat(1, "w", true, []byte(`1`), t0); fresh == nil || again != fresh {
		t.Fatalf("Repeat after a fresh lease = %v, want %v", again, fresh)
	}
}

func TestRepeatsOffAndForgotten(t *testing.T) {
	q := NewQueue(0, 0) // no window: no repeats
	enqueue(q, 1, "a", 1)
	lease(q, "w", "a", t0)
	report(t, q, "w", 1, true, t0)
	if _, _, ok := q.Repeat(1, "w", true, []byte(`1`), t0); ok {
		t.Fatal("a repeat with no window")
	}

	q = NewQueue(0, window)
	enqueue(q, 1, "a", 1, 2)
	lease(q, "w", "a", t0)
	lease(q, "v", "a", t0)
	report(t, q, "w", 1, true, t0)
	report(t, q, "v", 2, true, t0+window/2)
	q.Tick(t0 + window + 1)
	if len(q.last) != 1 {
		t.Fatalf("%d last reports after the first sweep, want 1 (v's)", len(q.last))
	}
	q.Tick(t0 + 2*window)
	if len(q.last) != 1 {
		t.Fatalf("%d last reports within a window of the first sweep, want 1 (the sweep runs once a window)", len(q.last))
	}
	q.Tick(t0 + 2*window + 1)
	if len(q.last) != 0 {
		t.Fatalf("%d last reports after a window of silence, want 0", len(q.last))
	}
}
