package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
)

// startServer starts a real coordinator (in-memory journal, no retry
// back-off) behind a real transport server on 127.0.0.1, and returns its
// base URL; opts (may be nil) adjusts the server's options. Everything
// stops when the test ends.
func startServer(tb testing.TB, opts func(*transport.Options)) string {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	journal := persistence.NewMemory(false)
	co, err := actors.Start(actors.Settings{WorkUnitRetries: 3, Logger: quiet}, journal, nil)
	if err != nil {
		tb.Fatal(err)
	}
	o := transport.Options{
		Coordinator: co,
		Catalog:     action.NewCatalog(""),
		MaxBody:     32 << 20,
		Logger:      quiet,
	}
	if opts != nil {
		opts(&o)
	}
	srv := transport.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		co.Stop(ctx)
		journal.Close()
	})
	return "http://" + ln.Addr().String()
}

// newClient returns a client of url with a short timeout.
func newClient(tb testing.TB, url string, o client.Options) *client.Client {
	tb.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	c, err := client.New(url, o)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// start starts a server and returns a client of it.
func start(tb testing.TB) *client.Client {
	tb.Helper()
	return newClient(tb, startServer(tb, nil), client.Options{})
}

// submit submits a job and fails the test on an error.
func submit(tb testing.TB, c *client.Client, j client.Job) wire.Job {
	tb.Helper()
	got, err := c.Submit(context.Background(), j)
	if err != nil {
		tb.Fatalf("Submit(%+v): %v", j, err)
	}
	return got
}

// inputs makes a job's inputs from strings.
func inputs(s ...string) []any {
	in := make([]any, len(s))
	for i, v := range s {
		in[i] = v
	}
	return in
}

// unitJSON is a unit as JSON, for comparing units in one line.
func unitJSON(tb testing.TB, u *wire.WorkUnit) string {
	tb.Helper()
	if u == nil {
		return "<nil>"
	}
	b, err := json.Marshal(u)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// wantUnit compares a unit with its expected JSON (options {}).
func wantUnit(tb testing.TB, what string, u *wire.WorkUnit, err error, want string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	if got := unitJSON(tb, u); got != want {
		tb.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// unit is the JSON of a unit with options {} and status 1 (processing).
func unit(id, job int64, input string, attempts int, action string) string {
	u := wire.WorkUnit{ID: id, JobID: job, Input: input, Attempts: attempts, Action: action,
		Options: json.RawMessage("{}"), Status: 1}
	b, _ := json.Marshal(u)
	return string(b)
}

// dequeue is Dequeue that waits (up to 5 s) for a unit to be ready: the
// coordinator answers POST /jobs before the job's units reach its queue, so
// a Dequeue right after Submit may find none yet.
func dequeue(tb testing.TB, c *client.Client, worker, actions string) (*wire.WorkUnit, error) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := c.Dequeue(context.Background(), worker, actions)
		if u != nil || err != nil || time.Now().After(deadline) {
			return u, err
		}
		time.Sleep(time.Millisecond)
	}
}
