package transport

import "github.com/valyala/fasthttp"

// GET /status: the incomplete jobs (the oldest Settings.StatusJobs of them),
// the live workers and the number of incomplete units, as CloudCrowd
// answered, then counts that stay true when the job list is capped.
func (s *Server) status(ctx *fasthttp.RequestCtx) {
	v, err := s.co.Status()
	if err != nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	ctx.SetContentType(jsonType)
	setBody(ctx, v.AppendJSON)
}
