package bench

import (
	"bytes"
	"net"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
)

// CeilingServer is the bare fasthttp handler the harness measures as the
// ceiling of HTTP on the machine: it answers crowd's three protocol
// requests with the same documents, keeping the inputs in a mutex-guarded
// FIFO, with no journal, no actors and no JSON library.
type CeilingServer struct {
	mu     sync.Mutex
	queue  []string // inputs not yet handed out
	head   int
	nextID int64
	jobs   int64
}

// ServeCeiling serves the ceiling on ln until it fails.
func ServeCeiling(ln net.Listener) error {
	s := &CeilingServer{}
	srv := &fasthttp.Server{Handler: s.Handle, Name: "ceiling", DisablePreParseMultipartForm: true}
	return srv.Serve(ln)
}

// Handle routes POST /jobs, POST /work and PUT /work/:id.
func (s *CeilingServer) Handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch {
	case ctx.IsPost() && string(path) == "/jobs":
		s.createJob(ctx)
	case (ctx.IsPost() && string(path) == "/work") || (ctx.IsPut() && bytes.HasPrefix(path, []byte("/work/"))):
		args := ctx.PostArgs() // parse the form, as the coordinator does
		if len(args.Peek("worker_name")) == 0 {
			ctx.Error("worker_name is missing", fasthttp.StatusBadRequest)
			return
		}
		s.nextUnit(ctx)
	default:
		ctx.Error("no such route", fasthttp.StatusNotFound)
	}
}

func (s *CeilingServer) createJob(ctx *fasthttp.RequestCtx) {
	inputs, ok := scanInputs(ctx.PostArgs().Peek("job"))
	if !ok {
		ctx.Error("job must be {\"action\":…,\"inputs\":[\"…\"]}", fasthttp.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.jobs++
	id := s.jobs
	s.queue = append(s.queue, inputs...)
	s.mu.Unlock()
	out := make([]byte, 0, 128)
	out = append(out, `{"id":`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `,"color":"000000","status":"processing","percent_complete":0,"work_units":`...)
	out = strconv.AppendInt(out, int64(len(inputs)), 10)
	out = append(out, `,"time_taken":0}`...)
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
}

func (s *CeilingServer) nextUnit(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
		s.mu.Unlock()
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	in := s.queue[s.head]
	s.queue[s.head] = ""
	s.head++
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	out := make([]byte, 0, 160)
	out = append(out, `{"id":`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `,"job_id":1,"input":"`...)
	out = append(out, in...)
	out = append(out, `","attempts":0,"action":"`+Action+`","options":{},"status":1}`...)
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
}

// scanInputs finds the inputs of a job document whose inputs are plain
// strings without escapes (the harness's): ["a","b",…].
func scanInputs(job []byte) ([]string, bool) {
	i := bytes.Index(job, []byte(`"inputs":[`))
	if i < 0 {
		return nil, false
	}
	rest := job[i+len(`"inputs":[`):]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil, false
	}
	rest = rest[:end]
	var out []string
	for len(rest) > 0 {
		if rest[0] == ',' {
			rest = rest[1:]
			continue
		}
		if rest[0] != '"' {
			return nil, false
		}
		k := bytes.IndexByte(rest[1:], '"')
		if k < 0 {
			return nil, false
		}
		out = append(out, string(rest[1:1+k]))
		rest = rest[k+2:]
	}
	return out, len(out) > 0
}
