package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/core"
	"github.com/valyala/fasthttp"
)

// POST /jobs: job=<JSON> in a form or the query string, or the job object
// itself as an application/json body.
func (s *Server) createJob(ctx *fasthttp.RequestCtx) {
	if s.refuseWhileDraining(ctx) {
		return
	}
	var raw []byte
	if hasMediaType(ctx.Request.Header.ContentType(), jsonType) {
		raw = ctx.PostBody()
	} else {
		raw = param(ctx, "job")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		badRequest(ctx, `job is missing: send job=<JSON> as a form field, or a JSON body`)
		return
	}
	spec, err := s.parseJob(raw)
	if err != nil {
		badRequest(ctx, err.Error())
		return
	}
	r := s.co.CreateJob(spec)
	writeReply(ctx, r, jobBody(r))
}

// jobRequest is the job document a client posts.
type jobRequest struct {
	Action      json.RawMessage `json:"action"`
	Inputs      json.RawMessage `json:"inputs"`
	Options     json.RawMessage `json:"options"`
	CallbackURL json.RawMessage `json:"callback_url"`
	Email       json.RawMessage `json:"email"`
}

// parseJob validates a posted job. Every error names the field at fault.
func (s *Server) parseJob(raw []byte) (actors.JobSpec, error) {
	var spec actors.JobSpec
	var req jobRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return spec, fmt.Errorf("job is not a JSON object: %v", err)
	}
	if err := stringField(req.Action, "action", &spec.Action); err != nil {
		return spec, err
	}
	if spec.Action == "" {
		return spec, fmt.Errorf("action is missing")
	}
	if !action.ValidName(spec.Action) {
		return spec, fmt.Errorf("action %q is not a snake_case name", spec.Action)
	}
	phases, ok := s.catalog.Lookup(spec.Action)
	if !ok {
		return spec, fmt.Errorf("unknown action %q", spec.Action)
	}
	spec.Split, spec.Merge = phases.Split, phases.Merge

	if isNull(req.Inputs) {
		return spec, fmt.Errorf("inputs is missing")
	}
	var inputs []json.RawMessage
	if req.Inputs[0] != '[' || json.Unmarshal(req.Inputs, &inputs) != nil {
		return spec, fmt.Errorf("inputs must be an array")
	}
	spec.Inputs = make([]string, len(inputs))
	for i, in := range inputs {
		v, err := core.UnitInput(in)
		if err != nil {
			return spec, fmt.Errorf("inputs[%d]: %v", i, err)
		}
		spec.Inputs[i] = v
	}

	spec.Options = []byte("{}")
	if !isNull(req.Options) {
		if req.Options[0] != '{' {
			return spec, fmt.Errorf("options must be an object")
		}
		var b bytes.Buffer
		if err := json.Compact(&b, req.Options); err != nil {
			return spec, fmt.Errorf("options: %v", err)
		}
		spec.Options = b.Bytes()
	}

	if err := stringField(req.CallbackURL, "callback_url", &spec.CallbackURL); err != nil {
		return spec, err
	}
	if spec.CallbackURL != "" {
		u, err := url.Parse(spec.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return spec, fmt.Errorf("callback_url %q is not an absolute http(s) URL", spec.CallbackURL)
		}
	}
	if !isNull(req.Email) {
		var email string
		if err := stringField(req.Email, "email", &email); err != nil {
			return spec, err
		}
		spec.Email = &email
	}
	return spec, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// stringField decodes an optional string field.
func stringField(raw json.RawMessage, name string, dst *string) error {
	if isNull(raw) {
		return nil
	}
	if raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		return fmt.Errorf("%s must be a string", name)
	}
	return nil
}

// GET /jobs/:id
func (s *Server) getJob(ctx *fasthttp.RequestCtx) {
	id, ok := pathID(ctx, "job")
	if !ok {
		return
	}
	r := s.co.Job(id)
	writeReply(ctx, r, jobBody(r))
}

// DELETE /jobs/:id
func (s *Server) deleteJob(ctx *fasthttp.RequestCtx) {
	id, ok := pathID(ctx, "job")
	if !ok {
		return
	}
	writeReply(ctx, s.co.DeleteJob(id), nil)
}
