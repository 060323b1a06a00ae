// Package transport is the coordinator's HTTP front end on fasthttp: it maps
// each of CloudCrowd's routes to one call of the actors' coordinator, turns
// requests into messages (copying what it needs out of the request first)
// and answers into JSON.
package transport

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/metrics"
	"github.com/documentcloud/crowd/wire"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Options configure a Server.
type Options struct {
	Coordinator *actors.Coordinator
	Catalog     *action.Catalog
	// Basic authentication on every route, when Login is set.
	Login, Password string
	MaxBody         int64 // request bodies above this are refused with 413
	Logger          *slog.Logger
	Metrics         *metrics.Metrics // when set: GET /metrics, and each route's latency
	// Cluster, in cluster mode, reads each node's raft state for GET
	// /status and the console's summary.
	Cluster func() []wire.ClusterNode
}

// Server is the coordinator's HTTP server.
type Server struct {
	opts    Options
	co      *actors.Coordinator
	catalog *action.Catalog
	log     *slog.Logger
	srv     *fasthttp.Server
	auth    []byte // the expected Authorization header; nil when auth is off
	names   names  // worker names and action lists, interned

	draining atomic.Bool // set by Drain

	// putWork is the PUT /work/:id route's handler, metrics and all, which
	// handler calls without the router (isWorkPath).
	putWork fasthttp.RequestHandler
}

// Drain makes the server refuse new work while it shuts down: POST /jobs
// and POST /work answer 503, the held ones too. Reports, check-outs and
// queries go on, so the units under way can finish.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.co.Drain()
}

// refuseWhileDraining answers 503 once Drain was called, and reports
// whether it did.
func (s *Server) refuseWhileDraining(ctx *fasthttp.RequestCtx) bool {
	if !s.draining.Load() {
		return false
	}
	drainingAnswer(ctx)
	return true
}

func drainingAnswer(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Retry-After", "5")
	writeError(ctx, fasthttp.StatusServiceUnavailable, actors.ErrDraining.Error())
}

// New builds the server and its routes.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{opts: o, co: o.Coordinator, catalog: o.Catalog, log: o.Logger}
	if o.Login != "" {
		s.auth = BasicAuth(o.Login, o.Password)
	}
	s.srv = HTTPServer(s.handler(s.routes()), o)
	return s
}

// HTTPServer is the fasthttp server crowd answers with: its timeouts and
// bounds, and clear 4xx answers to requests it cannot read. The cluster
// mode's front serves a node's routes with it too.
func HTTPServer(h fasthttp.RequestHandler, o Options) *fasthttp.Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &fasthttp.Server{
		Handler:                      h,
		Name:                         "crowd",
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  120 * time.Second,
		ReadBufferSize:               readBufferSize,
		MaxRequestBodySize:           int(min(o.MaxBody, int64(maxInt))),
		DisablePreParseMultipartForm: true, // parsed in handler, once authenticated
		ErrorHandler:                 requestError(o),
		SecureErrorLogMessage:        true, // errors do not quote the request
		Logger:                       fasthttpLogger{o.Logger},
	}
}

const maxInt = int(^uint(0) >> 1)

// readBufferSize bounds the request line and headers (fasthttp's default).
const readBufferSize = 4096

func (s *Server) routes() *router.Router {
	r := router.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = func(ctx *fasthttp.RequestCtx) { notFound(ctx, "no such route") }
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed on this route")
	}
	r.PanicHandler = s.panicked

	s.handle(r, "GET", "/heartbeat", heartbeat)
	s.handle(r, "GET", "/status", s.status)
	s.handle(r, "POST", "/jobs", s.createJob)
	s.handle(r, "GET", "/jobs/{id}", s.getJob)
	s.handle(r, "DELETE", "/jobs/{id}", s.deleteJob)
	s.handle(r, "POST", "/work", s.dequeue)
	s.putWork = s.handle(r, "PUT", "/work/{id}", s.complete)
	s.handle(r, "PUT", "/worker", s.worker)
	s.handle(r, "GET", "/worker/{name}", s.workerUnit)
	s.handle(r, "POST", "/cleanup", s.cleanup)
	if m := s.opts.Metrics; m != nil {
		register(r, "GET", "/metrics", fasthttpadaptor.NewFastHTTPHandler(m.Handler()))
	}
	s.consoleRoutes(r)
	return r
}

// handle registers a route; with metrics on, it times every request into
// the route's own histogram. It returns the handler it registered.
func (s *Server) handle(r *router.Router, method, path string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	if m := s.opts.Metrics; m != nil {
		observer, next := m.Route(method+" "+path), h
		h = func(ctx *fasthttp.RequestCtx) {
			start := time.Now()
			next(ctx)
			observer.Observe(time.Since(start).Seconds())
		}
	}
	register(r, method, path, h)
	return h
}

// register adds a route to r; a GET route answers HEAD too (fasthttp sends
// the GET answer's headers, Content-Length included, without its body).
func register(r *router.Router, method, path string, h fasthttp.RequestHandler) {
	r.Handle(method, path, h)
	if method == fasthttp.MethodGet {
		r.Handle(fasthttp.MethodHead, path, h)
	}
}

// BasicAuth is the Authorization header that Basic authentication with
// login and password expects.
func BasicAuth(login, password string) []byte {
	return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password)))
}

// Authorized reports whether a request carries the expected Authorization
// header (BasicAuth); with no expected header, every request is. When it
// is not, the 401 is written.
func Authorized(ctx *fasthttp.RequestCtx, expected []byte) bool {
	if expected == nil || subtle.ConstantTimeCompare(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization), expected) == 1 {
		return true
	}
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Basic realm="CloudCrowd"`)
	writeError(ctx, fasthttp.StatusUnauthorized, "authentication required")
	return false
}

// handler wraps the router with what applies to every route: Basic
// authentication, reading a multipart/form-data body (param reads its
// fields) and CloudCrowd's _method override.
func (s *Server) handler(r *router.Router) fasthttp.RequestHandler {
	next := r.Handler
	return func(ctx *fasthttp.RequestCtx) {
		if !Authorized(ctx, s.auth) {
			return
		}
		if isMultipart(ctx) {
			// Limited again once read: a compressed body can unpack past max_body.
			if _, err := ctx.MultipartFormWithLimit(int(min(s.opts.MaxBody, int64(maxInt)))); err != nil {
				if errors.Is(err, fasthttp.ErrBodyTooLarge) {
					s.srv.ErrorHandler(ctx, err)
				} else {
					badRequest(ctx, "the multipart/form-data body is malformed")
				}
				return
			}
		}
		if ctx.IsPost() {
			if m := param(ctx, "_method"); len(m) > 0 {
				switch string(bytes.ToUpper(m)) {
				case fasthttp.MethodPut:
					ctx.Request.Header.SetMethod(fasthttp.MethodPut)
				case fasthttp.MethodDelete:
					ctx.Request.Header.SetMethod(fasthttp.MethodDelete)
				default:
					writeError(ctx, fasthttp.StatusBadRequest, "_method must be PUT or DELETE")
					return
				}
			}
		}
		if ctx.IsPut() && isWorkPath(ctx.Request.URI().PathOriginal()) {
			s.serveDirect(ctx, s.putWork)
			return
		}
		next(ctx)
	}
}

// isWorkPath reports whether path is /work/ and a number: a path the router
// sends to PUT /work/:id's handler. The route that every report takes goes
// around the router, which allocates the {id} it hands over, twice.
func isWorkPath(path []byte) bool {
	id, ok := bytes.CutPrefix(path, []byte(workPrefix))
	if !ok || len(id) == 0 || len(id) > 19 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// serveDirect runs a route's handler as the router would, a panic answered
// by the router's panic handler.
func (s *Server) serveDirect(ctx *fasthttp.RequestCtx, h fasthttp.RequestHandler) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked(ctx, v)
		}
	}()
	h(ctx)
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for the requests in
// flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// Handler is the whole server's handler, for tests and benchmarks that serve
// it themselves.
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

func (s *Server) panicked(ctx *fasthttp.RequestCtx, v any) {
	s.log.Error("handler panic", "method", string(ctx.Method()), "path", string(ctx.Path()),
		"panic", v, "stack", string(debug.Stack()))
	ctx.ResetBody()
	writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
}

// requestError answers requests fasthttp could not read. The answer
// repeats nothing of the request: fasthttp's errors can quote it,
// credentials included.
// requestError answers a request fasthttp could not read.
func requestError(o Options) func(*fasthttp.RequestCtx, error) {
	return func(ctx *fasthttp.RequestCtx, err error) {
		o.Logger.Debug("unreadable request", "error", err)
		var small *fasthttp.ErrSmallBuffer
		var timeout interface{ Timeout() bool }
		switch {
		case errors.Is(err, fasthttp.ErrBodyTooLarge):
			writeError(ctx, fasthttp.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than max_body (%d bytes)", o.MaxBody))
		case errors.As(err, &small):
			writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge,
				fmt.Sprintf("the URL and headers are larger than %d bytes", readBufferSize))
		case errors.As(err, &timeout) && timeout.Timeout():
			writeError(ctx, fasthttp.StatusRequestTimeout, "request timed out")
		default:
			writeError(ctx, fasthttp.StatusBadRequest, "malformed HTTP request")
		}
	}
}

func heartbeat(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString("buh-bump")
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}
