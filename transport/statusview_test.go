package transport

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// jobLine is the Job document of an incomplete, untouched job with n
// processing units (time_taken masked).
func jobLine(id int64, n int) string {
	return `{"id":` + strconv.FormatInt(id, 10) + `,"color":"` + colorOf(id) + `","status":"processing","percent_complete":0,"work_units":` + strconv.Itoa(n) + `,"time_taken":T}`
}

func TestStatusListsTheOldestStatusJobs(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.settings.StatusJobs = 5 })
	for i := 1; i <= 8; i++ {
		s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`)
	}
	r := s.do(t, "GET", "/status", nil)
	if got := topKeys(t, r.Body); !slices.Equal(got, []string{"jobs", "workers", "work_unit_count", "job_count", "jobs_by_status", "units"}) {
		t.Fatalf("/status keys %v", got)
	}
	body := maskTimes(t, r.Body)
	var jobs []string
	for id := int64(1); id <= 5; id++ {
		jobs = append(jobs, jobLine(id, 2))
	}
	want := `{"jobs":[` + strings.Join(jobs, ",") + `],"workers":[],"work_unit_count":16,"job_count":8,` +
		`"jobs_by_status":{"processing":8,"succeeded":0,"failed":0,"splitting":0,"merging":0},"units":{"ready":16,"leased":0,"waiting":0}}`
	if body != want {
		t.Fatalf("GET /status\n got %s\nwant %s", body, want)
	}

	// Complete job 1 and take a unit of job 2: job 1 leaves the list, job 6
	// enters it.
	wantJSON(t, "POST /work", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":1}`, "graphics_magick"), unitJSON(2, 1, "b", 0, "graphics_magick", 1))
	wantJSON(t, "PUT /work/2", s.report(t, 2, "w", "succeeded", `{"output":2}`, "graphics_magick"), unitJSON(3, 2, "a", 0, "graphics_magick", 1))
	jobs = []string{
		`{"id":2,"color":"c14862","status":"processing","percent_complete":0,"work_units":2,"time_taken":T}`,
		jobLine(3, 2), jobLine(4, 2), jobLine(5, 2), jobLine(6, 2),
	}
	want = `{"jobs":[` + strings.Join(jobs, ",") + `],"workers":[{"name":"w","status":"processing"}],"work_unit_count":14,"job_count":7,` +
		`"jobs_by_status":{"processing":7,"succeeded":1,"failed":0,"splitting":0,"merging":0},"units":{"ready":13,"leased":1,"waiting":0}}`
	s.statusEventually(t, want)
}
