package actors

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/persistence"
)

// A panic while an actor handles a request answers that request with an
// internal error, and the actor goes on with its state.
func TestGuardAnswersAPanicAndKeepsTheActor(t *testing.T) {
	c := startTest(t, persistence.NewMemory(false), nil)
	handled := 0
	pid, err := c.spawn("panicky", func() actor.Actor {
		return actor.ReceiveFunc(func(ctx actor.Context) {
			defer c.guard(ctx, callOf(ctx.Message())) // as every actor of the coordinator does
			if m, ok := ctx.Message().(*getJob); ok {
				handled++
				if m.id == 13 {
					panic("boom")
				}
				m.call.answer(Reply{Outcome: NoContent})
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(id int64) Reply {
		cl := c.waiters.call()
		return c.ask(pid, &getJob{id: id, call: cl}, cl)
	}
	if r := ask(13); r.Outcome != Internal {
		t.Fatalf("panicking request: outcome %d, want Internal", r.Outcome)
	}
	if r := ask(1); r.Outcome != NoContent || handled != 2 {
		t.Fatalf("after the panic: outcome %d, handled %d; want NoContent, 2 (same actor instance)", r.Outcome, handled)
	}
}
