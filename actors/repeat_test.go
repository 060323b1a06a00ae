package actors

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

// A report repeated by the worker whose answer was lost (CloudCrowd 0.1's
// worker repeats it every 5 s) is answered as the first was, with the same
// next unit, and records nothing: not in the log, not in the job's counts or
// attempts. A repeat that differs, or comes after the window, gets 409.
func TestRepeatedReportIsAnsweredAsTheFirst(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	journal := persistence.NewMemory(true)
	c, err := Start(Settings{WorkUnitRetries: 2, RepeatWindow: time.Minute,
		Now:    func() time.Time { return time.Unix(0, clock.Load()) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	const acts = "a"
	id := mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x", "y", "z"}, Options: []byte(`{}`)})).Job.ID
	report := func(unit int64, worker string, succeeded bool, output string) Reply {
		return c.Complete(Report{Unit: unit, Worker: worker, Actions: acts, Succeeded: succeeded, Output: []byte(output)})
	}
	// repeat sends a report again and checks it changed nothing and got
	// the first answer.
	repeat := func(what string, unit int64, worker string, succeeded bool, output string, first Reply) {
		t.Helper()
		records, job := journal.Len(), mustOK(t, c.Job(id)).Job
		r := report(unit, worker, succeeded, output)
		if r.Outcome != first.Outcome || !reflect.DeepEqual(r.Unit, first.Unit) {
			t.Fatalf("%s: outcome %d, unit %+v; the first answer was %d, %+v", what, r.Outcome, r.Unit, first.Outcome, first.Unit)
		}
		if n := journal.Len(); n != records {
			t.Fatalf("%s: the log went from %d records to %d", what, records, n)
		}
		if after := mustOK(t, c.Job(id)).Job; !reflect.DeepEqual(after, job) {
			t.Fatalf("%s changed the job: %+v, was %+v", what, after, job)
		}
	}
	conflict := func(what string, unit int64, worker string, succeeded bool, output string) {
		t.Helper()
		records := journal.Len()
		if r := report(unit, worker, succeeded, output); r.Outcome != Conflict {
			t.Fatalf("%s: outcome %d, want Conflict", what, r.Outcome)
		}
		if n := journal.Len(); n != records {
			t.Fatalf("%s: the log went from %d records to %d", what, records, n)
		}
	}

	u1 := mustOK(t, c.Dequeue("w", acts)).Unit
	first := mustOK(t, report(u1.ID, "w", false, `"no such file"`))
	if first.Unit.Input != "y" {
		t.Fatalf("the failed report's answer: %+v, want the unit of y", first.Unit)
	}
	repeat("the repeated failure", u1.ID, "w", false, `"no such file"`, first)
	conflict("the failure repeated as a success", u1.ID, "w", true, `"no such file"`)
	conflict("the failure repeated by another worker", u1.ID, "v", false, `"no such file"`)
	conflict("the failure repeated with another output", u1.ID, "w", false, `"timed out"`)

	u2 := first.Unit
	second := mustOK(t, report(u2.ID, "w", true, `2`))
	if second.Unit.ID != u1.ID || second.Unit.Attempts != 1 {
		t.Fatalf("after the repeated failure, w's next unit %+v; want unit %d again with 1 attempt", second.Unit, u1.ID)
	}
	repeat("the repeated success", u2.ID, "w", true, `2`, second)
	conflict("the success repeated as a failure", u2.ID, "w", false, `2`)
	conflict("the success repeated with another output", u2.ID, "w", true, `22`)

	third := mustOK(t, report(u1.ID, "w", true, `1`))
	mustOK(t, report(third.Unit.ID, "w", true, `3`))
	last := report(third.Unit.ID, "w", true, `3`)
	if last.Outcome != NoContent {
		t.Fatalf("the repeat of the job's last report: outcome %d, want NoContent as the first", last.Outcome)
	}
	done := mustOK(t, c.Job(id)).Job
	if done.Status != "succeeded" || string(done.Outputs) != `[1,2,3]` {
		t.Fatalf("the job: %s %s, want succeeded [1,2,3]", done.Status, done.Outputs)
	}

	clock.Add(int64(time.Minute) + 1)
	conflict("a repeat after the window", third.Unit.ID, "w", true, `3`)
}

// A repeat that arrives while the first report is still on its way to disk
// is answered only once the first is durable: a 200 for it is a promise.
func TestRepeatWaitsForTheFirstReport(t *testing.T) {
	j := &heldJournal{Memory: persistence.NewMemory(false)}
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x", "y"}, Options: []byte(`{}`)}))
	unit := mustOK(t, c.Dequeue("w", "a")).Unit

	j.stall()
	send := func() Reply {
		return c.Complete(Report{Unit: unit.ID, Worker: "w", Actions: "a", Succeeded: true, Output: []byte(`5`)})
	}
	first := answered(send)
	notYet(t, "the report", first)
	again := answered(send)
	notYet(t, "the repeat", again)
	j.release()
	a, b := mustOK(t, <-first), mustOK(t, <-again)
	if a.Outcome != OK || !reflect.DeepEqual(b.Unit, a.Unit) {
		t.Fatalf("the repeat's answer %d %+v, the first's %d %+v: want the same next unit", b.Outcome, b.Unit, a.Outcome, a.Unit)
	}
	if r := c.Dequeue("v", "a"); r.Outcome != NoContent {
		t.Fatalf("another worker got %+v: the next unit was leased twice", r.Unit)
	}
}
