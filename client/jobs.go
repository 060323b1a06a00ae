package client

import (
	"context"
	"encoding/json"
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

// Status returns GET /status: the incomplete jobs (capped by the
// coordinator; JobCount counts them all), the live workers and unit counts.
func (c *Client) Status(ctx context.Context) (wire.Status, error) {
	var s wire.Status
	err := c.decode(ctx, route{method: fasthttp.MethodGet, path: "/status"}, nil, &s)
	return s, err
}

// DefaultPoll is Wait's poll interval when it is given none.
const DefaultPoll = 250 * time.Millisecond

// Wait polls the job every poll interval (DefaultPoll when poll <= 0) until
// it is complete (succeeded or failed), calling progress (may be nil) with
// each state it sees, the final one included. It returns the final job, or
// the first error: ctx's error once ctx is done, or that of a request (a
// job deleted meanwhile matches ErrNotFound).
func (c *Client) Wait(ctx context.Context, id int64, poll time.Duration, progress func(wire.Job)) (wire.Job, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	var timer *time.Timer
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return wire.Job{}, err
		}
		if progress != nil {
			progress(j)
		}
		if complete(j.Status) {
			return j, nil
		}
		if timer == nil {
			timer = time.NewTimer(poll)
			defer timer.Stop()
		} else {
			timer.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return wire.Job{}, ctx.Err()
		case <-timer.C:
		}
	}
}
