package transport

import (
	"testing"
)

// POST /cleanup deletes the finished jobs older than older_than and says
// how many; a missing or bad older_than is a 400 that deletes nothing.
func TestCleanup(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["b"]}`) // stays unfinished
	s.take(t, "w", "graphics_magick")
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":1}`, ""))
	for _, bad := range []string{"", "soon", "-5", "-1h", "NaN"} {
		f := form("older_than", bad)
		if bad == "" {
			f = nil
		}
		wantError(t, "POST /cleanup older_than="+bad, s.do(t, "POST", "/cleanup", f), 400)
	}
	wantJSON(t, "GET /jobs/1 after refused cleanups", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":[1]}`)
	wantJSON(t, "POST /cleanup older_than=1h", s.do(t, "POST", "/cleanup", form("older_than", "1h")), `{"deleted":0}`)
	wantJSON(t, "POST /cleanup older_than=0", s.do(t, "POST", "/cleanup", form("older_than", "0")), `{"deleted":1}`)
	wantError(t, "GET /jobs/1 after the cleanup", s.do(t, "GET", "/jobs/1", nil), 404)
	if r := s.do(t, "GET", "/jobs/2", nil); r.Code != 200 {
		t.Fatalf("the unfinished job after the cleanup: %d %s", r.Code, r.Body)
	}
}
