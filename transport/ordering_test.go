package transport

import (
	"strconv"
	"testing"
)

// A 2xx answer means the change is made: a worker's next POST /work sees the
// units of a job just created, and never a unit of a job just deleted. (The
// other tests read a job back with GET /jobs/:id after POST /jobs and
// DELETE, which waits for the job's actor, so they do not depend on this.)
// When a job's effects were sent after its answer, these failed under
// -race within a few hundred rounds.

func TestCreatedUnitsVisibleToTheNextDequeue(t *testing.T) {
	s := startServer(t, nil)
	for i := 1; i <= 1000; i++ {
		r := s.do(t, "POST", "/jobs", form("job", `{"action":"graphics_magick","inputs":["a"]}`))
		if r.Code != 200 {
			t.Fatalf("POST /jobs = %d %s", r.Code, r.Body)
		}
		if r := s.take(t, "w", "graphics_magick"); r.Code != 200 {
			t.Fatalf("round %d: POST /work right after POST /jobs = %d %q, want job %d's unit", i, r.Code, r.Body, i)
		}
		wantNoContent(t, "PUT /work", s.report(t, int64(i), "w", "succeeded", `{"output":1}`, ""))
	}
}

func TestDeletedUnitsNeverHandedOut(t *testing.T) {
	s := startServer(t, nil)
	for i := 1; i <= 1000; i++ {
		s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
		wantNoContent(t, "DELETE", s.do(t, "DELETE", "/jobs/"+strconv.Itoa(i), nil))
		if r := s.take(t, "w", "graphics_magick"); r.Code != 204 {
			t.Fatalf("round %d: POST /work right after DELETE /jobs/%d = %d %s, want 204", i, i, r.Code, r.Body)
		}
	}
}
