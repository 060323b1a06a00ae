package actors

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// A failed job retried and finished after one snapshot is restored from
// the next one as it is now, with the log before that one trimmed. (A
// snapshot that reused a finished job's earlier state would lose it.)
func TestSnapshotAfterAFinishedJobChanges(t *testing.T) {
	dir := t.TempDir()
	d := startDurable(t, dir)
	mustOK(t, d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a"}, Options: []byte(`{}`)}))
	for attempt := 0; attempt < 2; attempt++ { // WorkUnitRetries is 2: the job fails
		r := mustOK(t, d.c.Dequeue("w", "graphics_magick"))
		mustOK(t, d.c.Complete(Report{Unit: r.Unit.ID, Worker: "w", Succeeded: false, Output: []byte(`"no"`)}))
	}
	if got := mustOK(t, d.c.Job(1)).Job.Status; got != "failed" {
		t.Fatalf("job 1 is %s, want failed", got)
	}
	if err := d.snap.Take(); err != nil {
		t.Fatal(err)
	}
	mustOK(t, d.c.RetryJob(1))
	r := mustOK(t, d.c.Dequeue("w", "graphics_magick"))
	mustOK(t, d.c.Complete(Report{Unit: r.Unit.ID, Worker: "w", Succeeded: true, Output: []byte(`"yes"`)}))
	if err := d.snap.Take(); err != nil {
		t.Fatal(err)
	}
	restart(t, d, dir, 1, "after the restart").stop(t)
}

// A snapshot of a coordinator that holds many finished jobs: the common
// case once a server has run for a while. Every job is asked for its state,
// so the cost grows with the jobs kept (30 to 50 ms for 20,000 here).
func BenchmarkSnapshotFinishedJobs(b *testing.B) {
	d := startDurable(b, b.TempDir())
	defer d.stop(b)
	finishJobs(b, d.c, 20000)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := d.c.snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}

// What a snapshot of 20,000 finished jobs costs the work going on meanwhile:
// a worker's report-and-next-unit round trips, timed while snapshots run
// back to back, next to the same round trips with no snapshot.
func BenchmarkSnapshotStall(b *testing.B) {
	d := startDurable(b, b.TempDir())
	defer d.stop(b)
	finishJobs(b, d.c, 20000)
	inputs := make([]string, 100000)
	for i := range inputs {
		inputs[i] = "input " + strconv.Itoa(i)
	}
	if r := d.c.CreateJob(JobSpec{Action: "process_pdfs", Inputs: inputs, Options: []byte(`{}`)}); r.Outcome != OK {
		b.Fatal(r.Err)
	}
	unit := mustOK(b, d.c.Dequeue("w", "process_pdfs")).Unit.ID
	roundTrips := func(n int) []time.Duration {
		took := make([]time.Duration, n)
		for i := range took {
			start := time.Now()
			r := d.c.Complete(Report{Unit: unit, Worker: "w", Actions: "process_pdfs", Succeeded: true, Output: []byte(`1`)})
			if r.Outcome != OK {
				b.Fatalf("report: outcome %d: %v", r.Outcome, r.Err)
			}
			took[i] = time.Since(start)
			unit = r.Unit.ID
		}
		return took
	}
	quiet := roundTrips(2000)
	b.ResetTimer()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := d.c.snapshot(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	busy := roundTrips(2000 * b.N)
	close(stop)
	wg.Wait()
	b.StopTimer()
	for name, took := range map[string][]time.Duration{"quiet": quiet, "snapshots": busy} {
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs-"+name)
		b.ReportMetric(float64(took[len(took)-1].Microseconds()), "max-µs-"+name)
	}
}

// finishJobs creates n one-input jobs and completes them.
func finishJobs(b *testing.B, c *Coordinator, n int) {
	for i := 0; i < n; i++ {
		if r := c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"input " + strconv.Itoa(i)}, Options: []byte(`{}`)}); r.Outcome != OK {
			b.Fatal(r.Err)
		}
		r := c.Dequeue("w", "graphics_magick")
		if r.Outcome != OK {
			b.Fatal(r.Err)
		}
		if r := c.Complete(Report{Unit: r.Unit.ID, Worker: "w", Succeeded: true, Output: []byte(`"out"`)}); r.Outcome != OK && r.Outcome != NoContent {
			b.Fatal(r.Err)
		}
	}
}

// failingLog is the real log, made to fail as a failed fsync does, from the
// moment a snapshot's first barrier returns: a job created then is refused,
// and every later append and barrier fails.
type failingLog struct {
	*persistence.WAL
	c       *Coordinator
	failing atomic.Bool
	refused Reply
}

var errDiskFailed = errors.New("persistence: wal fsync: input/output error")

func (f *failingLog) Append(ev core.Event, done func(error)) {
	if f.failing.Load() {
		done(errDiskFailed)
		return
	}
	f.WAL.Append(ev, done)
}

func (f *failingLog) Barrier() (uint64, error) {
	if f.failing.Load() {
		return 0, errDiskFailed
	}
	index, err := f.WAL.Barrier()
	f.failing.Store(true)
	f.refused = f.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a"}, Options: []byte(`{}`)})
	return index, err
}

// A snapshot taken while the log fails holds no change whose request was
// refused: it is not written, and a restart does not bring the job back.
func TestSnapshotLeavesOutRefusedChanges(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir)
	log := &failingLog{WAL: w}
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	log.c = c
	s := &Snapshotter{Coordinator: c, Log: log, Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err = s.Take()
	if log.refused.Outcome == OK {
		t.Fatal("the job created while the log failed was accepted")
	}
	if !errors.Is(err, errDiskFailed) {
		t.Fatalf("Take = %v, want the log's error", err)
	}
	if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*")); len(snaps) != 0 {
		t.Fatalf("a snapshot was written: %v", snaps)
	}
	c.Stop(context.Background())
	w.Close()

	d := startDurable(t, dir)
	defer d.stop(t)
	if r := d.c.Job(1); r.Outcome != NotFound {
		t.Fatalf("after the restart, the refused job: outcome %d, want NotFound", r.Outcome)
	}
}
