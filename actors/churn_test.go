package actors

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// Queries that go to every listed job (a snapshot, GET /status, the
// console's job table) while jobs are deleted: a job deleted after the
// listing answers as deleted, even once its actor has stopped, rather than
// leave the query waiting out its timeout. (A snapshot that timed out
// failed, and under a steady load of deletes every snapshot did, so the
// log grew without bound.)
func TestQueriesWhileJobsAreDeleted(t *testing.T) {
	c, err := Start(Settings{WorkUnitRetries: 2, RequestTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, persistence.NewMemory(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var deleted atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				r := c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a"}, Options: []byte(`{}`)})
				if r.Outcome != OK {
					t.Errorf("create: %v", r.Err)
					return
				}
				if r := c.DeleteJob(r.Job.ID); r.Outcome != NoContent {
					t.Errorf("delete: %d %v", r.Outcome, r.Err)
					return
				}
				deleted.Add(1)
			}
		})
	}
	queries := map[string]func() error{
		"snapshot": func() error { _, _, err := c.snapshot(); return err },
		"status":   func() error { _, err := c.Status(); return err },
		"job page": func() error { _, err := c.JobPage(core.AllJobs, 1, 100); return err },
	}
	counts := map[string]int{}
	for ctx.Err() == nil {
		for name, query := range queries {
			if err := query(); err != nil {
				t.Fatalf("%s while jobs are deleted: %v", name, err)
			}
			counts[name]++
		}
	}
	wg.Wait()
	if deleted.Load() == 0 || counts["snapshot"] == 0 {
		t.Fatalf("%d jobs deleted, queries %v: nothing raced", deleted.Load(), counts)
	}
}
