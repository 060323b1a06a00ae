package actors

import (
	"errors"
	"testing"
	"time"
)

// A waiter serves one request after another: an answer to an earlier
// request, or a second answer, never reaches a later one.
func TestWaiterGenerations(t *testing.T) {
	var ws waiters
	first := ws.call()
	if !first.answer(Reply{Outcome: NoContent}) {
		t.Fatal("the first answer was refused")
	}
	if first.answer(Reply{Outcome: Internal}) {
		t.Fatal("a second answer was taken")
	}
	if r := first.wait(time.Minute); r.Outcome != NoContent {
		t.Fatalf("first request got outcome %d, want NoContent", r.Outcome)
	}
	second := ws.call()
	if second.w != first.w {
		t.Fatal("the free waiter was not reused")
	}
	if first.answer(Reply{Outcome: Internal}) {
		t.Fatal("a late answer to the first request was taken by the second")
	}
	second.answer(Reply{Outcome: NotFound})
	if r := second.wait(time.Minute); r.Outcome != NotFound {
		t.Fatalf("second request got outcome %d, want its own NotFound", r.Outcome)
	}
}

// A wait past its timeout is answered by the watchdog; the late answer is
// refused, and the waiter, whose messages an actor may still hold, is not
// handed out again.
func TestWaiterTimeout(t *testing.T) {
	var ws waiters
	cl := ws.call()
	got := make(chan Reply)
	go func() { got <- cl.wait(time.Nanosecond) }()
	var r Reply
	for r.Err == nil {
		ws.expire()
		select {
		case r = <-got:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r.Outcome != Unavailable || !errors.Is(r.Err, errTimeout) {
		t.Fatalf("timed-out wait: outcome %d, %v", r.Outcome, r.Err)
	}
	if cl.answer(Reply{Outcome: OK}) {
		t.Fatal("the answer after the timeout was taken")
	}
	if next := ws.call(); next.w == cl.w {
		t.Fatal("the timed-out waiter was handed out again")
	}
}
