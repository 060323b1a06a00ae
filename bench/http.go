package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// httpProto speaks crowd's protocol to addr: the coordinator and the bare
// fasthttp ceiling answer the same requests. Every client and worker has
// its own fasthttp.HostClient with one connection.
type httpProto struct {
	addr string
}

const httpTimeout = 30 * time.Second

func (h httpProto) hostClient() *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                h.addr,
		MaxConns:            1,
		ReadTimeout:         httpTimeout,
		WriteTimeout:        httpTimeout,
		MaxIdleConnDuration: time.Minute,
	}
}

func (h httpProto) NewClient(context.Context) (Client, error) {
	return &httpClient{hc: h.hostClient()}, nil
}

func (h httpProto) NewWorker(_ context.Context, id int, _ bool) (Worker, error) {
	return &httpWorker{hc: h.hostClient(), name: "bench-" + strconv.Itoa(id)}, nil
}

type httpClient struct {
	hc  *fasthttp.HostClient
	buf []byte
}

// Submit is POST /jobs with job=<JSON> as a form.
func (c *httpClient) Submit(_ context.Context, inputs []string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + c.hc.Addr + "/jobs")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	c.buf = AppendJobJSON(c.buf[:0], inputs)
	req.PostArgs().SetBytesV("job", c.buf)
	if err := c.hc.DoTimeout(req, resp, httpTimeout); err != nil {
		return err
	}
	if code := resp.StatusCode(); code/100 != 2 {
		return fmt.Errorf("POST /jobs: %d %s", code, bytes.TrimSpace(resp.Body()))
	}
	return nil
}

func (c *httpClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

type httpWorker struct {
	hc      *fasthttp.HostClient
	name    string
	holding int64 // the unit held, 0 for none
	url     []byte
}

// Next is POST /work (holding nothing) or PUT /work/:id, whose answer is
// the next unit; both answer 204 when there is none.
func (w *httpWorker) Next(_ context.Context, fetch bool) (string, bool, error) {
	if w.holding == 0 && !fetch {
		return "", false, nil
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	w.url = append(w.url[:0], "http://"...)
	w.url = append(w.url, w.hc.Addr...)
	w.url = append(w.url, "/work"...)
	args := req.PostArgs()
	if w.holding != 0 {
		w.url = append(w.url, '/')
		w.url = strconv.AppendInt(w.url, w.holding, 10)
		req.Header.SetMethod(fasthttp.MethodPut)
		args.Set("status", "succeeded")
		args.Set("output", `{"output":true}`)
	} else {
		req.Header.SetMethod(fasthttp.MethodPost)
	}
	args.Set("worker_name", w.name)
	args.Set("worker_actions", Action)
	req.SetRequestURIBytes(w.url)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	if err := w.hc.DoTimeout(req, resp, httpTimeout); err != nil {
		return "", false, err
	}
	w.holding = 0
	switch code := resp.StatusCode(); code {
	case fasthttp.StatusNoContent:
		return "", false, nil
	case fasthttp.StatusOK:
		id, input, err := parseUnit(resp.Body())
		if err != nil {
			return "", false, err
		}
		w.holding = id
		return input, true, nil
	default:
		return "", false, fmt.Errorf("%s %s: %d %s", req.Header.Method(), w.url, code, bytes.TrimSpace(resp.Body()))
	}
}

func (w *httpWorker) Close() error {
	w.hc.CloseIdleConnections()
	return nil
}

// parseUnit reads a WorkUnit document's id and input: by hand when it
// starts {"id":N and its input needs no unescaping (the harness's inputs
// never do), else with encoding/json.
func parseUnit(body []byte) (int64, string, error) {
	const idKey, inKey = `{"id":`, `"input":"`
	if bytes.HasPrefix(body, []byte(idKey)) {
		var id int64
		i := len(idKey)
		for ; i < len(body) && body[i] >= '0' && body[i] <= '9'; i++ {
			id = id*10 + int64(body[i]-'0')
		}
		if j := bytes.Index(body, []byte(inKey)); id > 0 && j > 0 {
			rest := body[j+len(inKey):]
			if k := bytes.IndexByte(rest, '"'); k >= 0 && bytes.IndexByte(rest[:k], '\\') < 0 {
				return id, string(rest[:k]), nil
			}
		}
	}
	var u struct {
		ID    int64  `json:"id"`
		Input string `json:"input"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.ID == 0 {
		return 0, "", fmt.Errorf("not a work unit: %.200q", body)
	}
	return u.ID, u.Input, nil
}
