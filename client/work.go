package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// The worker protocol. Every request carries the worker's name, which
// renews its liveness on the coordinator (SPEC §3).
//
// A request whose context is cancelled while it is in flight returns at
// once, but the coordinator may still act on it: a unit leased by such a
// Dequeue or Complete shows in WorkerUnit, and CheckOut puts it back.

// Dequeue leases the oldest ready unit whose action is among actions (a
// comma-separated list) to worker (POST /work). It returns nil, nil when no
// unit is ready.
func (c *Client) Dequeue(ctx context.Context, worker, actions string) (*wire.WorkUnit, error) {
	return c.DequeueWait(ctx, worker, actions, 0)
}

// DequeueWait is Dequeue with a wait (long-poll): when no unit is ready,
// the coordinator holds the request until one is, for up to wait
// (wire.MaxWait at most), and answers nil, nil if none came. A pause of one
// of the actions, or the worker's check-out, also ends the wait early.
func (c *Client) DequeueWait(ctx context.Context, worker, actions string, wait time.Duration) (*wire.WorkUnit, error) {
	wait = min(wait, wire.MaxWait)
	return c.unit(ctx, route{method: fasthttp.MethodPost, path: "/work", hold: wait}, func(b []byte) []byte {
		b = appendField(b, "worker_name", worker)
		b = appendField(b, "worker_actions", actions)
		if wait > 0 {
			b = appendField(b, "wait", strconv.FormatFloat(wait.Seconds(), 'f', -1, 64))
		}
		return b
	})
}

// Result is one attempt's outcome.
type Result struct {
	Succeeded bool
	// Output is the output value, valid JSON (the client wraps it as
	// {"output": <value>}); nil means null.
	Output json.RawMessage
	// Time is how long the attempt took.
	Time time.Duration
}

// Complete reports the result of worker's attempt at a unit (PUT /work/:id)
// and returns the next unit the coordinator leases to it, as Dequeue
// would, or nil when none is ready. After a failed attempt the next unit is
// never the one that just failed.
//
// A unit that is not leased to worker (any more) is an error matching
// ErrConflict, and an unknown unit one matching ErrNotFound: the result is
// dropped in both cases.
func (c *Client) Complete(ctx context.Context, unit int64, worker, actions string, r Result) (*wire.WorkUnit, error) {
	rt := route{method: fasthttp.MethodPut, path: "/work/", id: unit, hasID: true}
	return c.unit(ctx, rt, func(b []byte) []byte {
		status := "failed"
		if r.Succeeded {
			status = "succeeded"
		}
		b = appendField(b, "status", status)
		b = appendField(b, "worker_name", worker)
		b = appendField(b, "worker_actions", actions)
		b = append(b, "&time="...)
		b = wire.AppendSeconds(b, max(r.Time, 0).Seconds())
		b = append(b, "&output="...)
		b = appendEscaped(b, `{"output":`)
		if len(r.Output) == 0 {
			b = append(b, "null"...)
		} else {
			b = appendEscaped(b, r.Output)
		}
		return appendEscaped(b, "}")
	})
}

// unit sends a request answered by a unit, or 204.
func (c *Client) unit(ctx context.Context, rt route, form func([]byte) []byte) (*wire.WorkUnit, error) {
	resp, err := c.call(ctx, rt, form)
	if resp == nil {
		return nil, err
	}
	defer fasthttp.ReleaseResponse(resp)
	u := new(wire.WorkUnit)
	// encoding/json copies what it keeps: u holds nothing of resp.
	if err := json.Unmarshal(resp.Body(), u); err != nil {
		return nil, decodeError(rt, err)
	}
	if u.ID == 0 { // GET /worker/:name answers {} for none
		return nil, nil
	}
	return u, nil
}

// CheckIn tells the coordinator that worker is alive (PUT /worker), with
// threadStatus for display. A positive interval promises a check-in at
// least that often: the coordinator then counts the worker dead after three
// missed ones, rather than after its worker_timeout.
func (c *Client) CheckIn(ctx context.Context, worker, threadStatus string, interval time.Duration) error {
	return c.noContent(ctx, route{method: fasthttp.MethodPut, path: "/worker"}, func(b []byte) []byte {
		b = appendField(b, "name", worker)
		b = appendField(b, "thread_status", threadStatus)
		if interval > 0 {
			b = append(b, "&check_in_interval="...)
			b = strconv.AppendFloat(b, interval.Seconds(), 'f', -1, 64)
		}
		return b
	})
}

// CheckOut tells the coordinator that worker is leaving (PUT /worker with
// terminated=true): the units it holds go back to the queue without
// counting an attempt.
func (c *Client) CheckOut(ctx context.Context, worker string) error {
	return c.noContent(ctx, route{method: fasthttp.MethodPut, path: "/worker"}, func(b []byte) []byte {
		b = appendField(b, "name", worker)
		return append(b, "&terminated=true"...)
	})
}

// noContent sends a request whose answer carries nothing of interest.
func (c *Client) noContent(ctx context.Context, rt route, form func([]byte) []byte) error {
	resp, err := c.call(ctx, rt, form)
	if resp != nil {
		fasthttp.ReleaseResponse(resp)
	}
	return err
}

// WorkerUnit returns the unit worker holds (GET /worker/:name), or nil when
// it holds none.
func (c *Client) WorkerUnit(ctx context.Context, worker string) (*wire.WorkUnit, error) {
	return c.unit(ctx, route{method: fasthttp.MethodGet, path: "/worker/" + url.PathEscape(worker)}, nil)
}
