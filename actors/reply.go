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

// Reply is the answer to one request.
type Reply struct {
	Outcome Outcome
	Job     wire.Job
	Unit    wire.WorkUnit
	Pause   wire.Pause
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

// answer delivers r; a second answer is dropped, so a request that was
// already answered cannot be answered twice after a panic.
func (c call) answer(r Reply) {
	select {
	case c <- r:
	default:
	}
}

func (c call) fail(err error) { c.answer(Reply{Outcome: Unavailable, Err: err}) }

func (c call) internal() { c.answer(Reply{Outcome: Internal, Err: errPanic}) }

// wait blocks until the answer comes or the timeout passes.
func (c call) wait(timeout time.Duration) Reply {
	select {
	case r := <-c:
		return r
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-c:
		return r
	case <-t.C:
		return Reply{Outcome: Unavailable, Err: errTimeout}
	}
}

// request is a message that carries a call, so that a panic while handling
// it can still be answered.
type request interface{ replyTo() call }

// join answers a PUT /work/:id that waits for two things: its event being
// durable, and the dispatcher choosing the worker's next unit. Whichever
// comes last answers.
type join struct {
	parts   atomic.Int32
	call    call
	err     error
	next    wire.WorkUnit
	hasNext bool
}

func (j *join) durable(err error) {
	j.err = err
	j.done()
}

func (j *join) leased(next wire.WorkUnit, ok bool) {
	j.next, j.hasNext = next, ok
	j.done()
}

func (j *join) done() {
	if j.parts.Add(-1) != 0 {
		return
	}
	switch {
	case j.err != nil:
		j.call.fail(j.err)
	case j.hasNext:
		j.call.answer(Reply{Outcome: OK, Unit: j.next})
	default:
		j.call.answer(Reply{Outcome: NoContent})
	}
}
