package transport

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdFor sends POST /work with a wait and returns its answer's channel.
func (s *testServer) holdFor(t *testing.T, worker, actions, wait string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		ch <- s.do(t, "POST", "/work", form("worker_name", worker, "worker_actions", actions, "wait", wait))
	}()
	return ch
}

// stillHeld fails if the held request answers within a moment.
func stillHeld(t *testing.T, what string, ch <-chan response) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s answered while it should be held: %d %s", what, r.Code, r.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

// answer waits for a held request's answer, failing once its wait of
// wait has long passed (the request would have ended by then anyway).
func answer(t *testing.T, what string, ch <-chan response, wait time.Duration) response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait + 10*time.Second):
		t.Fatalf("%s did not answer", what)
		return response{}
	}
}

// A held POST /work answers with the unit as soon as a job makes one: the
// wait is 25 s, and the answer must come well before that.
func TestLongPollReturnsWhenAUnitArrives(t *testing.T) {
	s := startServer(t, nil)
	held := s.holdFor(t, "w", "graphics_magick", "25")
	stillHeld(t, "POST /work wait=25 with nothing queued", held)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	r := answer(t, "the held POST /work", held, 0) // within 10 s: well before the wait ends
	wantJSON(t, "the held POST /work", r, unitJSON(1, 1, "a", 0, "graphics_magick", 1))
	// With a unit ready, a request with a wait answers at once, as without.
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["b"]}`)
	wantJSON(t, "POST /work wait=25 with a unit ready", answer(t, "POST /work", s.holdFor(t, "w2", "graphics_magick", "25"), 0),
		unitJSON(2, 2, "b", 0, "graphics_magick", 1))
}

// A wait that runs out gets the empty answer a request without a wait gets.
func TestLongPollRunsOut(t *testing.T) {
	s := startServer(t, nil)
	plain := s.take(t, "w", "graphics_magick")
	r := answer(t, "POST /work wait=0.3", s.holdFor(t, "w", "graphics_magick", "0.3"), time.Second)
	if r.Code != plain.Code || r.Body != plain.Body || plain.Code != 204 {
		t.Fatalf("a wait that ran out: %d %q; without a wait: %d %q", r.Code, r.Body, plain.Code, plain.Body)
	}
}

// Fifty workers held on one action and ten units: each unit goes to one
// worker, and the other forty get 204 when their wait runs out.
func TestLongPollNeverGivesAUnitTwice(t *testing.T) {
	s := startServer(t, nil)
	const workers, units = 50, 10
	var held []<-chan response
	for i := range workers {
		held = append(held, s.holdFor(t, "w"+strconv.Itoa(i), "graphics_magick", "2"))
	}
	time.Sleep(200 * time.Millisecond) // let them all be held
	inputs := make([]string, units)
	for i := range inputs {
		inputs[i] = `"in` + strconv.Itoa(i) + `"`
	}
	s.mustCreate(t, `{"action":"graphics_magick","inputs":[`+strings.Join(inputs, ",")+`]}`)
	got := map[int64]bool{}
	empty := 0
	for i, ch := range held {
		r := answer(t, "held request "+strconv.Itoa(i), ch, 2*time.Second)
		switch r.Code {
		case 200:
			u := decodeUnit(t, "a held request's unit", r)
			if got[u.ID] {
				t.Fatalf("unit %d was given twice", u.ID)
			}
			got[u.ID] = true
		case 204:
			empty++
		default:
			t.Fatalf("held request %d: %d %s", i, r.Code, r.Body)
		}
	}
	if len(got) != units || empty != workers-units {
		t.Fatalf("%d units given and %d empty answers, want %d and %d", len(got), empty, units, workers-units)
	}
}

// A pause of the action a request waits on ends the wait with 204; a
// check-out of the worker does too; so does a drain, with the 503 that
// new requests get while the server stops.
func TestLongPollEnds(t *testing.T) {
	s := startServer(t, nil)
	paused := s.holdFor(t, "w1", "graphics_magick", "25")
	other := s.holdFor(t, "w2", "word_count", "25")
	gone := s.holdFor(t, "w3", "word_count", "25")
	stillHeld(t, "the held requests", paused)
	if r := s.do(t, "POST", "/blacklist", form("action", "graphics_magick")); r.Code != 200 {
		t.Fatalf("POST /blacklist: %d %s", r.Code, r.Body)
	}
	wantNoContent(t, "the request held on a paused action", answer(t, "the request held on a paused action", paused, 0))
	stillHeld(t, "the request held on another action", other)
	wantNoContent(t, "PUT /worker terminated", s.do(t, "PUT", "/worker", form("name", "w3", "terminated", "true")))
	wantNoContent(t, "the checked-out worker's held request", answer(t, "the checked-out worker's request", gone, 0))
	stillHeld(t, "the request held on another action", other)

	s.Srv.Drain()
	r := answer(t, "the request held when the server drains", other, 0)
	if r.Code != 503 || !strings.Contains(r.Body, "shutting down") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the held request when the server drains: %d %s (Retry-After %q)", r.Code, r.Body, r.Header.Get("Retry-After"))
	}
}

// Bad waits are refused with a 400 that says what a wait is, and lease
// nothing.
func TestLongPollBadWait(t *testing.T) {
	s := startServer(t, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`)
	for _, bad := range []string{"soon", "-1", "31", "NaN", "Inf", "1e9", "10s"} {
		r := s.do(t, "POST", "/work", form("worker_name", "w", "worker_actions", "graphics_magick", "wait", bad))
		if msg := wantError(t, "POST /work wait="+bad, r, 400); !strings.Contains(msg, "wait must be a number of seconds from 0 to 30") {
			t.Fatalf("POST /work wait=%s: %q", bad, msg)
		}
	}
	wantJSON(t, "POST /work after the refusals", s.take(t, "w", "graphics_magick"), unitJSON(1, 1, "a", 0, "graphics_magick", 1))
}

// Thousands of held requests at once: every one ends with its wait, and
// the server answers heartbeats meanwhile.
func TestLongPollThousands(t *testing.T) {
	s := startServer(t, nil)
	const n = 2000
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			codes[i] = s.do(t, "POST", "/work", form("worker_name", "w"+strconv.Itoa(i), "worker_actions", "graphics_magick", "wait", "2")).Code
		})
	}
	time.Sleep(500 * time.Millisecond)
	if r := s.do(t, "GET", "/heartbeat", nil); r.Code != 200 {
		t.Fatalf("GET /heartbeat with %d requests held: %d", n, r.Code)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 204 {
			t.Fatalf("held request %d: %d", i, c)
		}
	}
}
