package core

import "hash/maphash"

// A worker whose answer to PUT /work/:id is lost sends the same report
// again; CloudCrowd 0.1's worker does so every 5 seconds, forever, once its
// own clean-up raises. Refusing the repeat with 409 would leave such a
// worker looping and tell crowd's own worker nothing of whether its report
// counted. So the queue remembers each worker's last accepted report for a
// window, and a report that repeats it (the same unit, outcome and output)
// is answered as the first was, recording nothing. The memory is one
// record per worker, not per unit, so it stays small at any rate of
// reports; leases are not journaled, and neither is this.

// lastReport is a worker's last accepted report, and the unit its answer
// leased the worker.
type lastReport struct {
	entry     *Entry
	reports   uint32 // entry.reports just after this report
	succeeded bool
	output    uint64 // the output's hash
	at        int64

	next      *Entry // nil when the answer leased nothing
	nextLease uint32 // next.lease when it was leased
}

// RememberReport records that worker's report on e (which Report took back)
// was accepted at now, and that its answer leased next (nil for none).
func (q *Queue) RememberReport(e *Entry, worker string, succeeded bool, output []byte, next *Entry, now int64) {
	if q.repeatWindow <= 0 {
		return
	}
	r := lastReport{entry: e, reports: e.reports, succeeded: succeeded, output: outputHash(output), at: now}
	if next != nil {
		r.next, r.nextLease = next, next.lease
	}
	q.last[worker] = r
}

// outputSeed keys the outputs' hashes; they live in memory only.
var outputSeed = maphash.MakeSeed()

func outputHash(output []byte) uint64 { return maphash.Bytes(outputSeed, output) }

// LeaseNext is Lease for an answer to a report that comes after the report
// was remembered (a repeat's, or one whose job made the unit): the unit
// leased is remembered with the worker's last report, so that a repeat of
// the report is answered with the same unit.
func (q *Queue) LeaseNext(worker, actions string, now int64) *Entry {
	e := q.Lease(worker, actions, now)
	if r, ok := q.last[worker]; ok && e != nil {
		r.next, r.nextLease = e, e.lease
		q.last[worker] = r
	}
	return e
}

// Repeat reports whether a report that Report refused repeats worker's last
// accepted report: the same unit, outcome and output, within the repeat window,
// with no report or loss of the unit since (by anyone), the unit not queued
// again by a retry of its job, and the job still queued or finished
// (FinishJob), not dropped. It returns the unit's job and, when worker
// still holds it, the unit that the first answer leased: the worker may
// never have heard of it.
func (q *Queue) Repeat(unit int64, worker string, succeeded bool, output []byte, now int64) (job *QueueJob, next *Entry, ok bool) {
	r, found := q.last[worker]
	if !found {
		return nil, nil, false
	}
	e := r.entry
	switch {
	case e.Unit != unit, r.succeeded != succeeded, now-r.at > q.repeatWindow,
		e.reports != r.reports, r.output != outputHash(output):
		return nil, nil, false
	}
	if q.jobs[e.Job.ID] != e.Job {
		if _, live := q.owner(unit); !e.Job.finished || !live {
			return nil, nil, false // dropped with its job
		}
	}
	if cur := q.entries.Get(unit); cur != nil && cur != e {
		return nil, nil, false // queued again as a new entry: the job was retried
	}
	if n := r.next; n != nil && n.state == stateLeased && n.Worker == worker && n.lease == r.nextLease && q.entries.Get(n.Unit) == n {
		next = n
	}
	return e.Job, next, true
}

// forgetReports drops the last reports older than the repeat window, at
// most once a window (O(workers)).
func (q *Queue) forgetReports(now int64) {
	if q.repeatWindow <= 0 || now-q.sweptReports < q.repeatWindow {
		return
	}
	q.sweptReports = now
	for w, r := range q.last {
		if now-r.at > q.repeatWindow {
			delete(q.last, w)
		}
	}
}
