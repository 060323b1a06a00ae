package actors

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

// startCallbacks starts a coordinator whose callbacks are tried again
// after backoff, up to 4 tries. Each retry it schedules is told on the
// channel returned.
func startCallbacks(t *testing.T, backoff time.Duration) (*Coordinator, <-chan struct{}) {
	t.Helper()
	scheduled := make(chan struct{}, 10)
	log := slog.New(onMessage{Handler: slog.NewTextHandler(io.Discard, nil), msg: "callback failed; will retry", seen: scheduled})
	c, err := Start(Settings{WorkUnitRetries: 1, CallbackRetries: 4, CallbackBackoff: backoff, Logger: log},
		persistence.NewMemory(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c, scheduled
}

// onMessage is a log handler that tells seen of each record with msg.
type onMessage struct {
	slog.Handler
	msg  string
	seen chan<- struct{}
}

func (h onMessage) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.seen <- struct{}{}
	}
	return h.Handler.Handle(ctx, r)
}

func (h onMessage) WithAttrs(as []slog.Attr) slog.Handler {
	return onMessage{Handler: h.Handler.WithAttrs(as), msg: h.msg, seen: h.seen}
}

// failThenRetry fails the one-input job's unit (the job fails and its
// callback goes out), then retries the job from the console: at once, or,
// with scheduled set, once the callback's retry is scheduled.
func failThenRetry(t *testing.T, c *Coordinator, callbackURL string, sent <-chan string, scheduled <-chan struct{}) {
	t.Helper()
	job := mustOK(t, c.CreateJob(JobSpec{Action: "a", Inputs: []string{"x"}, Options: []byte(`{}`), CallbackURL: callbackURL}))
	u := mustOK(t, c.Dequeue("w", "a"))
	mustOK(t, c.Complete(Report{Unit: u.Unit.ID, Worker: "w", Succeeded: false, Output: []byte(`"boom"`)}))
	if body := <-sent; !strings.Contains(body, `"status":"failed"`) {
		t.Fatalf("first callback: %s", body)
	}
	if scheduled != nil {
		<-scheduled
	}
	mustOK(t, c.RetryJob(job.Job.ID))
}

// A retry of the callback scheduled before the job was retried from the
// console does not fire: the job is running again, not complete.
func TestCallbackRetryOfAnEarlierCompletionIsDropped(t *testing.T) {
	sent := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent <- r.FormValue("job")
		w.WriteHeader(http.StatusInternalServerError) // try again later
	}))
	defer srv.Close()
	const backoff = 300 * time.Millisecond
	c, scheduled := startCallbacks(t, backoff)
	failThenRetry(t, c, srv.URL, sent, scheduled)
	select {
	case body := <-sent:
		t.Fatalf("a callback went out for a job that is running again: %s", body)
	case <-time.After(3 * backoff):
	}
}

// The late answer to the first completion's callback is not taken for the
// answer to the second's: the second, refused with a 500, is tried again.
func TestCallbackAnswerOfAnEarlierCompletionIsIgnored(t *testing.T) {
	sent := make(chan string, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.FormValue("job")
		sent <- body
		if strings.Contains(body, `"status":"failed"`) {
			<-release // the first completion's answer comes late, and says delivered
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	defer close(release)
	c, _ := startCallbacks(t, 200*time.Millisecond)
	failThenRetry(t, c, srv.URL, sent, nil)
	u := mustOK(t, c.Dequeue("w", "a"))
	mustOK(t, c.Complete(Report{Unit: u.Unit.ID, Worker: "w", Succeeded: true, Output: []byte(`1`)}))
	if body := <-sent; !strings.Contains(body, `"status":"succeeded"`) {
		t.Fatalf("second callback: %s", body)
	}
	release <- struct{}{} // now the first one's 200
	select {
	case body := <-sent:
		if !strings.Contains(body, `"status":"succeeded"`) {
			t.Fatalf("the retry of the second callback: %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second callback was not tried again: the first one's late 200 settled it")
	}
}
