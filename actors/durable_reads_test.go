package actors

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// heldJournal is the memory journal with a switch that keeps every append
// from becoming durable until release: a slow fsync, for as long as a test
// needs.
type heldJournal struct {
	*persistence.Memory
	mu   sync.Mutex
	hold bool
	held []func()
}

func (j *heldJournal) Append(ev core.Event, done func(error)) {
	j.mu.Lock()
	if j.hold {
		j.held = append(j.held, func() { j.Memory.Append(ev, done) })
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	j.Memory.Append(ev, done)
}

func (j *heldJournal) stall() {
	j.mu.Lock()
	j.hold = true
	j.mu.Unlock()
}

func (j *heldJournal) release() {
	j.mu.Lock()
	held := j.held
	j.held, j.hold = nil, false
	j.mu.Unlock()
	for _, f := range held {
		f()
	}
}

// answered runs f in the background and returns its reply channel.
func answered[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// notYet fails if ch has an answer within a moment.
func notYet[T any](t *testing.T, what string, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s answered before what it shows was durable: %+v", what, v)
	case <-time.After(200 * time.Millisecond):
	}
}

// A query shows nothing that a crash could take back: while a report, or
// a job's creation, waits for the journal, GET /jobs/:id and /status wait
// too, and the console's counts leave the new job out; once durable, they
// show both changes.
func TestQueriesShowOnlyDurableChanges(t *testing.T) {
	j := &heldJournal{Memory: persistence.NewMemory(false)}
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	job := mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x"}, Options: []byte(`{}`)})).Job
	unit := mustOK(t, c.Dequeue("w", "a")).Unit

	j.stall()
	report := answered(func() Reply {
		return c.Complete(Report{Unit: unit.ID, Worker: "w", Succeeded: true, Output: []byte(`5`)})
	})
	create := answered(func() Reply {
		return c.CreateJob(JobSpec{Action: "a", Inputs: []string{"y"}, Options: []byte(`{}`)})
	})
	notYet(t, "the report", report)
	notYet(t, "POST /jobs", create)
	get := answered(func() Reply { return c.Job(job.ID) })
	status := answered(func() error { _, err := c.Status(); return err })
	notYet(t, "GET /jobs/1", get)
	notYet(t, "/status", status)
	counts := func() map[string]int {
		s, err := c.Summary()
		if err != nil {
			t.Fatal(err)
		}
		return s.Jobs
	}
	if n := counts(); n["processing"] != 1 || n["succeeded"] != 0 {
		t.Fatalf("the console's counts while both changes wait: %v, want job 1 processing and no other job", n)
	}

	j.release()
	mustOK(t, <-report)
	if r := mustOK(t, <-get); r.Job.Status != "succeeded" {
		t.Fatalf("GET /jobs/1 once the report is durable: %s, want succeeded", r.Job.Status)
	}
	if err := <-status; err != nil {
		t.Fatalf("/status: %v", err)
	}
	if r := mustOK(t, <-create); r.Job.ID != 2 {
		t.Fatalf("created job %d, want 2", r.Job.ID)
	}
	if n := counts(); n["processing"] != 1 || n["succeeded"] != 1 {
		t.Fatalf("the console's counts once both are durable: %v, want job 1 succeeded and job 2 processing", n)
	}
}
