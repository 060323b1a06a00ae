package transport

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

const jsonType = "application/json"

// writeError answers a request with {"error": msg}.
func writeError(ctx *fasthttp.RequestCtx, code int, msg string) {
	ctx.SetStatusCode(code)
	ctx.SetContentType(jsonType)
	setBody(ctx, func(b []byte) []byte {
		b = append(b, `{"error":`...)
		b = wire.AppendString(b, msg)
		return append(b, '}')
	})
}

// setBody replaces the response body with what build appends to an empty
// slice, reusing the response's buffer.
func setBody(ctx *fasthttp.RequestCtx, build func([]byte) []byte) {
	b := ctx.Response.SwapBody(nil)
	ctx.Response.SwapBody(build(b[:0]))
}

func badRequest(ctx *fasthttp.RequestCtx, msg string) {
	writeError(ctx, fasthttp.StatusBadRequest, msg)
}

func notFound(ctx *fasthttp.RequestCtx, msg string) {
	writeError(ctx, fasthttp.StatusNotFound, msg)
}

func noContent(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	ctx.ResetBody()
}

// writeReply answers with the outcome of a coordinator call; ok writes the
// body of an OK outcome.
func writeReply(ctx *fasthttp.RequestCtx, r actors.Reply, ok func(b []byte) []byte) {
	switch r.Outcome {
	case actors.OK:
		ctx.SetContentType(jsonType)
		setBody(ctx, ok)
	case actors.NoContent:
		noContent(ctx)
	case actors.NotFound:
		notFound(ctx, errText(r, "not found"))
	case actors.Conflict:
		writeError(ctx, fasthttp.StatusConflict, errText(r, "conflict"))
	case actors.Invalid:
		badRequest(ctx, errText(r, "invalid request"))
	case actors.Internal:
		writeError(ctx, fasthttp.StatusInternalServerError, errText(r, "internal error"))
	default:
		writeError(ctx, fasthttp.StatusServiceUnavailable, errText(r, "unavailable"))
	}
}

func errText(r actors.Reply, fallback string) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return fallback
}

// jobBody writes the reply's job.
func jobBody(r actors.Reply) func([]byte) []byte {
	return func(b []byte) []byte { return r.Job.AppendJSON(b) }
}

// unitBody writes the reply's work unit.
func unitBody(r actors.Reply) func([]byte) []byte {
	return func(b []byte) []byte { return r.Unit.AppendJSON(b) }
}

// param is a form field, from the body first (urlencoded or multipart) and
// then the query string, as Sinatra merged them. It is valid until the
// handler returns.
func param(ctx *fasthttp.RequestCtx, key string) []byte {
	if v := ctx.PostArgs().Peek(key); v != nil {
		return v
	}
	if isMultipart(ctx) {
		if f, err := ctx.MultipartForm(); err == nil { // parsed in Server.handler already
			if vs := f.Value[key]; len(vs) > 0 {
				return []byte(vs[0])
			}
		}
	}
	return ctx.QueryArgs().Peek(key)
}

// isMultipart reports whether the body is multipart/form-data.
func isMultipart(ctx *fasthttp.RequestCtx) bool {
	return hasMediaType(ctx.Request.Header.ContentType(), "multipart/form-data")
}

// checkText checks a text field the coordinator keeps: at most limit bytes of
// UTF-8 (it goes out in JSON). ok is false (and the 400 written) when it is
// not.
func checkText(ctx *fasthttp.RequestCtx, key string, v []byte, limit int) bool {
	switch {
	case len(v) > limit:
		badRequest(ctx, key+" is longer than "+strconv.Itoa(limit)+" bytes")
		return false
	case !utf8.Valid(v):
		badRequest(ctx, key+" is not valid UTF-8")
		return false
	}
	return true
}

// textParam reads an optional text field with checkText.
func textParam(ctx *fasthttp.RequestCtx, key string, limit int) ([]byte, bool) {
	v := param(ctx, key)
	return v, checkText(ctx, key, v, limit)
}

// boolParam reads an optional true/false field (any case; also 1 and 0);
// absent is false. ok is false (and the 400 written) for anything else.
func boolParam(ctx *fasthttp.RequestCtx, key string) (value, ok bool) {
	v := param(ctx, key)
	switch {
	case len(v) == 0 || bytes.EqualFold(v, []byte("false")) || string(v) == "0":
		return false, true
	case bytes.EqualFold(v, []byte("true")) || string(v) == "1":
		return true, true
	}
	badRequest(ctx, key+" must be true or false")
	return false, false
}

// hasMediaType reports whether a Content-Type is the media type mt,
// compared without case and without parameters such as "; charset=utf-8".
func hasMediaType(contentType []byte, mt string) bool {
	if i := bytes.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(contentType), []byte(mt))
}

// pathID parses the {id} of the route; ok is false (and the 404 written)
// when it is not a positive integer.
func pathID(ctx *fasthttp.RequestCtx, what string) (int64, bool) {
	s, _ := ctx.UserValue("id").(string)
	return parseID(ctx, s, what)
}

// parseID is pathID for an id read from the path by its handler.
func parseID[T string | []byte](ctx *fasthttp.RequestCtx, s T, what string) (int64, bool) {
	id, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil || id <= 0 {
		notFound(ctx, "no such "+what+": "+strconv.Quote(string(s)))
		return 0, false
	}
	return id, true
}

// WriteError answers with code and {"error": msg}, as every route does; for
// the cluster mode's front, which answers some requests itself.
func WriteError(ctx *fasthttp.RequestCtx, code int, msg string) { writeError(ctx, code, msg) }
