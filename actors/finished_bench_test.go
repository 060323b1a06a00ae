package actors

import (
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// BenchmarkFinished1M: a data dir whose snapshot holds 1,000,000 finished
// 1-input jobs (CROWD_FINISHED_JOBS for another number), each with a URL
// for input and output and a worker's name, as a graphics_magick job has.
// It reports the restart on it (load, replay, start, the first GET), the
// process's resident memory holding them, and one snapshot taken with
// 1,000 active jobs more, while a worker's report-and-next-unit round trips
// are timed.
//
//	go test -run '^$' -bench Finished1M -benchtime 1x ./actors
func BenchmarkFinished1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("CROWD_FINISHED_JOBS")); err == nil {
		n = v
	}
	for _, shape := range []jobShape{smallJob, urlJob} {
		b.Run(shape.name, func(b *testing.B) { benchmarkFinished(b, n, shape) })
	}
}

// jobShape is what a benchmark's finished jobs hold.
type jobShape struct {
	name            string
	options, worker string
	input, output   func(i int) string // JSON
}

var (
	// smallJob is the job finishJobs makes, which measured the 3 KB a
	// finished job took in its actor.
	smallJob = jobShape{name: "small", options: `{}`, worker: "w",
		input:  func(i int) string { return `"input ` + strconv.Itoa(i) + `"` },
		output: func(int) string { return `"out"` }}
	// urlJob is a graphics_magick job: a URL in, a URL out, its steps.
	urlJob = jobShape{name: "urls", options: `{"steps":[{"name":"thumb","command":"convert input.tiff -resize 200x thumb.png"}]}`,
		worker: "3.41877@worker-07",
		input:  func(i int) string { return `"https://assets.example.com/scans/2026/12/` + strconv.Itoa(i) + `.tiff"` },
		output: func(i int) string {
			return `"https://assets.example.com/graphics_magick/job_` + strconv.Itoa(i) + `/thumb.png"`
		}}
)

func benchmarkFinished(b *testing.B, n int, shape jobShape) {
	dir := b.TempDir()
	writeFinishedSnapshot(b, dir, n, shape)
	runtime.GC()
	debug.FreeOSMemory()
	base := rss(b)

	b.ResetTimer()
	start := time.Now()
	d := startDurable(b, dir)
	if r := d.c.Job(int64(n)); r.Outcome != OK || r.Job.Status != "succeeded" {
		b.Fatalf("job %d after the restart: %d %v", n, r.Outcome, r.Err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "s-restart")
	b.StopTimer()
	defer d.stop(b)
	runtime.GC()
	debug.FreeOSMemory()
	b.ReportMetric(float64(rss(b))/(1<<20), "MB-rss-total")
	b.ReportMetric(float64(rss(b)-base)/(1<<20), "MB-rss-for-finished")

	for i := range 1000 {
		mustOK(b, d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"active " + strconv.Itoa(i)}, Options: []byte(`{}`)}))
	}
	inputs := make([]string, 100000)
	for i := range inputs {
		inputs[i] = "input " + strconv.Itoa(i)
	}
	mustOK(b, d.c.CreateJob(JobSpec{Action: "process_pdfs", Inputs: inputs, Options: []byte(`{}`)}))
	unit := mustOK(b, d.c.Dequeue("w", "process_pdfs")).Unit.ID
	var took []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			r := d.c.Complete(Report{Unit: unit, Worker: "w", Actions: "process_pdfs", Succeeded: true, Output: []byte(`1`)})
			if r.Outcome != OK {
				b.Errorf("report: outcome %d: %v", r.Outcome, r.Err)
				return
			}
			took = append(took, time.Since(t0))
			unit = r.Unit.ID
		}
	})
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if err := d.snap.Take(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "s-snapshot")
	close(stop)
	wg.Wait()
	slices.Sort(took)
	b.ReportMetric(float64(len(took)), "round-trips")
	b.ReportMetric(float64(took[len(took)*999/1000].Microseconds())/1000, "p99.9-ms-round-trip")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms-round-trip")
}

// writeFinishedSnapshot writes a snapshot of n finished 1-input jobs into
// dir, as a coordinator would have.
func writeFinishedSnapshot(b *testing.B, dir string, n int, shape jobShape) {
	parts := make([][]byte, n)
	var buf []byte
	for i := range n {
		id := int64(i + 1)
		job, _ := core.NewJob(&core.JobCreated{Job: id, Action: "graphics_magick", FirstUnit: id, MaxAttempts: 3,
			Inputs: []string{shape.input(i)}, Options: []byte(shape.options), At: 1_790_000_000e9 + id*1e6})
		ev := &core.UnitFinished{Job: id, Seq: 2, Unit: id, Succeeded: true, Worker: shape.worker, Time: 1.25,
			Output: []byte(shape.output(i)), At: 1_790_000_000e9 + id*1e6 + 2e9}
		if _, err := job.Apply(ev); err != nil {
			b.Fatal(err)
		}
		st := job.State()
		start := len(buf)
		buf = persistence.AppendJob(buf, &st)
		parts[i] = buf[start:len(buf):len(buf)]
	}
	if err := persistence.WriteSnapshotOf(dir, 1, 0, persistence.Snapshot{LastJob: int64(n), LastUnit: int64(n)}, parts); err != nil {
		b.Fatal(err)
	}
}
