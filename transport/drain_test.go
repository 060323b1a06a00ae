package transport

import (
	"strconv"
	"strings"
	"testing"
)

// Once the server drains (a shutdown is under way), it takes no new job
// and leases no unit, with a 503 that says why; the unit a worker holds is
// still reported, and queries still answer.
func TestDrainRefusesNewWorkOnly(t *testing.T) {
	s := startServer(t, nil)
	job := s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	held := s.take(t, "w", "graphics_magick")
	if held.Code != 200 {
		t.Fatalf("POST /work: %d %s", held.Code, held.Body)
	}
	s.Srv.Drain()

	for _, r := range []response{
		s.do(t, "POST", "/jobs", form("job", `{"action":"graphics_magick","inputs":["c"]}`)),
		s.take(t, "w2", "graphics_magick"),
	} {
		if r.Code != 503 || !strings.Contains(r.Body, "shutting down") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("while draining: %d %s (Retry-After %q), want 503 saying it is shutting down", r.Code, r.Body, r.Header.Get("Retry-After"))
		}
	}
	// A stopping worker reports without actions: no next unit.
	if r := s.report(t, 1, "w", "succeeded", `{"output":1}`, ""); r.Code != 204 {
		t.Fatalf("PUT /work/1 while draining: %d %s, want 204", r.Code, r.Body)
	}
	if r := s.do(t, "GET", "/jobs/"+strconv.FormatInt(job, 10), nil); r.Code != 200 || !strings.Contains(r.Body, `"status":"processing"`) {
		t.Fatalf("GET /jobs/%d while draining: %d %s", job, r.Code, r.Body)
	}
	if r := s.do(t, "GET", "/status", nil); r.Code != 200 {
		t.Fatalf("GET /status while draining: %d %s", r.Code, r.Body)
	}
}
