package transport

import (
	"time"

	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// cleanupWait bounds how long POST /cleanup waits for its deletions: a
// million jobs take some seconds.
const cleanupWait = 10 * time.Minute

// POST /cleanup: delete the finished jobs that finished longer than
// older_than ago (a duration, or seconds), with their files, as retention
// does; the answer, {"deleted": N}, comes once they are gone. CloudCrowd's
// `crowd cleanup --days 7`, against a running server.
func (s *Server) cleanup(ctx *fasthttp.RequestCtx) {
	v := param(ctx, "older_than")
	if len(v) == 0 {
		badRequest(ctx, "older_than is required: a duration such as 72h, or a number of seconds")
		return
	}
	olderThan, err := wire.ParseDuration(string(v))
	if err != nil {
		badRequest(ctx, "older_than: "+err.Error())
		return
	}
	n, err := s.co.Cleanup(olderThan, cleanupWait)
	if err != nil {
		unavailable(ctx, err)
		return
	}
	writeJSON(ctx, wire.Cleanup{Deleted: n})
}
