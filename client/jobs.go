package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// Job is what Submit posts: the job document of POST /jobs.
type Job struct {
	Action string `json:"action"`
	// Inputs are the units' inputs: a string is sent as is, any other
	// value JSON-encoded (SPEC §3). A nil slice is sent as null, which the
	// coordinator refuses.
	Inputs []any `json:"inputs"`
	// Options, when set, must be a JSON object; every unit receives it.
	Options json.RawMessage `json:"options,omitempty"`
	// CallbackURL, when set, receives the job once it is complete (SPEC §5).
	CallbackURL string `json:"callback_url,omitempty"`
	Email       string `json:"email,omitempty"`
}

// complete reports whether a job in status s is complete.
func complete(s string) bool { return s == "succeeded" || s == "failed" }

// Submit creates a job (POST /jobs, with the form field job=<JSON> as
// CloudCrowd clients send it) and returns it as the coordinator shows it.
func (c *Client) Submit(ctx context.Context, j Job) (wire.Job, error) {
	doc, err := json.Marshal(j)
	if err != nil {
		return wire.Job{}, fmt.Errorf("client: encoding the job: %w", err)
	}
	return c.job(ctx, route{method: fasthttp.MethodPost, path: "/jobs"}, func(b []byte) []byte {
		return appendField(b, "job", doc)
	})
}

// Job returns the job with the given id (GET /jobs/:id); an unknown job is
// an error matching ErrNotFound.
func (c *Client) Job(ctx context.Context, id int64) (wire.Job, error) {
	return c.job(ctx, route{method: fasthttp.MethodGet, path: "/jobs/", id: id, hasID: true}, nil)
}

// job sends a request answered by a job document.
func (c *Client) job(ctx context.Context, rt route, form func([]byte) []byte) (wire.Job, error) {
	var j wire.Job
	err := c.decode(ctx, rt, form, &j)
	return j, err
}

// decode sends a request whose answer is a JSON document, and decodes it
// into v; a 204 is an error here.
func (c *Client) decode(ctx context.Context, rt route, form func([]byte) []byte, v any) error {
	resp, err := c.call(ctx, rt, form)
	if err != nil {
		return err
	}
	if resp == nil {
		return decodeError(rt, errNoContent)
	}
	defer fasthttp.ReleaseResponse(resp)
	// encoding/json copies what it keeps: v holds nothing of resp.
	if err := json.Unmarshal(resp.Body(), v); err != nil {
		return decodeError(rt, err)
	}
	return nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoContent = constError("204 No Content")

// Delete removes a job, its units and its stored files (DELETE /jobs/:id);
// an unknown job is an error matching ErrNotFound.
func (c *Client) Delete(ctx context.Context, id int64) error {
	return c.noContent(ctx, route{method: fasthttp.MethodDelete, path: "/jobs/", id: id, hasID: true}, nil)
}

// Cleanup deletes the finished jobs that finished longer than olderThan
// ago, with their files (POST /cleanup), and returns how many it deleted.
// The coordinator answers once they are gone: give the client a timeout
// long enough for that (a million jobs take some seconds).
func (c *Client) Cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	var r wire.Cleanup
	err := c.decode(ctx, route{method: fasthttp.MethodPost, path: "/cleanup"}, func(b []byte) []byte {
		return appendField(b, "older_than", olderThan.String())
	}, &r)
	return r.Deleted, err
}

// Status returns GET /status: the incomplete jobs (capped by the
// coordinator; JobCount counts them all), the live workers and unit counts.
func (c *Client) Status(ctx context.Context) (wire.Status, error) {
	var s wire.Status
	err := c.decode(ctx, route{method: fasthttp.MethodGet, path: "/status"}, nil, &s)
	return s, err
}

// Wait's defaults.
const (
	// DefaultPoll is the poll interval when WaitOptions.Poll is not set.
	DefaultPoll = 250 * time.Millisecond
	// DefaultOutage is how long Wait keeps retrying while the coordinator
	// is unavailable, when WaitOptions.Outage is not set.
	DefaultOutage = 5 * time.Minute
	// MaxRetryInterval caps the back-off between the retries of an outage
	// (unless the poll interval is longer).
	MaxRetryInterval = 10 * time.Second
)

// WaitOptions tune WaitWith. The zero value is usable.
type WaitOptions struct {
	// Poll is how often the job is read; DefaultPoll when <= 0.
	Poll time.Duration
	// Outage bounds how long the coordinator may stay unavailable (an
	// error IsUnavailable reports: a connection error, a timeout, a 5xx
	// answer such as the 503 of a coordinator shutting down) before the
	// wait gives up: DefaultOutage when 0; when negative, the first such
	// error ends the wait.
	Outage time.Duration
	// Progress (may be nil) is called with each state of the job that the
	// wait sees, the final one included.
	Progress func(wire.Job)
	// Unavailable (may be nil) is called once at the start of an outage,
	// with its first error; Available (may be nil) when the coordinator
	// answers again, with how long the outage lasted.
	Unavailable func(err error)
	Available   func(down time.Duration)
}

// Wait is WaitWith with the poll interval poll, the default outage bound
// and progress (may be nil).
func (c *Client) Wait(ctx context.Context, id int64, poll time.Duration, progress func(wire.Job)) (wire.Job, error) {
	return c.WaitWith(ctx, id, WaitOptions{Poll: poll, Progress: progress})
}

// WaitWith polls the job every o.Poll until it is complete (succeeded or
// failed), and returns the final job.
//
// While the coordinator is unavailable (restarting, shutting down,
// unreachable) it retries, after o.Poll and then twice as long each time up
// to MaxRetryInterval, for up to o.Outage from the first failed request;
// past that it returns an error that wraps the last one (IsUnavailable
// reports it). Any other error ends the wait at once: a job deleted
// meanwhile is an error matching ErrNotFound, and once ctx is done it
// returns ctx.Err().
func (c *Client) WaitWith(ctx context.Context, id int64, o WaitOptions) (wire.Job, error) {
	poll := o.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	outage := o.Outage
	if outage == 0 {
		outage = DefaultOutage
	}
	var (
		timer     *time.Timer
		downSince time.Time // when the outage began; zero while the coordinator answers
		giveUp    time.Time // downSince + outage
		retry     time.Duration
		lastErr   error // the outage's last error
	)
	for {
		j, err := c.pollJob(ctx, id, giveUp)
		if err != nil && ctx.Err() == nil && errors.Is(err, errOutageBound) {
			err = lastErr // the bound cut the request short: the outage goes on
		}
		wait := poll
		switch {
		case err == nil:
			if !downSince.IsZero() {
				if o.Available != nil {
					o.Available(time.Since(downSince))
				}
				downSince, giveUp, lastErr = time.Time{}, time.Time{}, nil
			}
			if o.Progress != nil {
				o.Progress(j)
			}
			if complete(j.Status) {
				return j, nil
			}
		case ctx.Err() != nil:
			return wire.Job{}, ctx.Err()
		case outage < 0 || !IsUnavailable(err):
			return wire.Job{}, err
		default:
			now := time.Now()
			lastErr = err
			if downSince.IsZero() {
				downSince, giveUp, retry = now, now.Add(outage), poll
				if o.Unavailable != nil {
					o.Unavailable(err)
				}
			} else {
				retry = min(2*retry, max(MaxRetryInterval, poll))
			}
			if !now.Before(giveUp) {
				return wire.Job{}, fmt.Errorf("client: the coordinator has been unavailable for %v: %w",
					now.Sub(downSince).Round(time.Second), err)
			}
			wait = min(retry, giveUp.Sub(now))
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return wire.Job{}, ctx.Err()
		case <-timer.C:
		}
	}
}

// errOutageBound is the cause of a request that WaitWith's outage bound cut
// short.
const errOutageBound = constError("the outage bound passed")

// pollJob reads the job; during an outage (giveUp is not zero) the request
// ends by giveUp, with an error matching errOutageBound if it has to.
func (c *Client) pollJob(ctx context.Context, id int64, giveUp time.Time) (wire.Job, error) {
	if giveUp.IsZero() {
		return c.Job(ctx, id)
	}
	rctx, cancel := context.WithDeadline(ctx, giveUp)
	defer cancel()
	j, err := c.Job(rctx, id)
	// The request's deadline may pass (send reports DeadlineExceeded) a
	// moment before rctx's own timer marks rctx done.
	if err != nil && ctx.Err() == nil && (rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
		return j, errOutageBound
	}
	return j, err
}
