package transport

import "github.com/valyala/fasthttp"

// GET /status: the incomplete jobs (the oldest Settings.StatusJobs of them),
// the live workers and the number of incomplete units, as CloudCrowd
// answered, then counts that stay true when the job list is capped and, in
// cluster mode, each node's raft state.
func (s *Server) status(ctx *fasthttp.RequestCtx) {
	v, err := s.co.Status()
	if err != nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	if s.opts.Cluster != nil {
		v.Cluster = s.opts.Cluster()
	}
	ctx.SetContentType(jsonType)
	setBody(ctx, v.AppendJSON)
}
