package actors

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/wire"
)

// jobActors waits until the coordinator runs want job actors, and returns
// the bytes its finished jobs take.
func jobActors(t *testing.T, c *Coordinator, want int) int64 {
	t.Helper()
	var s wire.Summary
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if s, err = c.Summary(); err != nil {
			t.Fatal(err)
		}
		if s.JobActors == want {
			return s.FinishedBytes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d job actors, want %d", s.JobActors, want)
		}
	}
}

// views is what the routes and the console show of each job.
type views struct {
	jobs    map[int64]wire.Job
	details map[int64]wire.JobDetail
	page    wire.JobPage
}

func viewsOf(t *testing.T, c *Coordinator, ids ...int64) views {
	t.Helper()
	v := views{jobs: map[int64]wire.Job{}, details: map[int64]wire.JobDetail{}}
	for _, id := range ids {
		v.jobs[id] = *mustOK(t, c.Job(id)).Job
		d, err := c.JobDetail(id, 1, 100)
		if err != nil {
			t.Fatalf("job %d's page: %v", id, err)
		}
		v.details[id] = d
	}
	var err error
	if v.page, err = c.JobPage(core.AllJobs, 1, 100); err != nil {
		t.Fatal(err)
	}
	return v
}

func sameViews(t *testing.T, when string, got, want views) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s, the jobs show\n%+v\nwant\n%+v", when, got, want)
	}
}

// A finished job leaves its actor: the directory keeps its state encoded
// and answers GET /jobs/:id, the console's table and job page from it, as
// the actor did; DELETE journals the deletion; the console's retry gives it
// an actor again, which runs its failed units; a snapshot and a restart
// give the same answers.
func TestFinishedJobsLeaveTheirActors(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := func() time.Time { return time.Unix(0, clock) } // fixed: time_taken stays put
	start := func(state *State) (*Coordinator, *persistence.WAL) {
		w := openWAL(t, dir)
		c, err := Start(Settings{WorkUnitRetries: 1, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, w, state)
		if err != nil {
			t.Fatal(err)
		}
		return c, w
	}
	c, w := start(nil)
	spec := func(inputs ...string) JobSpec {
		return JobSpec{Action: "a", Inputs: inputs, Options: []byte(`{"k":1}`)}
	}
	ok := mustOK(t, c.CreateJob(spec("x", "y"))).Job.ID
	bad := mustOK(t, c.CreateJob(spec("z"))).Job.ID
	gone := mustOK(t, c.CreateJob(spec("w"))).Job.ID
	for _, u := range drain(t, c, "w1", "a") {
		mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w1", Succeeded: u.JobID != bad, Output: []byte(`"` + u.Input + `!"`), Time: 0.5}))
	}
	running := mustOK(t, c.CreateJob(JobSpec{Action: "b", Inputs: []string{"v"}, Options: []byte(`{}`)})).Job.ID // queued: leases do not survive a restart
	if bytes := jobActors(t, c, 1); bytes == 0 {
		t.Fatal("three jobs finished, and the finished ones take 0 bytes")
	}
	before := viewsOf(t, c, ok, bad, gone, running)
	if j := before.jobs[ok]; j.Status != "succeeded" || string(j.Outputs) != `["x!","y!"]` {
		t.Fatalf("job %d: %s %s", ok, j.Status, j.Outputs)
	}
	if d := before.details[bad]; d.Units[0].State != "failed" || *d.Units[0].Worker != "w1" || d.Units[0].Errors[0] != "z!" {
		t.Fatalf("the failed job's unit: %+v", d.Units[0])
	}

	if r := c.DeleteJob(gone); r.Outcome != NoContent {
		t.Fatalf("DELETE of a finished job: outcome %d: %v", r.Outcome, r.Err)
	}
	for what, r := range map[string]Reply{"GET": c.Job(gone), "DELETE": c.DeleteJob(gone), "retry": c.RetryJob(gone)} {
		if r.Outcome != NotFound {
			t.Fatalf("%s of a deleted finished job: outcome %d, want NotFound", what, r.Outcome)
		}
	}
	if r := c.RetryJob(ok); r.Outcome != Conflict {
		t.Fatalf("retry of a job that succeeded: outcome %d, want Conflict", r.Outcome)
	}
	jobActors(t, c, 1) // the job revived for the refused retry went back
	before = viewsOf(t, c, ok, bad, running)
	// A late report on a finished job's unit is still a conflict.
	if r := c.Complete(Report{Unit: before.details[ok].Units[0].ID, Worker: "w2", Succeeded: true, Output: []byte(`1`)}); r.Outcome != Conflict {
		t.Fatalf("a late report on a finished job's unit: outcome %d, want Conflict", r.Outcome)
	}

	// A snapshot holds the finished jobs, and a restart from it (and the
	// log after it) answers the same.
	snaps := &Snapshotter{Coordinator: c, Log: w, Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := snaps.Take(); err != nil {
		t.Fatal(err)
	}
	c.Stop(context.Background())
	w.Close()
	w = openWAL(t, dir)
	state, _, err := Load(dir, w)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(state.Finished) != 2 || len(state.Jobs) != 1 {
		t.Fatalf("the restart holds %d finished jobs and %d active, want 2 and 1", len(state.Finished), len(state.Jobs))
	}
	c, w = start(state)
	defer func() { c.Stop(context.Background()); w.Close() }()
	jobActors(t, c, 1)
	sameViews(t, "after the restart", viewsOf(t, c, ok, bad, running), before)

	// The retry runs the failed unit again in an actor; it finishes again.
	if r := mustOK(t, c.RetryJob(bad)); r.Job.Status != "processing" {
		t.Fatalf("the retried job: %s", r.Job.Status)
	}
	jobActors(t, c, 2)
	u := mustOK(t, c.Dequeue("w3", "a")).Unit
	if u.JobID != bad {
		t.Fatalf("leased %+v, want the retried job's unit", u)
	}
	mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w3", Succeeded: true, Output: []byte(`"z!!"`)}))
	jobActors(t, c, 1)
	if j := mustOK(t, c.Job(bad)).Job; j.Status != "succeeded" || string(j.Outputs) != `["z!!"]` {
		t.Fatalf("the retried job: %s %s", j.Status, j.Outputs)
	}
}

// A job whose callback is not settled keeps its actor, which tries the
// callback again; once it is settled, the job leaves its actor.
func TestFinishedJobKeepsItsActorUntilItsCallbackIsSettled(t *testing.T) {
	// The first try is answered 503 at once; the second waits for the test.
	answers := make(chan int, 1)
	answers <- http.StatusServiceUnavailable
	tries := make(chan struct{}, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries <- struct{}{}
		w.WriteHeader(<-answers)
	}))
	defer srv.Close()
	c, err := Start(Settings{CallbackRetries: 2, CallbackBackoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, persistence.NewMemory(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	id := mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x"}, Options: []byte(`{}`), CallbackURL: srv.URL})).Job.ID
	u := mustOK(t, c.Dequeue("w", "a")).Unit
	mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w", Succeeded: true, Output: []byte(`1`)}))
	<-tries
	<-tries // the second try, held until answered
	if s, err := c.Summary(); err != nil || s.JobActors != 1 {
		t.Fatalf("while the callback's second try waits: %d job actors (%v), want 1", s.JobActors, err)
	}
	answers <- http.StatusOK
	jobActors(t, c, 0)
	if j := mustOK(t, c.Job(id)).Job; j.Status != "succeeded" {
		t.Fatalf("job %d: %s", id, j.Status)
	}
}

// BenchmarkFinishedJobMemory reports the heap each finished 1-input job
// takes once it has left its actor.
func BenchmarkFinishedJobMemory(b *testing.B) {
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, persistence.NewMemory(false), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop(context.Background())
	before := heapInUse()
	finishJobs(b, c, b.N)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		s, err := c.Summary()
		if err != nil {
			b.Fatal(err)
		}
		if s.JobActors == 0 {
			b.ReportMetric(float64(s.FinishedBytes)/float64(b.N), "encoded-B/job")
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d job actors left", s.JobActors)
		}
	}
	b.ReportMetric(float64(heapInUse()-before)/float64(b.N), "heap-B/job")
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// A finished job whose deletion is on its way to disk is not in a
// snapshot: its record may fall before the snapshot's place in the log,
// and would then not be replayed over it (the job would come back).
func TestSnapshotLeavesOutAFinishedJobBeingDeleted(t *testing.T) {
	j := &heldJournal{Memory: persistence.NewMemory(false)}
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	for range 2 {
		mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x"}, Options: []byte(`{}`)}))
		u := mustOK(t, c.Dequeue("w", "a")).Unit
		mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w", Succeeded: true, Output: []byte(`1`)}))
	}
	jobActors(t, c, 0)
	j.stall()
	deleted := answered(func() Reply { return c.DeleteJob(1) })
	notYet(t, "the DELETE", deleted)
	_, parts, err := c.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range parts {
		h, err := persistence.JobHeadOf(p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.ID)
	}
	if len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("the snapshot holds jobs %v, want only job 2", ids)
	}
	j.release()
	if r := <-deleted; r.Outcome != NoContent {
		t.Fatalf("the DELETE: outcome %d", r.Outcome)
	}
}
