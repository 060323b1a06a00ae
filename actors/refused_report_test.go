package actors

import (
	"testing"

	"github.com/documentcloud/crowd/persistence"
)

// When a job refuses a report (here a split unit's output that is not JSON;
// over HTTP, a DELETE racing the report), the unit the dispatcher had taken
// as the worker's next one is ready again for anyone: the worker never
// heard of it.
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
	if next.Outcome != OK || next.Unit.JobID != 2 {
		t.Fatalf("the other job's unit is not ready after the refused report: outcome %d", next.Outcome)
	}
}
