package actors

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// removed records the jobs whose files RemoveFiles was asked to delete.
type removed struct {
	mu   sync.Mutex
	jobs map[int64]int
}

func (r *removed) remove(_ string, job int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs[job]++
}

func (r *removed) ids() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.jobs))
}

// Retention deletes the finished jobs that finished longer than
// job_retention ago, and only those: not the younger ones, not an
// unfinished job however old, with their files; each deletion is one
// record in the log. A cleanup deletes those older than its own cutoff
// and says how many.
func TestRetentionDeletesExactlyTheOldOnes(t *testing.T) {
	var clock atomic.Int64
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	clock.Store(t0)
	files := &removed{jobs: map[int64]int{}}
	journal := persistence.NewMemory(true)
	c, err := Start(Settings{JobRetention: time.Hour, RemoveFiles: files.remove,
		Now:    func() time.Time { return time.Unix(0, clock.Load()) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())

	old := mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"old, unfinished"}, Options: []byte(`{}`)})).Job.ID
	finishAt := func(at time.Duration, n int) []int64 {
		clock.Store(t0 + int64(at))
		var ids []int64
		for range n {
			id := mustOK(t, c.CreateJob(JobSpec{Action: "b", Inputs: []string{"x"}, Options: []byte(`{}`)})).Job.ID
			u := mustOK(t, c.Dequeue("w", "b")).Unit
			mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w", Succeeded: id%2 == 0, Output: []byte(`1`)}))
			ids = append(ids, id)
		}
		return ids
	}
	first := finishAt(time.Minute, 3)
	second := finishAt(40*time.Minute, 1200) // more than a batch
	third := finishAt(50*time.Minute, 2)
	jobActors(t, c, 1)
	records := journal.Len()

	// An hour and 45 minutes in: the jobs finished at 1 and 40 minutes go,
	// the ones of 50 minutes stay.
	clock.Store(t0 + int64(105*time.Minute))
	gone := append(append([]int64(nil), first...), second...)
	waitFor(t, "retention to delete the jobs older than an hour", func() bool { return len(files.ids()) == len(gone) })
	if got := files.ids(); !slices.Equal(got, gone) {
		t.Fatalf("the files of jobs %v were removed, want %v", got, gone)
	}
	for _, id := range gone {
		if r := c.Job(id); r.Outcome != NotFound {
			t.Fatalf("job %d after retention: outcome %d, want NotFound", id, r.Outcome)
		}
	}
	for _, id := range append([]int64{old}, third...) {
		mustOK(t, c.Job(id))
	}
	if n := journal.Len() - records; n != int64(len(gone)) {
		t.Fatalf("%d records for %d deletions", n, len(gone))
	}
	var deletes int
	journal.Replay(func(ev core.Event) error {
		if _, ok := ev.(*core.JobDeleted); ok {
			deletes++
		}
		return nil
	})
	if deletes != len(gone) {
		t.Fatalf("%d JobDeleted records, want %d", deletes, len(gone))
	}

	// A cleanup of what finished more than 50 minutes ago: the last two.
	n, err := c.Cleanup(50*time.Minute, 10*time.Second)
	if err != nil || n != len(third) {
		t.Fatalf("Cleanup = %d, %v; want %d", n, err, len(third))
	}
	for _, id := range third {
		if r := c.Job(id); r.Outcome != NotFound {
			t.Fatalf("job %d after the cleanup: outcome %d, want NotFound", id, r.Outcome)
		}
	}
	mustOK(t, c.Job(old))
	if n, err := c.Cleanup(0, 10*time.Second); err != nil || n != 0 {
		t.Fatalf("a cleanup with nothing finished left = %d, %v", n, err)
	}

	// A restart replays the deletions and removes their files again: a
	// crash may have come between a record and the files.
	state, err := Restore(journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	again := &removed{jobs: map[int64]int{}}
	c2, err := Start(Settings{RemoveFiles: again.remove, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, persistence.NewMemory(false), state)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop(context.Background())
	want := append(gone, third...)
	waitFor(t, "the restart to remove the deleted jobs' files again", func() bool { return len(again.ids()) == len(want) })
	if got := again.ids(); !slices.Equal(got, want) {
		t.Fatalf("the restart removed the files of %v, want %v", got, want)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
