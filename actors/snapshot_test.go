package actors

import (
	"strconv"
	"testing"
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
	want := jobsJSON(t, d.c, 1)
	d.stop(t)

	d = startDurable(t, dir)
	defer d.stop(t)
	if got := jobsJSON(t, d.c, 1); !mapsEqual(got, want) {
		t.Errorf("after the restart:\n got %v\nwant %v", got, want)
	}
}

// A snapshot of a coordinator that holds many finished jobs: the common
// case once a server has run for a while. Every job is asked for its state,
// so the cost grows with the jobs kept (30 to 50 ms for 20,000 here).
func BenchmarkSnapshotFinishedJobs(b *testing.B) {
	d := startDurable(b, b.TempDir())
	defer d.stop(b)
	const jobs = 20000
	for i := 0; i < jobs; i++ {
		if r := d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"input " + strconv.Itoa(i)}, Options: []byte(`{}`)}); r.Outcome != OK {
			b.Fatal(r.Err)
		}
		r := d.c.Dequeue("w", "graphics_magick")
		if r.Outcome != OK {
			b.Fatal(r.Err)
		}
		if r := d.c.Complete(Report{Unit: r.Unit.ID, Worker: "w", Succeeded: true, Output: []byte(`"out"`)}); r.Outcome != OK && r.Outcome != NoContent {
			b.Fatal(r.Err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.c.SnapshotBody(); err != nil {
			b.Fatal(err)
		}
	}
}
