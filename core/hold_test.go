package core

import (
	"testing"
)

// hold parks worker's POST /work for actions until t0+wait.
func hold(q *Queue, worker, actions string, wait int64) *Hold {
	h := &Hold{Worker: worker, Actions: actions, Due: t0 + wait}
	q.Hold(h)
	return h
}

// granted maps each grant's worker to its unit.
func granted(gs []Grant) map[string]int64 {
	m := map[string]int64{}
	for _, g := range gs {
		m[g.Hold.Worker] = g.Entry.Unit
	}
	return m
}

func TestHoldsAreGrantedLongestWaitingFirst(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1) // registers action a
	lease(q, "x", "a", t0)
	q.Grant(t0) // nothing woken but unit 1, which x has
	hold(q, "w1", "a", 10*sec)
	hold(q, "w2", "a, b", 10*sec)
	hold(q, "w3", "b", 10*sec)
	if gs := q.Grant(t0); len(gs) != 0 {
		t.Fatalf("grants with nothing ready: %v", granted(gs))
	}
	enqueue(q, 2, "a", 2, 3) // two units of a: the two longest waiting on a
	if got := granted(q.Grant(t0)); len(got) != 2 || got["w1"] != 2 || got["w2"] != 3 {
		t.Fatalf("grants %v, want w1: 2, w2: 3", got)
	}
	enqueue(q, 3, "b", 4) // w2 is served: w3 gets b's unit, w2 never twice
	if got := granted(q.Grant(t0)); len(got) != 1 || got["w3"] != 4 {
		t.Fatalf("grants %v, want w3: 4", got)
	}
	if q.Holding() || len(q.holds) != 0 {
		t.Fatalf("holds left: %d in the heap, %d queues", len(q.byDue), len(q.holds))
	}
	wantStats(t, q, 4, 0, 4, 0)
}

func TestHoldsEnd(t *testing.T) {
	q := NewQueue(0, 0)
	short := hold(q, "w1", "a", sec)
	long := hold(q, "w2", "a", 5*sec)
	other := hold(q, "w3", "b", 5*sec)
	if ended := q.ExpireHolds(t0 + sec - 1); len(ended) != 0 {
		t.Fatalf("ended before their wait: %d", len(ended))
	}
	if ended := q.ExpireHolds(t0 + sec); len(ended) != 1 || ended[0] != short {
		t.Fatalf("expired %v, want w1's", ended)
	}
	// A pause of a ends the holds waiting on a.
	ended := q.EndHolds(func(h *Hold) bool { return h.WaitsOn("a") })
	if len(ended) != 1 || ended[0] != long {
		t.Fatalf("the pause ended %v, want w2's", ended)
	}
	enqueue(q, 1, "a", 1) // nobody waits on a now
	if gs := q.Grant(t0); len(gs) != 0 {
		t.Fatalf("an ended hold was granted: %v", granted(gs))
	}
	enqueue(q, 2, "b", 2)
	if got := granted(q.Grant(t0)); got["w3"] != 2 || other.done != true {
		t.Fatalf("grants %v, want w3: 2", got)
	}
}

// A paused action's units go to no held request; resuming it wakes them.
func TestHoldsAndPauses(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1)
	lease(q, "x", "a", t0)
	q.SetPaused(Pause{ID: 1, Action: "a"}, true)
	hold(q, "w", "a", 10*sec)
	enqueue(q, 2, "a", 2)
	if gs := q.Grant(t0); len(gs) != 0 {
		t.Fatalf("a paused action's unit was granted: %v", granted(gs))
	}
	q.SetPaused(Pause{ID: 1, Action: "a"}, false)
	if got := granted(q.Grant(t0)); got["w"] != 2 {
		t.Fatalf("grants after the resume %v, want w: 2", got)
	}
}

// Thousands of holds on an action that never gets a unit expire without
// leaving their queue behind.
func TestExpiredHoldsAreForgotten(t *testing.T) {
	q := NewQueue(0, 0)
	for i := range 5000 {
		hold(q, "w"+string(rune('a'+i%26)), "never", int64(i))
	}
	if n := len(q.ExpireHolds(t0 + 5000)); n != 5000 {
		t.Fatalf("%d expired, want 5000", n)
	}
	if q.Holding() || len(q.holds) != 0 {
		t.Fatalf("holds left: %d in the heap, %d queues", len(q.byDue), len(q.holds))
	}
}
