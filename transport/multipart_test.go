package transport

import (
	"bytes"
	"compress/gzip"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// multipartRequest sends fields (key, value pairs) as multipart/form-data,
// as curl -F does.
func (s *testServer) multipartRequest(t testing.TB, method, path string, kv ...string) response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := w.WriteField(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return s.rawRequest(t, method, path, w.FormDataContentType(), &b, nil)
}

// Multipart form bodies (curl -F) are read as urlencoded ones are.
func TestMultipartForms(t *testing.T) {
	s := startServer(t, nil)
	const gm = "graphics_magick"
	r := s.multipartRequest(t, "POST", "/jobs", "job", `{"action":"graphics_magick","inputs":["a","b"]}`)
	wantJSON(t, "POST /jobs (multipart)", r, `{"id":1,"color":"f75849","status":"processing","percent_complete":0,"work_units":2,"time_taken":T}`)
	s.readBack(t, r)
	wantNoContent(t, "PUT /worker (multipart)", s.multipartRequest(t, "PUT", "/worker", "name", "w", "thread_status", "busy", "check_in_interval", "5"))
	wantJSON(t, "POST /work (multipart)", s.multipartRequest(t, "POST", "/work", "worker_name", "w", "worker_actions", gm),
		unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "PUT /work/1 (multipart)", s.multipartRequest(t, "PUT", "/work/1",
		"status", "succeeded", "output", `{"output":"A"}`, "worker_name", "w", "worker_actions", gm), unitJSON(2, 1, "b", 0, gm, 1))
	// _method in a multipart POST, and the query string as a fallback.
	wantNoContent(t, "POST /work/2?worker_name=w (multipart, _method=PUT)", s.multipartRequest(t, "POST", "/work/2?worker_name=w",
		"_method", "PUT", "status", "succeeded", "output", `{"output":"B"}`))
	wantJSON(t, "GET /jobs/1", s.do(t, "GET", "/jobs/1", nil),
		`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":T,"outputs":["A","B"]}`)
	wantNoContent(t, "PUT /worker terminated=true (multipart)", s.multipartRequest(t, "PUT", "/worker", "name", "w", "terminated", "true"))

	// A multipart body that does not parse is a 400 that says so, and
	// changes nothing.
	msg := wantError(t, "POST /jobs (broken multipart)", s.rawRequest(t, "POST", "/jobs", "multipart/form-data; boundary=xyz",
		strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"job\"\r\n\r\n{}"), nil), 400)
	if !strings.Contains(msg, "multipart") {
		t.Errorf("POST /jobs (broken multipart): error %q does not say the multipart body is at fault", msg)
	}
	wantNoContent(t, "DELETE /jobs/1", s.do(t, "DELETE", "/jobs/1", nil))
	s.statusEventually(t, emptyStatus)
}

// max_body holds for multipart bodies too.
func TestMultipartOverMaxBody(t *testing.T) {
	s := startServer(t, func(c *serverConfig) { c.opts.MaxBody = 1024 })
	wantError(t, "POST /jobs (multipart over max_body)", s.multipartRequest(t, "POST", "/jobs",
		"job", `{"action":"word_count","inputs":["`+strings.Repeat("x", 2000)+`"]}`), 413)
	s.wantStatusBody(t, emptyStatus)

	// Compressed, it is small on the wire but not once unpacked.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	if err := mw.WriteField("job", `{"action":"word_count","inputs":["`+strings.Repeat("x", 100_000)+`"]}`); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(form.Bytes())
	zw.Close()
	if zipped.Len() >= 1024 {
		t.Fatalf("the gzipped form is %d bytes: not under max_body", zipped.Len())
	}
	r := s.rawRequest(t, "POST", "/jobs", mw.FormDataContentType(), &zipped, func(r *http.Request) {
		r.Header.Set("Content-Encoding", "gzip")
	})
	wantError(t, "POST /jobs (gzipped multipart over max_body once unpacked)", r, 413)
	s.wantStatusBody(t, emptyStatus)
}
