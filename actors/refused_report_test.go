package actors

import (
	"testing"

	"github.com/documentcloud/crowd/persistence"
)

// When a job refuses a report (here a split unit's output that is not JSON;
// over HTTP, a DELETE racing the report), the dispatcher gets back both
// units it set aside: the unit the worker had taken as its next one, which
// the worker never heard of, and the reported unit itself, whose attempt
// does not count. Both are ready again for anyone.
func TestRefusedReportReturnsItsUnits(t *testing.T) {
	c := startTest(t, persistence.NewMemory(true), nil)
	const acts = "process_pdfs,graphics_magick"
	mustOK(t, c.CreateJob(JobSpec{Action: "process_pdfs", Split: true, Inputs: []string{"doc"}, Options: []byte(`{}`)}))
	split := mustOK(t, c.Dequeue("w", acts)).Unit
	mustOK(t, c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"img"}, Options: []byte(`{}`)}))

	// The queue settles a success as soon as it is reported.
	r := c.Complete(Report{Unit: split.ID, Worker: "w", Actions: acts, Succeeded: true, Output: []byte(`[1,`)})
	if r.Outcome != Invalid {
		t.Fatalf("a split output that is not JSON: outcome %d, want Invalid", r.Outcome)
	}
	got := map[int64]int{} // unit -> attempts
	for range 2 {
		next := c.Dequeue("other", acts)
		if next.Outcome != OK {
			t.Fatalf("got %v, then outcome %d: the refused report's units are not both ready", got, next.Outcome)
		}
		got[next.Unit.ID] = next.Unit.Attempts
	}
	if attempts, ok := got[split.ID]; !ok || attempts != 0 {
		t.Fatalf("leased %v: want the refused unit %d again, with 0 attempts", got, split.ID)
	}
	if r := c.Dequeue("other", acts); r.Outcome != NoContent {
		t.Fatalf("a third unit was leased (outcome %d): a unit is queued twice", r.Outcome)
	}
}
