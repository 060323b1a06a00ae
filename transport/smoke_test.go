package transport

import "testing"

func TestWordCountByHand(t *testing.T) {
	s := startServer(t, nil)
	r := s.do(t, "POST", "/jobs", form("job", `{"action":"word_count","inputs":["hello big world","two words"]}`))
	if r.Code != 200 || r.Body != `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":2,"time_taken":0}` {
		t.Fatalf("POST /jobs = %d %s", r.Code, r.Body)
	}
	r = s.do(t, "POST", "/work", form("worker_name", "w", "worker_actions", "word_count"))
	if r.Code != 200 || r.Body != `{"id":1,"job_id":1,"input":"hello big world","attempts":0,"action":"word_count","options":{},"status":1}` {
		t.Fatalf("POST /work = %d %s", r.Code, r.Body)
	}
	r = s.do(t, "PUT", "/work/1", form("status", "succeeded", "output", `{"output":3}`, "worker_name", "w", "worker_actions", "word_count"))
	if r.Code != 200 || r.Body != `{"id":2,"job_id":1,"input":"two words","attempts":0,"action":"word_count","options":{},"status":1}` {
		t.Fatalf("PUT /work/1 = %d %s", r.Code, r.Body)
	}
	r = s.do(t, "PUT", "/work/2", form("status", "succeeded", "output", `{"output":2}`, "worker_name", "w", "worker_actions", "word_count"))
	if r.Code != 200 || r.Body != `{"id":3,"job_id":1,"input":"[3,2]","attempts":0,"action":"word_count","options":{},"status":5}` {
		t.Fatalf("PUT /work/2 = %d %s", r.Code, r.Body)
	}
	r = s.do(t, "PUT", "/work/3", form("status", "succeeded", "output", `{"output":5}`, "worker_name", "w", "worker_actions", "word_count"))
	if r.Code != 204 || r.Body != "" {
		t.Fatalf("PUT /work/3 = %d %q", r.Code, r.Body)
	}
	r = s.do(t, "GET", "/jobs/1", nil)
	const prefix = `{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":`
	if r.Code != 200 || len(r.Body) < len(prefix) || r.Body[:len(prefix)] != prefix || r.Body[len(r.Body)-15:] != `,"outputs":[5]}` {
		t.Fatalf("GET /jobs/1 = %d %s", r.Code, r.Body)
	}
}
