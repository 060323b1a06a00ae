package transport

import (
	"encoding/json"
	"testing"

	"github.com/documentcloud/crowd/actors"
)

// With 100,000 incomplete jobs /status lists the oldest 1,000 and counts
// them all. (How fast it answers is BenchmarkStatus100k's business.)
func TestStatusCapsTheJobListAndCountsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100,000 jobs")
	}
	const jobs = 100_000
	s := startServer(t, func(c *serverConfig) { c.forget = true })
	createJobs(t, s, jobs)
	var st struct {
		Jobs          []struct{ ID int64 } `json:"jobs"`
		WorkUnitCount int                  `json:"work_unit_count"`
		JobCount      int                  `json:"job_count"`
		JobsByStatus  map[string]int       `json:"jobs_by_status"`
	}
	r := s.do(t, "GET", "/status", nil)
	if err := json.Unmarshal([]byte(r.Body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Jobs) != 1000 || st.Jobs[0].ID != 1 || st.Jobs[999].ID != 1000 {
		t.Fatalf("jobs: %d listed, first %v", len(st.Jobs), st.Jobs[:min(2, len(st.Jobs))])
	}
	if st.JobCount != jobs || st.WorkUnitCount != jobs || st.JobsByStatus["processing"] != jobs {
		t.Fatalf("job_count %d, work_unit_count %d, by status %v; want %d each", st.JobCount, st.WorkUnitCount, st.JobsByStatus, jobs)
	}
}

func createJobs(t testing.TB, s *testServer, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := s.Co.CreateJob(actors.JobSpec{Action: "graphics_magick", Inputs: []string{"x"}, Options: []byte("{}")})
		if r.Outcome != actors.OK {
			t.Fatalf("create job %d: %v", i, r.Err)
		}
	}
}

func BenchmarkStatus100k(b *testing.B) {
	s := startServer(b, func(c *serverConfig) { c.forget = true })
	createJobs(b, s, 100_000)
	b.ResetTimer()
	for range b.N {
		if r := s.do(b, "GET", "/status", nil); r.Code != 200 {
			b.Fatal(r.Code)
		}
	}
}
