package actors

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A route's goroutine sends its request to an actor and waits for the
// answer on a waiter. Waiters are reused from request to request, each
// request under a generation of its own, so that a request allocates no
// channel (on the PUT /work path the channel and its buffer were two of
// its allocations), and the messages of PUT and POST /work are reused with
// them. One watchdog goroutine, ticking every second, times out the waits
// that last too long; a waiter whose wait timed out is not used again,
// since an actor may still hold its messages.

// call is the reply half of a request: its waiter and its generation. An
// actor, or the journal's goroutine once a change is durable, answers it
// once; a second answer (a request answered before a panic) and an answer
// after the asker gave up waiting are dropped, and the answerer is told.
type call struct {
	w   *waiter
	gen uint64
}

// waiter is where one request at a time waits for its answer.
type waiter struct {
	gen  atomic.Uint64 // the generation being served; an answer moves it on
	ch   chan Reply    // the answer of the generation being served
	home *waiters

	mu      sync.Mutex // guards the three below, which the watchdog reads
	waiting uint64     // the generation waited on, while due is set
	due     int64      // the tick at which the wait ends; 0 while not waiting
	expired bool       // the watchdog answered: the waiter is not reused

	// The messages of PUT and POST /work, reused with the waiter: no actor
	// touches one once its call is answered.
	report  complete
	dequeue dequeue
}

// waiters hands out waiters and times out waits.
type waiters struct {
	tick atomic.Int64 // counts watchdog ticks

	mu   sync.Mutex
	free []*waiter
	all  []*waiter // every waiter made: as many as requests ever waited at once
}

// waiterTick is the watchdog's period: waits time out up to one late.
const waiterTick = time.Second

// call takes a free waiter for a new request.
func (ws *waiters) call() call {
	ws.mu.Lock()
	var w *waiter
	if n := len(ws.free); n > 0 {
		w = ws.free[n-1]
		ws.free[n-1] = nil
		ws.free = ws.free[:n-1]
	} else {
		w = &waiter{ch: make(chan Reply, 1), home: ws}
		w.report.journaled = w.report.durable // bound once, not per report
		ws.all = append(ws.all, w)
	}
	ws.mu.Unlock()
	return call{w: w, gen: w.gen.Load()}
}

// answer delivers r and reports whether the asker gets it. An answer that
// hands over a unit checks, and takes the unit back when no one got it.
func (c call) answer(r Reply) bool {
	if c.w == nil || !c.w.gen.CompareAndSwap(c.gen, c.gen+1) {
		return false
	}
	c.w.ch <- r // empty: the generation's only answer
	return true
}

func (c call) fail(err error) { c.answer(Reply{Outcome: Unavailable, Err: err}) }

func (c call) internal() { c.answer(Reply{Outcome: Internal, Err: errPanic}) }

// isZero reports whether c is no call (a request no one waits on).
func (c call) isZero() bool { return c.w == nil }

// wait blocks until the answer comes or about timeout passes (counted in
// watchdog ticks, so up to a tick late), then frees the waiter. Call it
// once, from the goroutine that made the call.
func (c call) wait(timeout time.Duration) Reply {
	w := c.w
	ticks := int64((timeout + waiterTick - 1) / waiterTick)
	w.mu.Lock()
	w.waiting, w.due = c.gen, w.home.tick.Load()+ticks+1
	w.mu.Unlock()
	r := <-w.ch
	w.mu.Lock()
	w.due = 0
	expired := w.expired
	w.mu.Unlock()
	ws := w.home
	ws.mu.Lock()
	if expired {
		ws.all = slices.DeleteFunc(slices.Clone(ws.all), func(x *waiter) bool { return x == w }) // expire may be reading the old slice
	} else {
		ws.free = append(ws.free, w)
	}
	ws.mu.Unlock()
	return r
}

// expire is the watchdog's tick: it answers the waits whose time is up
// with a timeout, which makes their late answers fail.
func (ws *waiters) expire() {
	now := ws.tick.Add(1)
	ws.mu.Lock()
	all := ws.all // waiters are only ever added
	ws.mu.Unlock()
	timedOut := Reply{Outcome: Unavailable, Err: errTimeout}
	for _, w := range all {
		w.mu.Lock()
		if w.due != 0 && now >= w.due && w.gen.CompareAndSwap(w.waiting, w.waiting+1) {
			w.due, w.expired = 0, true
			w.ch <- timedOut // empty: no answer of this generation came
		}
		w.mu.Unlock()
	}
}
