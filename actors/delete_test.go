package actors

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

// Deleting a job asks for its stored files to be removed, once, with its
// action and id.
func TestDeleteRemovesTheJobsFiles(t *testing.T) {
	removed := make(chan [2]any, 4)
	c, err := Start(Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RemoveFiles: func(action string, job int64) { removed <- [2]any{action, job} }}, persistence.NewMemory(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	mustOK(t, c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a"}, Options: []byte(`{}`)}))
	r := mustOK(t, c.CreateJob(JobSpec{Action: "word_count", Merge: true, Inputs: []string{"b"}, Options: []byte(`{}`)}))
	if d := c.DeleteJob(r.Job.ID); d.Outcome != NoContent {
		t.Fatalf("delete: %d %v", d.Outcome, d.Err)
	}
	select {
	case got := <-removed:
		if got != [2]any{"word_count", int64(2)} {
			t.Fatalf("RemoveFiles%v, want (word_count, 2)", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RemoveFiles was not called")
	}
	if d := c.DeleteJob(r.Job.ID); d.Outcome != NotFound {
		t.Fatalf("second delete: %d", d.Outcome)
	}
	select {
	case got := <-removed:
		t.Fatalf("RemoveFiles called again: %v", got)
	case <-time.After(100 * time.Millisecond):
	}
}
