package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/internal/crowdbin"
)

// BenchmarkHeld5000: 5,000 POST /work held at once (wait=20) by a real
// `crowd server`, from 5,000 connections. It reports the server's resident
// memory and CPU while they are held, and fails if a heartbeat goes
// unanswered meanwhile.
//
//	go test -run '^$' -bench Held5000 -benchtime 1x ./cmd/crowd
func BenchmarkHeld5000(b *testing.B) {
	const n = 5000
	s := startServer(b, "server", filepath.Join(b.TempDir(), "data"), serverConfig{})
	tr := &http.Transport{MaxConnsPerHost: n + 10, MaxIdleConnsPerHost: n + 10}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()
	rss0, cpu0 := procUsage(b, s.cmd.Process.Pid)
	var wg sync.WaitGroup
	var answered atomic.Int64
	b.ResetTimer()
	for i := range n {
		wg.Go(func() {
			form := url.Values{"worker_name": {"w" + strconv.Itoa(i)}, "worker_actions": {"graphics_magick"}, "wait": {"20"}}
			resp, err := hc.PostForm(s.url()+"/work", form)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				answered.Add(1)
			}
		})
	}
	time.Sleep(5 * time.Second) // all connected and held
	_, cpu1 := procUsage(b, s.cmd.Process.Pid)
	start := time.Now()
	for range 10 {
		resp, err := http.Get(s.url() + "/heartbeat")
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("GET /heartbeat with %d requests held: %v", n, err)
		}
		resp.Body.Close()
		time.Sleep(time.Second)
	}
	rss, cpu2 := procUsage(b, s.cmd.Process.Pid)
	b.ReportMetric(float64(rss)/(1<<20), "MB-rss-held")
	b.ReportMetric(float64(rss-rss0)/float64(n)/1024, "KB-rss-per-held")
	b.ReportMetric((cpu2-cpu1).Seconds()/time.Since(start).Seconds()*100, "%cpu-while-held")
	b.ReportMetric((cpu1 - cpu0).Seconds(), "cpu-s-to-hold")
	wg.Wait()
	b.StopTimer()
	if answered.Load() != n {
		b.Fatalf("%d of %d held requests ended with 204", answered.Load(), n)
	}
}

// procUsage reads a process's resident memory and CPU time from /proc.
func procUsage(t testing.TB, pid int) (rss int64, cpu time.Duration) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skip("no /proc")
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return rss, time.Duration(utime+stime) * (time.Second / 100) // clock ticks of 10 ms
}

// BenchmarkSteadyWorkers: a steady load through real processes: a `crowd
// server` (group commit, snapshots every 100,000 records, as by default)
// and two `crowd worker` processes of 32 slots, long-polling when idle,
// while 1,000 word_count jobs of one input a second (2,000 units: the
// count and the merge) are submitted, for CROWD_STEADY_FOR (default 60s;
// the run is 10m). It reports the PUT /work latencies the server
// measured (its /metrics histogram, whose buckets include 10 and 25 ms):
// the share answered within 10 ms and 25 ms, and the bucket the p99 and
// p99.9 fall in; and the jobs that did not finish.
//
//	CROWD_STEADY_FOR=10m go test -run '^$' -bench SteadyWorkers -benchtime 1x -timeout 30m ./cmd/crowd
func BenchmarkSteadyWorkers(b *testing.B) {
	steadyFor := time.Minute
	if d, err := time.ParseDuration(os.Getenv("CROWD_STEADY_FOR")); err == nil {
		steadyFor = d
	}
	const jobsPerSecond = 1000
	s := startServer(b, "server", filepath.Join(b.TempDir(), "data"), serverConfig{})
	for i := range 2 {
		cmd := exec.Command(crowdbin.Path(b), "worker", "--server", s.url(), "--concurrency", "32")
		cmd.Env = append(crowdbin.Env(), "CROWD_TEMP_STORAGE_PATH="+b.TempDir(), "CROWD_LOCAL_STORAGE_PATH="+b.TempDir())
		out := &crowdbin.Output{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if b.Failed() {
				b.Logf("worker %d:\n%s", i, tail(out.String(), logTail))
			}
		})
	}
	c := newAPIClient(s.url())
	defer c.close()
	time.Sleep(2 * time.Second) // the workers check in
	before := putWorkBuckets(b, c)

	b.ResetTimer()
	var submitted, failed atomic.Int64
	var ids sync.Map
	var wg sync.WaitGroup
	const submitters = 8
	start := time.Now()
	for g := range submitters {
		wg.Go(func() {
			interval := time.Second * submitters / jobsPerSecond
			next := start.Add(time.Duration(g) * interval / submitters)
			for time.Since(start) < steadyFor {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				j, _, err := c.submit(wc, []string{"one two three"})
				if err != nil {
					failed.Add(1)
					continue
				}
				submitted.Add(1)
				ids.Store(j.ID, true)
			}
		})
	}
	wg.Wait()
	// Give the last jobs a moment, then count the unfinished.
	time.Sleep(3 * time.Second)
	b.StopTimer()
	after := putWorkBuckets(b, c)
	unfinished := 0
	ids.Range(func(k, _ any) bool {
		if doc, _, ok, err := c.job(k.(int64)); err != nil || !ok || !doc.complete() {
			unfinished++
		}
		return true
	})
	count := after["+Inf"] - before["+Inf"]
	within := func(le string) float64 { return float64(after[le]-before[le]) / count }
	b.ReportMetric(float64(submitted.Load())/steadyFor.Seconds(), "jobs/s")
	b.ReportMetric(count/steadyFor.Seconds(), "PUT/s")
	b.ReportMetric(100*within("0.01"), "%PUT-within-10ms")
	b.ReportMetric(100*within("0.025"), "%PUT-within-25ms")
	b.ReportMetric(float64(unfinished), "unfinished-jobs")
	b.ReportMetric(float64(failed.Load()), "failed-submits")
	b.Logf("PUT /work: p99 in the bucket up to %s s, p99.9 up to %s s", bucketOf(before, after, 0.99), bucketOf(before, after, 0.999))
}

// putWorkBuckets reads the server's cumulative PUT /work/{id} histogram.
func putWorkBuckets(b *testing.B, c *apiClient) map[string]float64 {
	code, body, err := c.do("GET", "/metrics", nil)
	if err != nil || code != 200 {
		b.Fatalf("GET /metrics: %d %v", code, err)
	}
	buckets := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	const prefix = `crowd_http_request_duration_seconds_bucket{route="PUT /work/{id}",le="`
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			le, v, _ := strings.Cut(rest, `"} `)
			buckets[le], _ = strconv.ParseFloat(v, 64)
		}
	}
	return buckets
}

// bucketOf names the upper bound of the bucket where quantile q falls.
func bucketOf(before, after map[string]float64, q float64) string {
	total := after["+Inf"] - before["+Inf"]
	best, bestLe := "", 0.0
	for le, n := range after {
		v, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" || err != nil {
			continue
		}
		if (n-before[le])/total >= q && (best == "" || v < bestLe) {
			best, bestLe = le, v
		}
	}
	if best == "" {
		return "+Inf"
	}
	return best
}
