package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
)

func TestWorkerProtocol(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	const gm = "graphics_magick"

	u, err := c.Dequeue(ctx, "w", gm)
	if u != nil || err != nil {
		t.Fatalf("Dequeue with no job = %s, %v; want nil, nil", unitJSON(t, u), err)
	}
	j := submit(t, c, client.Job{Action: gm, Inputs: inputs("a", "b", "c")})

	// Another action's worker gets nothing.
	if u, err := c.Dequeue(ctx, "x", "word_count"); u != nil || err != nil {
		t.Fatalf("Dequeue by a word_count worker = %s, %v", unitJSON(t, u), err)
	}
	u, err = dequeue(t, c, "w", "word_count,"+gm)
	wantUnit(t, "Dequeue", u, err, unit(1, j.ID, "a", 0, gm))
	u, err = c.WorkerUnit(ctx, "w")
	wantUnit(t, "WorkerUnit(w)", u, err, unit(1, j.ID, "a", 0, gm))
	if u, err := c.WorkerUnit(ctx, "nobody"); u != nil || err != nil {
		t.Fatalf("WorkerUnit(nobody) = %s, %v; want nil, nil", unitJSON(t, u), err)
	}

	// Completing a unit one does not hold: 409; an unknown unit: 404.
	_, err = c.Complete(ctx, 1, "other", gm, client.Result{Succeeded: true})
	if !errors.Is(err, client.ErrConflict) || errors.Is(err, client.ErrNotFound) || client.IsUnavailable(err) {
		t.Fatalf("Complete by another worker = %v, want ErrConflict", err)
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Code != 409 || e.Method != "PUT" || e.Path != "/work/1" || e.Message == "" {
		t.Fatalf("Complete by another worker = %#v", err)
	}
	_, err = c.Complete(ctx, 99999, "w", gm, client.Result{Succeeded: true})
	if !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrConflict) {
		t.Fatalf("Complete(99999) = %v, want ErrNotFound", err)
	}
	if want := "client: PUT /work/99999: 404 Not Found: no such work unit"; err.Error() != want {
		t.Fatalf("Complete(99999) error text %q, want %q", err.Error(), want)
	}

	// Each completion answers the next unit.
	u, err = c.Complete(ctx, 1, "w", gm, client.Result{Succeeded: true, Output: json.RawMessage(`"A"`), Time: 1500 * time.Millisecond})
	wantUnit(t, "Complete(1)", u, err, unit(2, j.ID, "b", 0, gm))
	// After a failure the answer skips the failed unit.
	u, err = c.Complete(ctx, 2, "w", gm, client.Result{Output: json.RawMessage(`"lost"`)})
	wantUnit(t, "Complete(2, failed)", u, err, unit(3, j.ID, "c", 0, gm))
	u, err = c.Complete(ctx, 3, "w", gm, client.Result{Succeeded: true})
	wantUnit(t, "Complete(3)", u, err, unit(2, j.ID, "b", 1, gm))
	u, err = c.Complete(ctx, 2, "w", gm, client.Result{Succeeded: true, Output: json.RawMessage(" {\"x\": [1, 2],\n\"s\":\"&=+ %\"} ")})
	if u != nil || err != nil {
		t.Fatalf("last Complete = %s, %v; want nil, nil", unitJSON(t, u), err)
	}
	// Completing it again: 409.
	if _, err := c.Complete(ctx, 2, "w", gm, client.Result{Succeeded: true}); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("second Complete(2) = %v, want ErrConflict", err)
	}
	got, err := c.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["A",{"x":[1,2],"s":"&=+ %"},null]`; got.Status != "succeeded" || string(got.Outputs) != want {
		t.Fatalf("job = %+v with outputs %s, want succeeded with %s", got, got.Outputs, want)
	}
	if u, err := c.WorkerUnit(ctx, "w"); u != nil || err != nil {
		t.Fatalf("WorkerUnit(w) after the job = %s, %v; want nil, nil", unitJSON(t, u), err)
	}
}

func TestCheckInCheckOut(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	const gm = "graphics_magick"
	j := submit(t, c, client.Job{Action: gm, Inputs: inputs("a")})

	if err := c.CheckIn(ctx, "w", "sleeping", 2*time.Second); err != nil {
		t.Fatalf("CheckIn: %v", err)
	}
	if err := c.CheckIn(ctx, "v", "", 0); err != nil {
		t.Fatalf("CheckIn without interval: %v", err)
	}
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workers) != 2 {
		t.Fatalf("Status workers after CheckIn = %+v, want v and w", s.Workers)
	}
	// An interval the coordinator refuses.
	var e *client.Error
	if err := c.CheckIn(ctx, "w", "", 100000*time.Hour); !errors.As(err, &e) || e.Code != 400 {
		t.Fatalf("CheckIn with a huge interval = %v, want a 400", err)
	}

	u, err := dequeue(t, c, "w", gm)
	wantUnit(t, "Dequeue", u, err, unit(1, j.ID, "a", 0, gm))
	if err := c.CheckOut(ctx, "w"); err != nil {
		t.Fatalf("CheckOut: %v", err)
	}
	if u, err := c.WorkerUnit(ctx, "w"); u != nil || err != nil {
		t.Fatalf("WorkerUnit(w) after CheckOut = %s, %v", unitJSON(t, u), err)
	}
	s, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workers) != 1 || s.Workers[0].Name != "v" {
		t.Fatalf("Status workers after CheckOut = %+v, want v alone", s.Workers)
	}
	// The unit went back without counting an attempt, and w's late report
	// is a conflict.
	u, err = dequeue(t, c, "v", gm)
	wantUnit(t, "Dequeue after CheckOut", u, err, unit(1, j.ID, "a", 0, gm))
	if _, err := c.Complete(ctx, 1, "w", gm, client.Result{Succeeded: true}); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("Complete by the checked-out worker = %v, want ErrConflict", err)
	}
}

// Worker names travel form-encoded in bodies and path-escaped in
// GET /worker/:name (the exact bytes are checked in TestRequestsOnTheWire).
func TestWorkerNames(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: inputs("a", "b")})
	const odd = "w 1/ü?&=+%#"
	u, err := dequeue(t, c, odd, " graphics_magick ")
	wantUnit(t, "Dequeue", u, err, unit(1, j.ID, "a", 0, "graphics_magick"))
	const cc = "1234@host-1.example" // CloudCrowd's pid@host
	u, err = dequeue(t, c, cc, "graphics_magick")
	wantUnit(t, "Dequeue", u, err, unit(2, j.ID, "b", 0, "graphics_magick"))
	u, err = c.WorkerUnit(ctx, cc)
	wantUnit(t, "WorkerUnit", u, err, unit(2, j.ID, "b", 0, "graphics_magick"))
	s, err := c.Status(ctx)
	if err != nil || len(s.Workers) != 2 {
		t.Fatalf("Status workers = %+v, %v; want 2", s.Workers, err)
	}
	names := map[string]bool{s.Workers[0].Name: true, s.Workers[1].Name: true}
	if !names[odd] || !names[cc] {
		t.Fatalf("Status workers = %+v, want %q and %q", s.Workers, odd, cc)
	}
	if u, err := c.Complete(ctx, 1, odd, "graphics_magick", client.Result{Succeeded: true}); u != nil || err != nil {
		t.Fatalf("Complete = %s, %v", unitJSON(t, u), err)
	}
}
