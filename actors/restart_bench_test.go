package actors

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRestart1M: a data dir holding 1,000,000 queued units (1,000 jobs
// of 1,000 inputs) after a clean shutdown (one snapshot), then the restart
// of a coordinator on it: open the log, load the snapshot, replay, start
// the actors, hand out the first unit. It reports the restart time and the
// process's resident memory with the units queued.
//
//	go test -run '^$' -bench Restart1M -benchtime 1x ./actors
func BenchmarkRestart1M(b *testing.B) {
	const jobs, inputs = 1000, 1000
	dir := b.TempDir()
	d := startDurable(b, dir)
	in := make([]string, inputs)
	for i := range in {
		in[i] = "https://example.com/documents/" + strconv.Itoa(i) + ".pdf"
	}
	for range jobs {
		if r := d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: in, Options: []byte(`{"size":"700x"}`)}); r.Outcome != OK {
			b.Fatal(r.Err)
		}
	}
	if err := d.snap.Take(); err != nil {
		b.Fatal(err)
	}
	d.stop(b)
	d = nil
	runtime.GC()
	debug.FreeOSMemory()
	base := rss(b)

	b.ResetTimer()
	var took time.Duration
	for range b.N {
		start := time.Now()
		d = startDurable(b, dir)
		if r := d.c.Dequeue("w", "graphics_magick"); r.Outcome != OK {
			b.Fatalf("first dequeue after restart: %v", r.Err)
		}
		took = time.Since(start)
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory()
		b.ReportMetric(float64(rss(b)-base)/(1<<20), "MB-rss-for-1M-units")
		b.ReportMetric(float64(rss(b))/(1<<20), "MB-rss-total")
		if qs, err := d.c.queueStats(); err != nil || qs.Incomplete != jobs*inputs {
			b.Fatalf("after restart: %+v %v, want %d incomplete units", qs, err, jobs*inputs)
		}
		d.c.Stop(context.Background())
		d.wal.Close()
		b.StartTimer()
	}
	b.ReportMetric(took.Seconds(), "s-restart")
}

// rss is the process's resident memory in bytes.
func rss(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
