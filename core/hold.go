package core

import (
	"container/heap"
	"slices"
	"strings"
)

// Long-poll POST /work: a worker with nothing ready can ask to be held
// until a unit of its actions is, for a bounded wait. The queue keeps the
// held requests in a FIFO per action name, so that a unit made ready goes
// to the worker that has waited longest for its action, and in a heap by
// the end of their wait, so that the dispatcher's one timer ends them.
// Nothing per request runs while it is held.

// Hold is a held POST /work.
type Hold struct {
	Worker, Actions string
	Due             int64 // when the wait ends, Unix nanoseconds
	Handle          any   // the shell's: whom to answer

	names   []string // the actions it waits on
	done    bool
	heapPos int
}

// Grant is a unit leased to a held request.
type Grant struct {
	Hold  *Hold
	Entry *Entry
}

// holdQueue is the FIFO of the holds waiting on one action. Holds that
// ended stay until they reach the front, or until they are more than half
// of the queue.
type holdQueue struct {
	list []*Hold
	head int
	live int
}

func (hq *holdQueue) pop() *Hold {
	for hq.head < len(hq.list) {
		h := hq.list[hq.head]
		hq.list[hq.head] = nil
		hq.head++
		if !h.done {
			return h
		}
	}
	return nil
}

func (hq *holdQueue) compact() {
	if n := len(hq.list) - hq.head; n < 64 || n < 2*hq.live {
		return
	}
	live := hq.list[:0]
	for _, h := range hq.list[hq.head:] {
		if !h.done {
			live = append(live, h)
		}
	}
	clear(hq.list[len(live):])
	hq.list, hq.head = live, 0
}

// Holding reports whether any request is held.
func (q *Queue) Holding() bool { return len(q.byDue) > 0 }

// Hold parks a POST /work that found nothing ready (Lease returned nil)
// until a unit of its actions is ready (Grant), its wait ends
// (ExpireHolds), or EndHolds ends it.
func (q *Queue) Hold(h *Hold) {
	for name := range strings.SplitSeq(h.Actions, ",") {
		name = strings.TrimSpace(name)
		if name == "" || slices.Contains(h.names, name) {
			continue
		}
		h.names = append(h.names, name)
		hq := q.holds[name]
		if hq == nil {
			hq = &holdQueue{}
			q.holds[name] = hq
		}
		hq.list = append(hq.list, h)
		hq.live++
	}
	heap.Push(&q.byDue, h)
}

// Grant leases the units made ready since the last Grant to the held
// requests waiting on their actions, longest-waiting first. Call it after
// anything that may have made units ready.
func (q *Queue) Grant(now int64) []Grant {
	var grants []Grant
	for _, name := range q.woken {
		hq := q.holds[name]
		d := q.ready[name]
		if hq == nil || d == nil {
			continue
		}
		if _, paused := q.paused[name]; paused {
			continue
		}
		for d.front() != nil {
			h := hq.pop()
			if h == nil {
				break
			}
			e := q.Lease(h.Worker, h.Actions, now) // the oldest unit of any of its actions
			if e == nil {
				continue // cannot be: name is one of its actions, and ready
			}
			q.unhold(h)
			grants = append(grants, Grant{Hold: h, Entry: e})
		}
		q.dropEmpty(name, hq)
	}
	clear(q.woken)
	q.woken = q.woken[:0]
	return grants
}

// wake notes that a unit of action is ready, for Grant.
func (q *Queue) wake(action string) {
	if len(q.holds) == 0 {
		return
	}
	if _, ok := q.holds[action]; ok && !slices.Contains(q.woken, action) {
		q.woken = append(q.woken, action)
	}
}

// ExpireHolds ends the holds whose wait is over.
func (q *Queue) ExpireHolds(now int64) []*Hold {
	var ended []*Hold
	for len(q.byDue) > 0 && q.byDue[0].Due <= now {
		h := q.byDue[0]
		q.unhold(h)
		ended = append(ended, h)
	}
	return ended
}

// EndHolds ends the holds that match (O(holds): for a pause, a check-out
// or a shutdown).
func (q *Queue) EndHolds(match func(*Hold) bool) []*Hold {
	var ended []*Hold
	for _, h := range q.byDue {
		if match(h) {
			ended = append(ended, h)
		}
	}
	for _, h := range ended {
		q.unhold(h)
	}
	return ended
}

// WaitsOn reports whether h waits on action.
func (h *Hold) WaitsOn(action string) bool { return slices.Contains(h.names, action) }

func (q *Queue) unhold(h *Hold) {
	h.done = true
	heap.Remove(&q.byDue, h.heapPos)
	for _, name := range h.names {
		if hq := q.holds[name]; hq != nil {
			hq.live--
			q.dropEmpty(name, hq)
		}
	}
}

func (q *Queue) dropEmpty(name string, hq *holdQueue) {
	if hq.live == 0 {
		delete(q.holds, name)
		return
	}
	hq.compact()
}

func (h *Hold) dueAt() int64    { return h.Due }
func (h *Hold) heapIndex() *int { return &h.heapPos }
