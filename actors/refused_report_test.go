package actors

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

// When a job refuses a report (over HTTP, a DELETE racing it; here a split
// output that is not JSON, which transport would have refused first), the
// unit the dispatcher had taken as the worker's next one is ready again for
// anyone, its attempt not counted: the worker never heard of it.
func TestRefusedReportReturnsTheNextUnit(t *testing.T) {
	c := startTest(t, persistence.NewMemory(true), nil)
	const acts = "process_pdfs,graphics_magick"
	mustOK(t, c.CreateJob(JobSpec{Action: "process_pdfs", Split: true, Inputs: []string{"doc"}, Options: []byte(`{}`)}))
	split := mustOK(t, c.Dequeue("w", acts)).Unit
	mustOK(t, c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"img"}, Options: []byte(`{}`)}))

	r := c.Complete(Report{Unit: split.ID, Worker: "w", Actions: acts, Succeeded: true, Output: []byte(`[1,`)})
	if r.Outcome != Invalid {
		t.Fatalf("a split output that is not JSON: outcome %d, want Invalid", r.Outcome)
	}
	next := c.Dequeue("other", acts)
	if next.Outcome != OK || next.Unit.JobID != 2 || next.Unit.Attempts != 0 {
		t.Fatalf("the other job's unit after the refused report: outcome %d, %+v; want it ready, with 0 attempts", next.Outcome, next.Unit)
	}
}

// A worker that gives up waiting for the answer to its report (the journal
// was slow past the request timeout) never hears of the next unit that
// answer carried: the unit goes back to the queue for anyone, rather than
// stay leased to the worker.
func TestAbandonedAnswerReturnsTheNextUnit(t *testing.T) {
	j := &heldJournal{Memory: persistence.NewMemory(false)}
	c, err := Start(Settings{RequestTimeout: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x", "y"}, Options: []byte(`{}`)}))
	first := mustOK(t, c.Dequeue("w", "a")).Unit

	j.stall()
	if r := c.Complete(Report{Unit: first.ID, Worker: "w", Actions: "a", Succeeded: true, Output: []byte(`1`)}); r.Outcome != Unavailable {
		t.Fatalf("the report while the journal stalls: outcome %d, want Unavailable (timed out)", r.Outcome)
	}
	j.release() // the report is durable now; its answer, with the next unit, finds no one
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := c.Dequeue("other", "a")
		if r.Outcome == OK {
			if r.Unit.ID == first.ID || r.Unit.Input != "y" || r.Unit.Attempts != 0 {
				t.Fatalf("leased %+v, want the job's second unit, with 0 attempts", r.Unit)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the next unit stayed leased to the worker that gave up waiting")
		}
	}
}
