package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/webui"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// The console's routes: its JSON under /console/, its files under
// /console/static/, and CloudCrowd's /blacklist routes (pause an action).
func (s *Server) consoleRoutes(r *router.Router) {
	files := (&fasthttp.FS{FS: webui.Files(), Compress: true, AllowEmptyRoot: true,
		PathRewrite: fasthttp.NewPathSlashesStripper(2)}).NewRequestHandler()
	register(r, "GET", "/", func(ctx *fasthttp.RequestCtx) {
		ctx.URI().SetPath("/console/static/index.html")
		files(ctx)
	})
	register(r, "GET", "/console/static/{filepath:*}", files)
	s.handle(r, "GET", "/console/summary", s.summary)
	s.handle(r, "GET", "/console/jobs", s.jobPage)
	s.handle(r, "GET", "/console/jobs/{id}", s.jobDetail)
	s.handle(r, "POST", "/console/jobs/{id}/retry", s.retryJob)
	s.handle(r, "GET", "/console/workers", s.workerDetails)
	s.handle(r, "GET", "/console/history", s.history)
	s.handle(r, "GET", "/blacklist", s.blacklist)
	s.handle(r, "POST", "/blacklist", s.pause)
	s.handle(r, "DELETE", "/blacklist/{action}", s.resume)
}

// writeJSON answers v as JSON.
func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	ctx.SetContentType(jsonType)
	ctx.SetBody(b)
}

func unavailable(ctx *fasthttp.RequestCtx, err error) {
	writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
}

func (s *Server) summary(ctx *fasthttp.RequestCtx) {
	v, err := s.co.Summary()
	if err != nil {
		unavailable(ctx, err)
		return
	}
	if s.opts.Cluster != nil {
		v.Cluster = s.opts.Cluster()
	}
	writeJSON(ctx, v)
}

// intArg reads a query argument between 1 and maxArg, def when absent.
// The bound keeps page × per_page far from overflowing.
func intArg(ctx *fasthttp.RequestCtx, key string, def int) (int, bool) {
	v := ctx.QueryArgs().Peek(key)
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 || n > maxArg {
		badRequest(ctx, key+" must be a whole number from 1 to "+strconv.Itoa(maxArg))
		return 0, false
	}
	return n, true
}

const maxArg = 1_000_000

// GET /console/jobs?filter=incomplete|complete|all&page=N&per_page=N
func (s *Server) jobPage(ctx *fasthttp.RequestCtx) {
	filters := map[string]core.Filter{"": core.IncompleteJobs, "incomplete": core.IncompleteJobs,
		"complete": core.CompleteJobs, "all": core.AllJobs}
	f, ok := filters[string(ctx.QueryArgs().Peek("filter"))]
	if !ok {
		badRequest(ctx, "filter must be incomplete, complete or all")
		return
	}
	page, ok1 := intArg(ctx, "page", 1)
	per, ok2 := intArg(ctx, "per_page", 50)
	if !ok1 || !ok2 {
		return
	}
	v, err := s.co.JobPage(f, page, per)
	if err != nil {
		unavailable(ctx, err)
		return
	}
	writeJSON(ctx, v)
}

// GET /console/jobs/:id?page=N&per_page=N
func (s *Server) jobDetail(ctx *fasthttp.RequestCtx) {
	id, ok := pathID(ctx, "job")
	if !ok {
		return
	}
	page, ok1 := intArg(ctx, "page", 1)
	per, ok2 := intArg(ctx, "per_page", 100)
	if !ok1 || !ok2 {
		return
	}
	v, err := s.co.JobDetail(id, page, per)
	if err != nil {
		if errors.Is(err, actors.ErrNoSuchJob) {
			notFound(ctx, err.Error())
		} else {
			unavailable(ctx, err)
		}
		return
	}
	writeJSON(ctx, v)
}

// POST /console/jobs/:id/retry
func (s *Server) retryJob(ctx *fasthttp.RequestCtx) {
	id, ok := pathID(ctx, "job")
	if !ok {
		return
	}
	r := s.co.RetryJob(id)
	writeReply(ctx, r, jobBody(r))
}

func (s *Server) workerDetails(ctx *fasthttp.RequestCtx) {
	v, err := s.co.Workers()
	if err != nil {
		unavailable(ctx, err)
		return
	}
	writeJSON(ctx, v)
}

// GET /console/history?since=<unix seconds>
func (s *Server) history(ctx *fasthttp.RequestCtx) {
	var since float64
	if v := ctx.QueryArgs().Peek("since"); len(v) > 0 {
		var err error
		if since, err = strconv.ParseFloat(string(v), 64); err != nil || math.IsNaN(since) {
			badRequest(ctx, "since must be a time in Unix seconds")
			return
		}
	}
	writeJSON(ctx, s.co.History(since))
}

// GET /blacklist: the paused actions, as CloudCrowd listed them.
func (s *Server) blacklist(ctx *fasthttp.RequestCtx) {
	ps, err := s.co.Paused()
	if err != nil {
		unavailable(ctx, err)
		return
	}
	ctx.SetContentType(jsonType)
	setBody(ctx, func(b []byte) []byte {
		b = append(b, '[')
		for i := range ps {
			if i > 0 {
				b = append(b, ',')
			}
			b = ps[i].AppendJSON(b)
		}
		return append(b, ']')
	})
}

// POST /blacklist action=<name>: pause an action. Pausing a paused action
// answers its pause.
func (s *Server) pause(ctx *fasthttp.RequestCtx) {
	name, ok := actionName(ctx, param(ctx, "action"))
	if !ok {
		return
	}
	r := s.co.Pause(name, true)
	writeReply(ctx, r, func(b []byte) []byte { return r.Pause.AppendJSON(b) })
}

// DELETE /blacklist/:action: resume an action.
func (s *Server) resume(ctx *fasthttp.RequestCtx) {
	raw, _ := ctx.UserValue("action").(string)
	name, ok := actionName(ctx, []byte(raw))
	if !ok {
		return
	}
	r := s.co.Pause(name, false)
	writeReply(ctx, r, func(b []byte) []byte { return r.Pause.AppendJSON(b) })
}

// actionName checks the name of an action to pause or resume; ok is false
// (and the 400 written) when it is not a snake_case name of at most
// action.MaxNameLen bytes.
func actionName(ctx *fasthttp.RequestCtx, v []byte) (string, bool) {
	name := string(v)
	switch {
	case len(name) > action.MaxNameLen:
		badRequest(ctx, fmt.Sprintf("action names are at most %d bytes", action.MaxNameLen))
		return "", false
	case !action.ValidName(name):
		badRequest(ctx, "action names must be alphabetic snakecase")
		return "", false
	}
	return name, true
}
