package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A POST /work held (wait=25) when the server gets SIGTERM is answered
// with the drain's 503, and does not hold up the server's exit.
func TestSIGTERMEndsHeldRequests(t *testing.T) {
	s := startServer(t, "server", filepath.Join(t.TempDir(), "data"), serverConfig{})
	c := newAPIClient(s.url())
	defer c.close()
	type answer struct {
		code int
		body string
		err  error
	}
	held := make(chan answer, 1)
	go func() {
		code, body, err := c.do("POST", "/work", url.Values{"worker_name": {"w"}, "worker_actions": {gm}, "wait": {"25"}})
		held <- answer{code, string(body), err}
	}()
	select {
	case a := <-held:
		t.Fatalf("POST /work wait=25 answered at once: %d %s %v", a.code, a.body, a.err)
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	s.stopOK()
	a := <-held
	if a.err != nil || a.code != 503 || !strings.Contains(a.body, "shutting down") {
		t.Fatalf("the held request at SIGTERM: %d %s %v, want the drain's 503", a.code, a.body, a.err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the server took %v to stop: the held request held it up", took)
	}
}
