package transport

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/metrics"
)

// GET /metrics: Prometheus's text format, with the coordinator's counts,
// request latencies per route and the write-ahead log's fsyncs.

// scrape reads GET /metrics into series -> value; a series is its name and
// labels as the text format writes them.
func (s *testServer) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	r := s.do(t, "GET", "/metrics", nil)
	if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q %.300s", r.Code, r.Header.Get("Content-Type"), r.Body)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(r.Body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: line %q is not a sample", line)
		}
		out[line[:i]] = v
	}
	return out
}

// wantSeries requires each series to have its value.
func wantSeries(t testing.TB, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("GET /metrics has no %s", k)
		} else if g != v {
			t.Errorf("GET /metrics: %s = %v, want %v", k, g, v)
		}
	}
}

// scrapeEventually polls GET /metrics until each series has its value (the
// job index learns of status changes just after they are answered).
func (s *testServer) scrapeEventually(t testing.TB, want map[string]float64) map[string]float64 {
	t.Helper()
	var got map[string]float64
	pollUntil(t, 10*time.Second, "GET /metrics to show the counts", func() (bool, string) {
		got = s.scrape(t)
		var off []string
		for k, v := range want {
			if got[k] != v {
				off = append(off, fmt.Sprintf("%s = %v, want %v", k, got[k], v))
			}
		}
		return len(off) == 0, strings.Join(off, "; ")
	})
	return got
}

func route(name string) string {
	return `crowd_http_request_duration_seconds_count{route="` + name + `"}`
}

func TestMetricsCountsAndLatencies(t *testing.T) {
	m := metrics.New()
	s := startWALServer(t, t.TempDir(), func(c *serverConfig) {
		c.opts.Metrics = m
		c.settings.WorkerTimeout = time.Second
		c.settings.WorkUnitRetries = 3
	})
	const gm = "graphics_magick"
	posts, puts := 0, 0
	take := func(worker string) response { posts++; return s.take(t, worker, gm) }
	report := func(unit int64, worker, status, output, actions string) response {
		puts++
		return s.report(t, unit, worker, status, output, actions)
	}
	// takeUnit polls POST /work until worker gets unit.
	takeUnit := func(worker string, unit int64, attempts int) {
		t.Helper()
		pollUntil(t, 10*time.Second, worker+" to get unit "+strconv.FormatInt(unit, 10), func() (bool, string) {
			r := take(worker)
			if r.Code == 204 {
				return false, "204"
			}
			u := decodeUnit(t, "POST /work by "+worker, r)
			if u.ID != unit || u.Attempts != attempts {
				t.Fatalf("%s got %+v, want unit %d with attempts %d", worker, u, unit, attempts)
			}
			return true, ""
		})
	}

	got := s.scrape(t)
	wantSeries(t, got, map[string]float64{
		route("PUT /work/{id}"): 0, route("POST /work"): 0, route("GET /console/summary"): 0,
		route("DELETE /blacklist/{action}"): 0, route("POST /console/jobs/{id}/retry"): 0,
		"crowd_units_succeeded_total": 0, "crowd_lease_recoveries_total": 0, `crowd_jobs{status="processing"}`: 0,
		`crowd_units{state="ready"}`: 0, "crowd_paused_actions": 0, "crowd_workers": 0,
	})
	if _, ok := got["crowd_wal_bytes"]; !ok {
		t.Errorf("GET /metrics has no crowd_wal_bytes with a write-ahead log")
	}

	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b","c"]}`) // units 1-3
	s.mustCreate(t, `{"action":"word_count","inputs":["x"]}`)              // unit 4
	takeUnit("w1", 1, 0)
	wantJSON(t, "PUT /work/1", report(1, "w1", "succeeded", `{"output":1}`, gm), unitJSON(2, 1, "b", 0, gm, 1))
	wantJSON(t, "PUT /work/2", report(2, "w1", "succeeded", `{"output":2}`, gm), unitJSON(3, 1, "c", 0, gm, 1))
	wantNoContent(t, "PUT /work/3 failed", report(3, "w1", "failed", `{"output":"no"}`, gm))
	wantError(t, "PUT /work/3 by a worker that does not hold it", report(3, "w9", "succeeded", `{"output":3}`, gm), 409)
	takeUnit("w2", 3, 1)
	s.scrapeEventually(t, map[string]float64{
		`crowd_units{state="ready"}`: 1, `crowd_units{state="leased"}`: 1, `crowd_units{state="waiting"}`: 0,
		`crowd_jobs{status="processing"}`: 2, "crowd_units_succeeded_total": 2, "crowd_attempts_failed_total": 1,
	})
	// w2 goes silent: after worker_timeout its lease is taken back, the
	// attempt counted, and w1 gets the unit.
	takeUnit("w1", 3, 2)
	wantNoContent(t, "PUT /work/3", report(3, "w1", "succeeded", `{"output":3}`, gm))
	if r := s.do(t, "POST", "/blacklist", form("action", "process_pdfs")); r.Code != 200 {
		t.Fatalf("POST /blacklist = %d %s", r.Code, r.Body)
	}

	got = s.scrapeEventually(t, map[string]float64{
		`crowd_jobs{status="processing"}`: 1, `crowd_jobs{status="succeeded"}`: 1, `crowd_jobs{status="failed"}`: 0,
		`crowd_jobs{status="splitting"}`: 0, `crowd_jobs{status="merging"}`: 0,
		`crowd_units{state="ready"}`: 1, `crowd_units{state="leased"}`: 0, `crowd_units{state="waiting"}`: 0,
		"crowd_units_succeeded_total": 3, "crowd_units_failed_total": 0, "crowd_attempts_failed_total": 2,
		"crowd_lease_recoveries_total": 1, "crowd_jobs_created_total": 2, "crowd_paused_actions": 1,
	})
	wantSeries(t, got, map[string]float64{
		route("PUT /work/{id}"): float64(puts), route("POST /work"): float64(posts), route("POST /jobs"): 2,
		route("GET /jobs/{id}"): 2, route("POST /blacklist"): 1, route("GET /console/summary"): 0,
		// The log's records: 2 jobs created, 4 reports, 1 lost lease, 1 pause.
		"crowd_wal_batch_records_sum": 8,
	})
	if puts != 5 {
		t.Errorf("the test sent %d PUT /work requests, want 5", puts)
	}
	for _, k := range []string{"crowd_wal_fsync_duration_seconds_count", "crowd_wal_fsync_duration_seconds_sum",
		"crowd_wal_batch_records_count", "crowd_wal_bytes", `crowd_wal_fsync_duration_seconds_bucket{le="+Inf"}`} {
		if got[k] <= 0 {
			t.Errorf("GET /metrics: %s = %v, want > 0", k, got[k])
		}
	}
	if b := got["crowd_wal_batch_records_count"]; b > 8 {
		t.Errorf("crowd_wal_batch_records_count = %v, more batches than records", b)
	}
	// The summary reads the same log.
	doc, _ := s.summary(t)
	if doc.WAL == nil || doc.WAL.Bytes != int64(got["crowd_wal_bytes"]) {
		t.Errorf("summary wal %+v, crowd_wal_bytes %v", doc.WAL, got["crowd_wal_bytes"])
	}
	// Each scrape is one request more of its route, and /metrics is not
	// timed as a route of its own.
	got = s.scrape(t)
	wantSeries(t, got, map[string]float64{route("GET /console/summary"): 1})
	for k := range got {
		if strings.Contains(k, `route="GET /metrics"`) {
			t.Errorf("GET /metrics is timed: %s", k)
		}
	}
}

// With the memory journal there is no log: no fsync, no log size.
func TestMetricsWithoutALog(t *testing.T) {
	m := metrics.New()
	s := startServer(t, func(c *serverConfig) { c.opts.Metrics = m })
	m.Watch(s.Co)
	s.mustCreate(t, `{"action":"word_count","inputs":["a","b"]}`)
	got := s.scrapeEventually(t, map[string]float64{`crowd_jobs{status="processing"}`: 1, `crowd_units{state="ready"}`: 2})
	if _, ok := got["crowd_wal_bytes"]; ok {
		t.Errorf("crowd_wal_bytes without a log")
	}
	wantSeries(t, got, map[string]float64{"crowd_wal_fsync_duration_seconds_count": 0, "crowd_wal_batch_records_count": 0,
		"crowd_jobs_created_total": 1})
	if _, ok := got["go_goroutines"]; !ok {
		t.Errorf("GET /metrics has no go_goroutines")
	}
}

// Without Options.Metrics there is no /metrics route.
func TestMetricsOffByDefault(t *testing.T) {
	s := startServer(t, nil)
	wantError(t, "GET /metrics", s.do(t, "GET", "/metrics", nil), 404)
}
