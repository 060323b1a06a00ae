// Package client talks to a crowd coordinator over CloudCrowd's HTTP API
// (SPEC §4): it submits jobs and follows them, as `crowd submit` and
// `crowd status` do, and speaks the worker protocol (POST /work,
// PUT /work/:id, PUT /worker) for the worker process.
//
// A Client is safe for concurrent use. It keeps a pool of keep-alive
// connections to one coordinator (fasthttp's HostClient) and reuses its
// request and response objects, so that a worker can call Dequeue and
// Complete in a tight loop with few allocations.
//
// Errors: an HTTP error answer is an *Error (test it with errors.Is against
// ErrNotFound, ErrConflict and ErrUnauthorized); a request that could not be
// sent or answered (connection refused, timeout) is an error that names the
// method and path, and IsUnavailable reports both it and a 5xx answer as
// worth retrying. A done context is returned as ctx.Err() itself.
//
// Contexts: a request runs until the nearer of ctx's deadline and
// Options.Timeout. When ctx can be cancelled (its Done channel is not nil),
// the request runs on a goroutine of its own so that a cancellation returns
// at once, which costs a goroutine switch per request (about 10 µs on
// loopback); with context.Background, or a context from
// context.WithoutCancel, it runs on the caller's goroutine.
package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Login and Password are sent as HTTP Basic credentials when Login is
	// not empty (the coordinator's http_authentication).
	Login, Password string
	// Timeout bounds each request, from sending it to reading the whole
	// answer (a context deadline that comes sooner wins); default 30s.
	Timeout time.Duration
	// MaxConns is the most connections kept open to the coordinator; a
	// request that finds them all busy waits for one, within its timeout.
	// Default 64.
	MaxConns int
}

// Default option values.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxConns = 64
)

// idleConnTimeout closes connections unused this long, well before the
// coordinator's own idle timeout (120 s) closes them under a request.
const idleConnTimeout = 30 * time.Second

// Client is a connection to a coordinator: one server, or the nodes of a
// cluster, any of which answers for the cluster. Create it with New; it is
// safe for concurrent use.
type Client struct {
	servers []*server
	cur     atomic.Int32 // the server requests go to
	auth    string       // the Authorization header, "" for none
	timeout time.Duration
}

// server is one URL of the coordinator.
type server struct {
	hc   *fasthttp.HostClient
	base string // scheme://host[:port][/prefix], without a trailing slash
}

// URL is the coordinator's base URL, without credentials: fit to show
// (several, comma-separated, for a cluster).
func (c *Client) URL() string {
	bases := make([]string, len(c.servers))
	for i, s := range c.servers {
		bases[i] = s.base
	}
	return strings.Join(bases, ",")
}

// New returns a client of the coordinator at baseURL, an absolute http or
// https URL such as http://localhost:9173 (a path, if any, prefixes every
// route), or several, comma-separated: the nodes of a cluster. Requests go
// to one of them, and move to the next when it cannot be reached or says
// it cannot answer (503). Credentials written in a URL
// (http://login:password@host) are used when o.Login is empty.
func New(baseURL string, o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	c := &Client{timeout: o.Timeout}
	for _, one := range strings.Split(baseURL, ",") {
		s, user, err := newServer(strings.TrimSpace(one), o)
		if err != nil {
			return nil, err
		}
		if o.Login == "" && user != nil {
			o.Login = user.Username()
			o.Password, _ = user.Password()
		}
		c.servers = append(c.servers, s)
	}
	if o.Login != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(o.Login+":"+o.Password))
	}
	return c, nil
}

// newServer parses one server URL; user is the credentials it holds.
func newServer(baseURL string, o Options) (s *server, user *url.Userinfo, err error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the URL, password and all
		}
		return nil, nil, fmt.Errorf("client: the server URL does not parse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, nil, fmt.Errorf("client: server URL %q is not an absolute http(s) URL", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("client: server URL %q has a query or fragment", u.Redacted())
	}
	tls := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if tls {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return &server{
		base: u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		hc: &fasthttp.HostClient{
			Addr:                   addr,
			IsTLS:                  tls,
			Name:                   "crowd-client",
			MaxConns:               o.MaxConns,
			MaxConnWaitTimeout:     o.Timeout,
			ReadTimeout:            o.Timeout,
			WriteTimeout:           o.Timeout,
			MaxIdleConnDuration:    idleConnTimeout,
			DisablePathNormalizing: true, // keep %2F in /worker/:name
			RetryIfErr:             retryStale,
		},
	}, u.User, nil
}

// current is the server requests go to now.
func (c *Client) current() (int, *server) {
	i := int(c.cur.Load())
	return i, c.servers[i]
}

// moveOn sends the next requests to the server after i, unless another
// request has moved on already.
func (c *Client) moveOn(i int) {
	c.cur.CompareAndSwap(int32(i), int32((i+1)%len(c.servers)))
}

// retryStale resends a request only when its kept-alive connection turned
// out to be closed by the coordinator (which closes idle connections, never
// one with a request in flight), so a completion is not reported twice when
// its answer was merely lost.
func retryStale(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// route names a request for building its URI and for error messages: the
// path, followed by id when hasID is set.
type route struct {
	method string
	path   string
	id     int64
	hasID  bool
	hold   time.Duration // the coordinator may hold the request this long (long-poll), beyond the timeout
}

func (r route) String() string {
	if r.hasID {
		return r.method + " " + r.path + strconv.FormatInt(r.id, 10)
	}
	return r.method + " " + r.path
}

const formType = "application/x-www-form-urlencoded"

// request acquires a request for rt to server s with its URI and the
// client's credentials; form (may be nil) appends its url-encoded body. The
// request goes to send, which releases it.
func (c *Client) request(s *server, rt route, form func([]byte) []byte) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(rt.method)
	var buf [128]byte
	uri := append(buf[:0], s.base...)
	uri = append(uri, rt.path...)
	if rt.hasID {
		uri = strconv.AppendInt(uri, rt.id, 10)
	}
	req.SetRequestURIBytes(uri)
	if c.auth != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, c.auth)
	}
	if form != nil {
		req.Header.SetContentType(formType)
		// The request's pooled body buffer is filled in place.
		req.SwapBody(form(req.SwapBody(nil)[:0]))
	}
	return req
}

// send sends req (which it releases) and returns the answer, which the
// caller releases with fasthttp.ReleaseResponse. A failed request returns
// ctx.Err() when ctx is done or its deadline cut the request short, and an
// unavailable error otherwise.
//
// fasthttp has no context support: the request runs with the nearer of
// ctx's deadline and the client's timeout, and when ctx can be cancelled it
// runs on its own goroutine, so that a cancellation returns at once; the
// abandoned request then finishes (and is released) in the background, and
// whatever the coordinator did with it stands.
func (c *Client) send(ctx context.Context, s *server, rt route, req *fasthttp.Request) (*fasthttp.Response, error) {
	if err := ctx.Err(); err != nil {
		fasthttp.ReleaseRequest(req)
		return nil, err
	}
	deadline := time.Now().Add(c.timeout + rt.hold)
	ctxDeadline, hasDeadline := ctx.Deadline()
	byCtx := hasDeadline && ctxDeadline.Before(deadline)
	if byCtx {
		deadline = ctxDeadline
	}
	resp := fasthttp.AcquireResponse()
	var err error
	if ctx.Done() == nil {
		err = s.hc.DoDeadline(req, resp, deadline)
	} else {
		f := flightPool.Get().(*flight)
		f.hc, f.req, f.resp, f.deadline = s.hc, req, resp, deadline
		go f.run()
		select {
		case err = <-f.done:
		case <-ctx.Done():
			select {
			case err = <-f.done: // the answer came too: keep it
			default:
				go f.abandon()
				return nil, ctx.Err()
			}
		}
		f.put()
	}
	fasthttp.ReleaseRequest(req)
	if err == nil {
		return resp, nil
	}
	fasthttp.ReleaseResponse(resp)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if byCtx && !time.Now().Before(deadline) { // ctx's deadline cut it short
		return nil, context.DeadlineExceeded
	}
	return nil, &unavailableError{route: rt, err: err}
}

// flight is a request running on its own goroutine because its context
// can be cancelled.
type flight struct {
	hc       *fasthttp.HostClient
	req      *fasthttp.Request
	resp     *fasthttp.Response
	deadline time.Time
	done     chan error // buffered: run never blocks
}

var flightPool = sync.Pool{New: func() any { return &flight{done: make(chan error, 1)} }}

func (f *flight) run() { f.done <- f.hc.DoDeadline(f.req, f.resp, f.deadline) }

func (f *flight) put() {
	f.hc, f.req, f.resp = nil, nil, nil
	flightPool.Put(f)
}

// abandon waits for a request whose caller has gone, and releases it.
func (f *flight) abandon() {
	<-f.done
	fasthttp.ReleaseRequest(f.req)
	fasthttp.ReleaseResponse(f.resp)
	f.put()
}

// call sends a request and checks its answer: nil, nil for 204; the answer
// (to release) for other 2xx; an *Error for the rest.
//
// With several servers, a request that could not reach its server (no
// connection) goes to the next one at once, each server tried once; an
// answer of 503 or any other failure moves the next requests on, and is
// returned: a request that may have reached a server is not sent twice.
func (c *Client) call(ctx context.Context, rt route, form func([]byte) []byte) (*fasthttp.Response, error) {
	var resp *fasthttp.Response
	var err error
	for tries := 0; ; tries++ {
		i, s := c.current()
		resp, err = c.send(ctx, s, rt, c.request(s, rt, form))
		if err == nil && resp.StatusCode() != fasthttp.StatusServiceUnavailable {
			break
		}
		if len(c.servers) > 1 && (err == nil || IsUnavailable(err)) {
			c.moveOn(i)
		}
		if err == nil || !neverSent(err) || tries+1 >= len(c.servers) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	code := resp.StatusCode()
	if code == fasthttp.StatusNoContent {
		fasthttp.ReleaseResponse(resp)
		return nil, nil
	}
	if code >= 200 && code < 300 {
		return resp, nil
	}
	e := answerError(rt, code, resp.Body())
	fasthttp.ReleaseResponse(resp)
	return nil, e
}

// neverSent reports whether a failed request surely did not reach its
// server: no connection could be made.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.Is(err, fasthttp.ErrDialTimeout) || errors.As(err, &op) && op.Op == "dial"
}

// decodeError reports an answer that is not the expected JSON.
func decodeError(rt route, err error) error {
	return fmt.Errorf("client: %v: unexpected answer: %w", rt, err)
}
