package actors

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/wire"
)

// Outcome is how a request ended, in the coordinator's terms; transport maps
// it to an HTTP status.
type Outcome uint8

const (
	OK          Outcome = iota // Job or Unit holds the answer
	NoContent                  // nothing to say (no unit ready, deleted, checked in)
	NotFound                   // no such job or unit
	Conflict                   // the worker does not hold that unit
	Invalid                    // the request cannot be carried out as asked
	Unavailable                // the coordinator could not finish in time, or its journal failed
	Internal                   // a bug: the actor panicked
)

// Reply is the answer to one request. Unit is inline because POST /work
// and PUT /work/:id answer one every time; the rarer answers are pointers,
// to keep the reply (and the channel that carries it) small.
type Reply struct {
	Outcome Outcome
	Unit    wire.WorkUnit
	Job     *wire.Job
	Pause   *wire.Pause
	Err     error // why, for every outcome but OK and NoContent
}

var (
	errTimeout = errors.New("the coordinator did not answer in time")
	errPanic   = errors.New("internal error")
)

// call is the reply half of a request: a one-shot channel that an actor (or
// the journal, once a change is durable) answers exactly once.
type call chan Reply

func newCall() call { return make(call, 1) }

// answer delivers r and reports whether the asker gets it: a second answer
// is dropped (a request answered before a panic is not answered twice), and
// so is an answer after the asker gave up waiting. An answer that hands
// over a unit checks, and takes the unit back when no one got it.
func (c call) answer(r Reply) bool {
	select {
	case c <- r:
		return true
	default:
		return false
	}
}

func (c call) fail(err error) { c.answer(Reply{Outcome: Unavailable, Err: err}) }

func (c call) internal() { c.answer(Reply{Outcome: Internal, Err: errPanic}) }

// wait blocks until the answer comes or about timeout passes (counted in
// beats, so within a second).
func (c call) wait(b *beat, timeout time.Duration) Reply {
	for left := timeout; ; left -= beatPeriod {
		select {
		case r := <-c:
			return r
		case <-b.next():
			if left <= 0 {
				// Fill the call, so that a late answer is refused (and its
				// sender knows), unless the answer came just now.
				timedOut := Reply{Outcome: Unavailable, Err: errTimeout}
				select {
				case c <- timedOut:
					return timedOut
				case r := <-c:
					return r
				}
			}
		}
	}
}

// beat is a channel closed (and replaced) every beatPeriod, which every
// waiting request watches: one ticker for the process instead of a timer
// per request.
type beat struct{ ch atomic.Pointer[chan struct{}] }

const beatPeriod = time.Second

func newBeat() *beat {
	b := &beat{}
	ch := make(chan struct{})
	b.ch.Store(&ch)
	return b
}

func (b *beat) next() <-chan struct{} { return *b.ch.Load() }

// tick wakes every waiter.
func (b *beat) tick() {
	ch := make(chan struct{})
	close(*b.ch.Swap(&ch))
}

// request is a message that carries a call, so that a panic while handling
// it can still be answered.
type request interface{ replyTo() call }

func ptr[T any](v T) *T { return &v }
