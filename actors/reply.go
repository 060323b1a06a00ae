package actors

import (
	"errors"

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

// request is a message that carries a call, so that a panic while handling
// it can still be answered.
type request interface{ replyTo() call }

func ptr[T any](v T) *T { return &v }
