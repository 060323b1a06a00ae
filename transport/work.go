package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// statusRequired is the seed's fixed message for a PUT /work/:id without a
// valid status (answered 400 here; the seed answered 500).
const statusRequired = "Completing a work unit must specify status."

// POST /work: lease the oldest ready unit of the worker's actions.
func (s *Server) dequeue(ctx *fasthttp.RequestCtx) {
	if s.refuseWhileDraining(ctx) {
		return
	}
	worker, ok := s.workerName(ctx, "worker_name")
	if !ok {
		return
	}
	actions, ok := textParam(ctx, "worker_actions", wire.MaxWorkerActions)
	if !ok {
		return
	}
	// How long to hold the request while no unit is ready (long-poll);
	// none is 0: the answer comes at once, as CloudCrowd's did.
	wait, ok := secondsParam(ctx, "wait", 0, wire.MaxWait)
	if !ok {
		return
	}
	r := s.co.DequeueWait(worker, s.names.get(actions), wait)
	if r.Outcome == actors.Unavailable && errors.Is(r.Err, actors.ErrDraining) {
		drainingAnswer(ctx) // it was held when the server began to stop
		return
	}
	writeReply(ctx, r, unitBody(r))
}

// secondsParam reads a field that is a number of seconds from least to
// most; an absent one is 0.
func secondsParam(ctx *fasthttp.RequestCtx, key string, least, most time.Duration) (time.Duration, bool) {
	v := param(ctx, key)
	if len(v) == 0 {
		return 0, true
	}
	secs, err := strconv.ParseFloat(string(v), 64)
	if err != nil || !(secs >= least.Seconds() && secs <= most.Seconds()) { // also refuses NaN
		badRequest(ctx, fmt.Sprintf("%s must be a number of seconds from %v to %v", key, least.Seconds(), most.Seconds()))
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// workPrefix is the path of PUT /work/:id up to the id.
const workPrefix = "/work/"

// PUT /work/:id: record a unit's result and answer the worker's next unit.
// It reads the id from the path itself, which the router matched as it
// came (undecoded), so that it serves the route's fast way in too
// (Server.handler).
func (s *Server) complete(ctx *fasthttp.RequestCtx) {
	id, ok := parseID(ctx, bytes.TrimPrefix(ctx.Request.URI().PathOriginal(), []byte(workPrefix)), "work unit")
	if !ok {
		return
	}
	rep := actors.Report{Unit: id}
	switch string(param(ctx, "status")) {
	case "succeeded":
		rep.Succeeded = true
	case "failed":
	default:
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(statusRequired)
		return
	}
	if rep.Worker, ok = s.workerName(ctx, "worker_name"); !ok {
		return
	}
	var err error
	if rep.Output, err = unwrapOutput(param(ctx, "output")); err != nil {
		badRequest(ctx, err.Error())
		return
	}
	if t := param(ctx, "time"); len(t) > 0 {
		if rep.Time, err = strconv.ParseFloat(string(t), 64); err != nil || !(rep.Time >= 0 && rep.Time <= maxSeconds) {
			badRequest(ctx, "time must be a number of seconds")
			return
		}
	}
	actions, ok := textParam(ctx, "worker_actions", wire.MaxWorkerActions)
	if !ok {
		return
	}
	rep.Actions = s.names.get(actions)
	r := s.co.Complete(rep)
	writeReply(ctx, r, unitBody(r))
}

// maxSeconds bounds a reported time (a year), which also refuses NaN and
// infinities.
const maxSeconds = 365 * 24 * 3600

var errOutput = jsonError("output must be the JSON text {\"output\": <value>}")

type jsonError string

func (e jsonError) Error() string { return string(e) }

// unwrapOutput takes the value out of the worker's {"output": <value>}; a
// missing output is null. Workers send exactly that shape, so it is read
// without reflection; any other object goes through encoding/json. The value
// is copied: raw is only valid until the handler returns.
func unwrapOutput(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return []byte("null"), nil
	}
	if v, ok := outputValue(raw); ok {
		if bytes.ContainsAny(v, " \t\r\n") {
			var b bytes.Buffer
			json.Compact(&b, v) // v is valid JSON: Compact cannot fail
			return b.Bytes(), nil
		}
		return append([]byte(nil), v...), nil
	}
	var w struct {
		Output json.RawMessage `json:"output"`
	}
	if raw[0] != '{' || json.Unmarshal(raw, &w) != nil {
		return nil, errOutput
	}
	if w.Output == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, w.Output); err != nil {
		return nil, errOutput
	}
	return b.Bytes(), nil
}

// outputValue matches {"output":<value>} with optional spaces, and returns
// the value when it is valid JSON.
func outputValue(raw []byte) ([]byte, bool) {
	const key = `"output"`
	b, ok := bytes.CutPrefix(raw, []byte("{"))
	if !ok {
		return nil, false
	}
	if b, ok = bytes.CutPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(key)); !ok {
		return nil, false
	}
	if b, ok = bytes.CutPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(":")); !ok {
		return nil, false
	}
	if b, ok = bytes.CutSuffix(b, []byte("}")); !ok {
		return nil, false
	}
	v := bytes.TrimSpace(b)
	if len(v) == 0 || !json.Valid(v) {
		return nil, false
	}
	return v, true
}

// PUT /worker: check in (name, thread_status, check_in_interval) or check
// out (name, terminated=true).
func (s *Server) worker(ctx *fasthttp.RequestCtx) {
	name, ok := s.workerName(ctx, "name")
	if !ok {
		return
	}
	terminated, ok := boolParam(ctx, "terminated")
	if !ok {
		return
	}
	if terminated {
		writeReply(ctx, s.co.CheckOut(name), nil)
		return
	}
	threadStatus, ok := textParam(ctx, "thread_status", wire.MaxThreadStatus)
	if !ok {
		return
	}
	interval, ok := secondsParam(ctx, "check_in_interval", wire.MinCheckInInterval, wire.MaxCheckInInterval)
	if !ok {
		return
	}
	writeReply(ctx, s.co.CheckIn(name, string(threadStatus), interval), nil)
}

// GET /worker/:name: the unit the worker holds, or {}.
func (s *Server) workerUnit(ctx *fasthttp.RequestCtx) {
	raw, _ := ctx.UserValue("name").(string)
	name, err := url.PathUnescape(raw) // the router matches the raw path
	if err != nil {
		badRequest(ctx, "worker name is not a valid path segment")
		return
	}
	r := s.co.WorkerUnit(name)
	if r.Outcome == actors.NoContent {
		ctx.SetContentType(jsonType)
		ctx.SetBodyString("{}")
		return
	}
	writeReply(ctx, r, unitBody(r))
}

// workerName reads a required worker name; ok is false (and the 400
// written) when it is missing or not a name (checkText).
func (s *Server) workerName(ctx *fasthttp.RequestCtx, key string) (string, bool) {
	v, ok := textParam(ctx, key, wire.MaxWorkerName)
	if !ok {
		return "", false
	}
	if len(v) == 0 {
		badRequest(ctx, key+" is missing")
		return "", false
	}
	return s.names.get(v), true
}
