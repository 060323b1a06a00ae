package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

func TestSubmitThenJob(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a", "b")})
	want := wire.Job{ID: 1, Color: "f75849", Status: "processing", PercentComplete: 0, WorkUnits: 2}
	j.TimeTaken = 0
	if !jobEqual(j, want) {
		t.Fatalf("Submit = %+v, want %+v", j, want)
	}
	got, err := c.Job(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got.TimeTaken = 0
	if !jobEqual(got, want) {
		t.Fatalf("Job(1) = %+v, want %+v", got, want)
	}
	j2 := submit(t, c, client.Job{Action: "word_count", Inputs: inputs("x")})
	if j2.ID != 2 || j2.Color != "c14862" || j2.Status != "processing" || j2.WorkUnits != 1 {
		t.Fatalf("second Submit = %+v, want id 2, color c14862, processing, 1 unit", j2)
	}
}

func jobEqual(a, b wire.Job) bool {
	return a.ID == b.ID && a.Color == b.Color && a.Status == b.Status &&
		a.PercentComplete == b.PercentComplete && a.WorkUnits == b.WorkUnits &&
		a.TimeTaken == b.TimeTaken && string(a.Outputs) == string(b.Outputs) &&
		(a.Email == nil) == (b.Email == nil) && (a.Email == nil || *a.Email == *b.Email)
}

func TestSubmitWithOptionsCallbackEmail(t *testing.T) {
	c := start(t)
	j := submit(t, c, client.Job{
		Action:      "graphics_magick",
		Inputs:      []any{"a b&c", 5, map[string]any{"a": 1}, "<ü>"},
		Options:     json.RawMessage(`{ "size": "big", "n": [1, 2] }`),
		CallbackURL: "http://127.0.0.1:1/done",
		Email:       "a@b.c",
	})
	if j.ID != 1 || j.Email == nil || *j.Email != "a@b.c" || j.WorkUnits != 4 {
		t.Fatalf("Submit = %+v, want id 1, email a@b.c, 4 units", j)
	}
	const opts = `{"size":"big","n":[1,2]}`
	for i, in := range []string{"a b&c", "5", `{"a":1}`, "<ü>"} {
		u, err := dequeue(t, c, "w", "graphics_magick")
		if err != nil {
			t.Fatal(err)
		}
		if u == nil || u.ID != int64(i+1) || u.JobID != 1 || u.Input != in || string(u.Options) != opts {
			t.Fatalf("unit %d = %s, want input %q and options %s", i+1, unitJSON(t, u), in, opts)
		}
	}
	// Without email the job has none.
	j = submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("x")})
	if j.Email != nil {
		t.Fatalf("Submit without email: email %q", *j.Email)
	}
}

func TestSubmitRefused(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		job  client.Job
		want string
	}{
		{client.Job{Action: "nope", Inputs: inputs("a")}, `unknown action "nope"`},
		{client.Job{Action: "graphics_magick"}, "inputs is missing"},
		{client.Job{Action: "graphics_magick", Inputs: inputs("a"), Options: json.RawMessage(`[1]`)}, "options must be an object"},
		{client.Job{Action: "graphics_magick", Inputs: inputs("a"), CallbackURL: "ftp://x/y"}, `callback_url "ftp://x/y" is not an absolute http(s) URL`},
	} {
		_, err := c.Submit(ctx, tc.job)
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("Submit(%+v) = %v, want an *Error", tc.job, err)
		}
		if e.Code != 400 || e.Message != tc.want {
			t.Fatalf("Submit(%+v) = %d %q, want 400 %q", tc.job, e.Code, e.Message, tc.want)
		}
		if want := "client: POST /jobs: 400 Bad Request: " + tc.want; err.Error() != want {
			t.Fatalf("error text %q, want %q", err.Error(), want)
		}
		if client.IsUnavailable(err) || errors.Is(err, client.ErrNotFound) {
			t.Fatalf("a 400 is unavailable or not found: %v", err)
		}
	}
	// Options that are not JSON are refused before sending.
	_, err := c.Submit(ctx, client.Job{Action: "graphics_magick", Inputs: inputs("a"), Options: json.RawMessage(`{`)})
	var e *client.Error
	if err == nil || errors.As(err, &e) || !strings.HasPrefix(err.Error(), "client: encoding the job: ") {
		t.Fatalf("Submit with options {: %v, want an encoding error", err)
	}
	// Nothing was created.
	if _, err := c.Job(ctx, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Job(1) after refused submits: %v", err)
	}
}

func TestJobNotFound(t *testing.T) {
	c := start(t)
	_, err := c.Job(context.Background(), 999)
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Job(999) = %v, want ErrNotFound", err)
	}
	if errors.Is(err, client.ErrConflict) || errors.Is(err, client.ErrUnauthorized) || client.IsUnavailable(err) {
		t.Fatalf("Job(999) = %v matches another class", err)
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Code != 404 || e.Message != "no such job" || e.Method != "GET" || e.Path != "/jobs/999" {
		t.Fatalf("Job(999) = %#v", err)
	}
	if want := "client: GET /jobs/999: 404 Not Found: no such job"; err.Error() != want {
		t.Fatalf("error text %q, want %q", err.Error(), want)
	}
}

func TestDelete(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a", "b")})
	submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("c")})
	if err := c.Delete(ctx, 1); err != nil {
		t.Fatalf("Delete(1): %v", err)
	}
	if _, err := c.Job(ctx, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Job(1) after Delete = %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Delete(1) again = %v, want ErrNotFound", err)
	}
	// Its units are gone: the next unit is job 2's.
	u, err := dequeue(t, c, "w", "graphics_magick")
	wantUnit(t, "Dequeue after Delete", u, err, unit(3, 2, "c", 0, "graphics_magick"))
	if j, err := c.Job(ctx, 2); err != nil || j.ID != 2 {
		t.Fatalf("Job(2) = %+v, %v", j, err)
	}
}

func TestStatus(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Jobs) != 0 || len(s.Workers) != 0 || s.WorkUnitCount != 0 || s.JobCount != 0 {
		t.Fatalf("empty Status = %+v", s)
	}
	submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a", "b")})
	submit(t, c, client.Job{Action: "word_count", Inputs: inputs("c")})
	if u, err := dequeue(t, c, "w1", "graphics_magick"); u == nil || err != nil {
		t.Fatalf("Dequeue = %v, %v", u, err)
	}
	s, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Jobs) != 2 || s.Jobs[0].ID != 1 || s.Jobs[1].ID != 2 || s.Jobs[0].Status != "processing" {
		t.Fatalf("Status jobs = %+v, want jobs 1 and 2 processing", s.Jobs)
	}
	if s.WorkUnitCount != 3 || s.JobCount != 2 || s.JobsByStatus["processing"] != 2 {
		t.Fatalf("Status counts = %d units, %d jobs, %v", s.WorkUnitCount, s.JobCount, s.JobsByStatus)
	}
	if s.Units != (wire.UnitCounts{Ready: 2, Leased: 1}) {
		t.Fatalf("Status units = %+v, want 2 ready, 1 leased", s.Units)
	}
	if len(s.Workers) != 1 || s.Workers[0].Name != "w1" || s.Workers[0].Status != "processing" {
		t.Fatalf("Status workers = %+v, want w1 processing", s.Workers)
	}
}

// work runs a worker until no unit is ready: each unit's output is its
// input followed by "!".
func work(ctx context.Context, t *testing.T, c *client.Client, worker, actions string) error {
	u, err := dequeue(t, c, worker, actions)
	for u != nil && err == nil {
		time.Sleep(5 * time.Millisecond) // let Wait see the job in progress
		out, _ := json.Marshal(u.Input + "!")
		u, err = c.Complete(ctx, u.ID, worker, actions, client.Result{Succeeded: true, Output: out, Time: 5 * time.Millisecond})
	}
	return err
}

func TestWait(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a", "b", "c")})
	done := make(chan error, 1)
	go func() {
		time.Sleep(30 * time.Millisecond)
		done <- work(ctx, t, c, "w", "graphics_magick")
	}()
	var seen []wire.Job
	final, err := c.Wait(ctx, j.ID, 10*time.Millisecond, func(j wire.Job) { seen = append(seen, j) })
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if final.ID != j.ID || final.Status != "succeeded" || final.PercentComplete != 100 ||
		string(final.Outputs) != `["a!","b!","c!"]` {
		t.Fatalf("Wait = %+v (outputs %s), want succeeded with [\"a!\",\"b!\",\"c!\"]", final, final.Outputs)
	}
	if len(seen) < 2 || seen[0].Status != "processing" || seen[len(seen)-1].Status != "succeeded" {
		t.Fatalf("progress saw %d states: %+v, want processing first and succeeded last", len(seen), seen)
	}
	// A job already complete: one progress call.
	calls := 0
	final, err = c.Wait(ctx, j.ID, 0, func(wire.Job) { calls++ })
	if err != nil || final.Status != "succeeded" || calls != 1 {
		t.Fatalf("Wait on a complete job = %+v, %v with %d calls", final, err, calls)
	}
	// A nil progress is fine; an unknown job is ErrNotFound.
	if _, err := c.Wait(ctx, 99, 0, nil); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Wait(99) = %v, want ErrNotFound", err)
	}
}

func TestWaitFailedJob(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a")})
	go func() {
		// Three failed attempts (work_unit_retries 3) fail the job.
		for range 3 {
			u, err := dequeue(t, c, "w", "graphics_magick")
			if err != nil || u == nil {
				return
			}
			c.Complete(ctx, u.ID, "w", "graphics_magick", client.Result{Output: json.RawMessage(`"boom"`)})
		}
	}()
	final, err := c.Wait(ctx, j.ID, 5*time.Millisecond, nil)
	if err != nil || final.Status != "failed" || string(final.Outputs) != `["boom"]` {
		t.Fatalf("Wait = %+v (outputs %s), %v; want failed with [\"boom\"]", final, final.Outputs, err)
	}
}

func TestWaitCancelled(t *testing.T) {
	c := start(t)
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a")})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	if _, err := c.Wait(ctx, j.ID, 0, func(wire.Job) { calls++ }); err != context.Canceled || calls != 0 {
		t.Fatalf("Wait with a cancelled ctx = %v after %d progress calls, want context.Canceled and none", err, calls)
	}

	// Cancelled while waiting on a job nobody works on.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Wait(ctx, j.ID, 10*time.Millisecond, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait cancelled later = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wait returned %v after the cancellation", d)
	}

	// A deadline.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(ctx, j.ID, 10*time.Millisecond, nil); !errors.Is(err, context.DeadlineExceeded) || client.IsUnavailable(err) {
		t.Fatalf("Wait past its deadline = %v, want context.DeadlineExceeded", err)
	}
}
