package core

import (
	"cmp"
	"container/heap"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/documentcloud/crowd/wire"
)

// ErrNotLeased answers a report from a worker that does not hold the unit.
var ErrNotLeased = errors.New("work unit is not leased to this worker")

// unitState is where a unit is in the dispatcher.
type unitState uint8

const (
	stateReady    unitState = iota // in its action's ready queue
	stateWaiting                   // backing off after a failed attempt
	stateLeased                    // held by a worker
	stateReported                  // reported or lost; its job decides what follows
	stateGone                      // dropped with its job; skipped where it still sits
)

// QueueJob is what the queue knows of a job: what every unit of it shares.
type QueueJob struct {
	ID      int64
	Action  string
	Options []byte
	Owner   any // the shell's handle for the job (its actor)

	lastUnit int64 // the highest unit id the queue has recorded as the job's
	finished bool  // FinishJob let go of it
}

// Finished reports whether the queue let go of the job because it finished
// (FinishJob): its owner may be gone.
func (j *QueueJob) Finished() bool { return j.finished }

// Entry is a unit the dispatcher knows: one not yet complete.
type Entry struct {
	Unit     int64
	Job      *QueueJob
	Input    string
	Status   Status
	Attempts int
	Worker   string // the lease holder
	LeasedAt int64

	state   unitState
	lease   uint32 // counts leases, so a stale timeout record is recognised
	reports uint32 // counts reports and losses, so a repeat is recognised (Repeat)
	due     int64  // end of back-off
	heapPos int
}

// View is the unit's JSON document as a worker receives it.
func (e *Entry) View() wire.WorkUnit {
	return wire.WorkUnit{
		ID:       e.Unit,
		JobID:    e.Job.ID,
		Input:    e.Input,
		Attempts: e.Attempts,
		Action:   e.Job.Action,
		Options:  e.Job.Options,
		Status:   int(e.Status),
	}
}

// Queue is the dispatcher's state: ready units per action in FIFO order,
// leases, and back-off timers. Every operation is O(1) in the number of jobs
// and units, except the rare ones that say otherwise.
type Queue struct {
	unitTimeout  int64
	repeatWindow int64

	entries IDTable[*Entry] // by unit id: ids are handed out in order, so a page holds the units leased together
	ready   map[string]*deque
	waiting dueHeap[*Entry]   // backing off, by the end of their back-off
	leases  ring[leaseRecord] // in lease order, for unit_timeout
	jobs    map[int64]*QueueJob
	owners  []ownerRange       // unit id ranges of live and finished jobs, in id order once sorted
	dropped map[int64]struct{} // jobs whose owners entries are to go
	// unsorted is set when units arrive out of id order: a restart queues
	// each job's units in turn, and job actors reach the dispatcher in any
	// order. owner sorts before it searches.
	unsorted bool

	// workerSets caches the parsed worker_actions strings, which workers
	// repeat on every request.
	workerSets map[string][]*deque
	paused     map[string]Pause

	last         map[string]lastReport // each worker's last accepted report
	sweptReports int64                 // when last was last swept

	holds map[string]*holdQueue // held POST /work requests by action (hold.go)
	byDue dueHeap[*Hold]
	woken []string // actions with units made ready since the last Grant

	nReady, nLeased int
}

type leaseRecord struct {
	e     *Entry
	lease uint32
	at    int64
}

type ownerRange struct {
	first, last int64
	job         int64
}

// NewQueue returns an empty queue; unitTimeout (ns, 0 = none) bounds how long
// a worker may hold a unit, and repeatWindow (ns, 0 = none) how long a
// repeat of a worker's last report is recognised (Repeat).
func NewQueue(unitTimeout, repeatWindow int64) *Queue {
	return &Queue{
		unitTimeout:  unitTimeout,
		repeatWindow: repeatWindow,
		last:         make(map[string]lastReport),
		holds:        make(map[string]*holdQueue),
		ready:        make(map[string]*deque),
		jobs:         make(map[int64]*QueueJob),
		dropped:      make(map[int64]struct{}),
		workerSets:   make(map[string][]*deque),
		paused:       make(map[string]Pause),
	}
}

// Pause is a paused action, as CloudCrowd's blacklist listed it.
type Pause struct {
	ID     int64
	Action string
	At     int64 // when it was paused, Unix nanoseconds
}

// SetPaused pauses or resumes an action: a paused action's units stay
// queued and are not handed out. It returns the pause that ended, when
// resuming.
func (q *Queue) SetPaused(p Pause, paused bool) (Pause, bool) {
	old, was := q.paused[p.Action]
	if paused {
		q.paused[p.Action] = p
	} else {
		delete(q.paused, p.Action)
		q.wake(p.Action)
	}
	clear(q.workerSets) // cached sets leave paused actions out
	return old, was
}

// Paused returns the paused actions, oldest pause first.
func (q *Queue) Paused() []Pause {
	ps := make([]Pause, 0, len(q.paused))
	for _, p := range q.paused {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Pause) int { return cmp.Compare(a.ID, b.ID) })
	return ps
}

// IsPaused reports whether an action is paused.
func (q *Queue) IsPaused(action string) (Pause, bool) {
	p, ok := q.paused[action]
	return p, ok
}

// AddJob registers a job before its units are queued.
func (q *Queue) AddJob(j *QueueJob) {
	q.jobs[j.ID] = j
	if q.ready[j.Action] == nil {
		q.ready[j.Action] = &deque{}
		clear(q.workerSets) // cached sets may name this action
	}
}

// Job returns a registered job.
func (q *Queue) Job(id int64) *QueueJob { return q.jobs[id] }

// Enqueue appends new units of a registered job to its action's queue.
func (q *Queue) Enqueue(job int64, units []Ready) {
	j := q.jobs[job]
	if j == nil || len(units) == 0 {
		return
	}
	d := q.ready[j.Action]
	for _, r := range units {
		e := &Entry{Unit: r.ID, Job: j, Input: r.Input, Status: r.Status, Attempts: r.Attempts}
		q.entries.Set(r.ID, e)
		d.push(e)
		q.nReady++
		// A job's new units have ids above its earlier ones; a unit queued
		// again (a retried job's) is recorded as the job's already.
		if r.ID > j.lastUnit {
			q.own(r.ID, job)
			j.lastUnit = r.ID
		}
	}
	q.wake(j.Action)
}

// own records that unit id belongs to job, merging runs of ids.
func (q *Queue) own(id, job int64) {
	if n := len(q.owners); n > 0 {
		last := &q.owners[n-1]
		if last.job == job && last.last+1 == id {
			last.last = id
			return
		}
		if id < last.first {
			q.unsorted = true
		}
	}
	q.owners = append(q.owners, ownerRange{first: id, last: id, job: job})
}

// owner finds the job a unit id belongs to, among live and finished jobs
// (O(log jobs): only error paths use it).
func (q *Queue) owner(id int64) (int64, bool) {
	if q.unsorted {
		slices.SortFunc(q.owners, func(a, b ownerRange) int { return cmp.Compare(a.first, b.first) })
		q.unsorted = false
	}
	k := sort.Search(len(q.owners), func(i int) bool { return q.owners[i].last >= id })
	if k == len(q.owners) || q.owners[k].first > id {
		return 0, false
	}
	job := q.owners[k].job
	_, dropped := q.dropped[job]
	return job, !dropped
}

// Lease hands the oldest ready unit among the worker's actions to worker.
// actions is the worker's comma-separated list. It returns nil when none is
// ready.
func (q *Queue) Lease(worker, actions string, now int64) *Entry {
	var best *deque
	var head *Entry
	for _, d := range q.dequesFor(actions) {
		e := d.front()
		if e != nil && (head == nil || e.Unit < head.Unit) {
			best, head = d, e
		}
	}
	if head == nil {
		return nil
	}
	best.popFront()
	q.nReady--
	q.nLeased++
	head.state = stateLeased
	head.Worker = worker
	head.LeasedAt = now
	head.lease++
	if q.unitTimeout > 0 {
		q.leases.push(leaseRecord{e: head, lease: head.lease, at: now})
	}
	return head
}

func (q *Queue) dequesFor(actions string) []*deque {
	if ds, ok := q.workerSets[actions]; ok {
		return ds
	}
	var ds []*deque
	for name := range strings.SplitSeq(actions, ",") {
		name = strings.TrimSpace(name)
		if _, paused := q.paused[name]; paused {
			continue
		}
		if d := q.ready[name]; d != nil && !contains(ds, d) {
			ds = append(ds, d)
		}
	}
	if len(q.workerSets) >= 4096 {
		clear(q.workerSets) // bound the cache against workers inventing names
	}
	q.workerSets[actions] = ds
	return ds
}

func contains(ds []*deque, d *deque) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// Report takes a worker's report on a unit: the unit must be leased to that
// worker. On success the unit is reported and waits for its job's verdict
// (Settle, or Requeue after a failed attempt). ErrNotLeased means another
// worker holds it or it is not leased at all; ErrUnknownUnit that no live
// job has such a unit.
func (q *Queue) Report(unit int64, worker string) (*Entry, error) {
	e := q.entries.Get(unit)
	if e == nil {
		if _, live := q.owner(unit); live {
			return nil, ErrNotLeased // complete, but its job is still here
		}
		return nil, ErrUnknownUnit
	}
	if e.state != stateLeased || e.Worker != worker {
		return nil, ErrNotLeased
	}
	q.takeBack(e)
	return e, nil
}

// takeBack ends e's lease and leaves it reported: its job decides what
// comes of the attempt.
func (q *Queue) takeBack(e *Entry) {
	q.unlease(e)
	e.state = stateReported
	e.reports++
}

func (q *Queue) unlease(e *Entry) {
	q.nLeased--
	e.Worker = ""
	e.lease++ // any timeout record of this lease is stale now
}

// Settle forgets a unit whose outcome is final.
func (q *Queue) Settle(unit int64) {
	e := q.entries.Get(unit)
	if e == nil {
		return
	}
	if e.state == stateLeased {
		q.unlease(e)
	}
	q.entries.Delete(unit)
	q.leave(e)
}

// leave takes e out of the ready queue or the back-off heap, if it is there.
func (q *Queue) leave(e *Entry) {
	switch e.state {
	case stateReady:
		q.nReady-- // its deque skips it lazily
	case stateWaiting:
		heap.Remove(&q.waiting, e.heapPos)
	}
	e.state = stateGone
}

// Requeue puts a reported unit back after a failed attempt: at the front of
// its queue once delay (ns) has passed.
func (q *Queue) Requeue(unit int64, attempts int, delay, now int64) {
	e := q.entries.Get(unit)
	if e == nil || e.state != stateReported {
		return
	}
	e.Attempts = attempts
	if delay <= 0 {
		q.makeReady(e)
		return
	}
	e.state = stateWaiting
	e.due = now + delay
	heap.Push(&q.waiting, e)
}

func (q *Queue) makeReady(e *Entry) {
	e.state = stateReady
	q.ready[e.Job.Action].pushFront(e)
	q.nReady++
	q.wake(e.Job.Action)
}

// Release gives a worker's units back without counting an attempt (a
// check-out): they go to the front of their queues, in the order given.
func (q *Queue) Release(worker string, units []int64) {
	// Last to first, so that they keep their order at the front.
	for _, id := range slices.Backward(units) {
		if e := q.entries.Get(id); e != nil && e.state == stateLeased && e.Worker == worker {
			q.unlease(e)
			q.makeReady(e)
		}
	}
}

// Recover takes back the units a dead worker held. They are reported: the
// caller tells each one's job, which counts the lost attempt and requeues or
// fails it.
func (q *Queue) Recover(worker string, units []int64) []*Entry {
	var lost []*Entry
	for _, id := range units {
		if e := q.entries.Get(id); e != nil && e.state == stateLeased && e.Worker == worker {
			q.takeBack(e)
			lost = append(lost, e)
		}
	}
	return lost
}

// Revoked is a lease the queue ended on its own (a timeout, a deleted job):
// the unit and the worker that held it.
type Revoked struct {
	Entry  *Entry
	Worker string
}

// Tick moves units whose back-off is over to the front of their queues (the
// one due first ends up first) and takes back leases older than
// unit_timeout, which it returns reported, as Recover does.
func (q *Queue) Tick(now int64) (expired []Revoked) {
	q.forgetReports(now)
	var due []*Entry
	for len(q.waiting) > 0 && q.waiting[0].due <= now {
		due = append(due, heap.Pop(&q.waiting).(*Entry))
	}
	for i := len(due) - 1; i >= 0; i-- {
		q.makeReady(due[i])
	}
	for q.leases.len() > 0 {
		r := q.leases.front()
		if r.e.state == stateLeased && r.e.lease == r.lease && r.at+q.unitTimeout > now {
			break
		}
		q.leases.popFront()
		if r.e.state == stateLeased && r.e.lease == r.lease {
			worker := r.e.Worker
			q.takeBack(r.e)
			expired = append(expired, Revoked{Entry: r.e, Worker: worker})
		}
	}
	return expired
}

// DropJob forgets a deleted job and its units (O(units of the job)), and
// returns the leases that ended with them.
func (q *Queue) DropJob(job int64, units []int64) (ended []Revoked) {
	for _, id := range units {
		if e := q.entries.Get(id); e != nil {
			if e.state == stateLeased {
				ended = append(ended, Revoked{Entry: e, Worker: e.Worker})
				q.unlease(e)
			}
			q.entries.Delete(id)
			q.leave(e)
		}
	}
	delete(q.jobs, job)
	q.dropped[job] = struct{}{}
	if len(q.dropped) > 64 && 2*len(q.dropped) > len(q.owners) {
		q.compactOwners()
	}
	return ended
}

// FinishJob lets go of a job whose units are all complete, keeping the
// record of its unit ids: a late report on one answers ErrNotLeased until
// the job is dropped.
func (q *Queue) FinishJob(job int64) {
	if j := q.jobs[job]; j != nil {
		j.finished = true
		delete(q.jobs, job)
	}
}

func (q *Queue) compactOwners() {
	live := q.owners[:0]
	for _, r := range q.owners {
		if _, gone := q.dropped[r.job]; !gone {
			live = append(live, r)
		}
	}
	clear(q.owners[len(live):])
	q.owners = live
	clear(q.dropped)
}

// UnitState says where an incomplete unit is, for the console: queued,
// waiting (backing off), or running (with its worker). A unit the queue
// does not know is reported as queued: its job has not handed it over yet.
func (q *Queue) UnitState(unit int64) (state, worker string) {
	e := q.entries.Get(unit)
	if e == nil {
		return "queued", ""
	}
	switch e.state {
	case stateWaiting:
		return "waiting", ""
	case stateLeased:
		return "running", e.Worker
	case stateReported:
		return "running", ""
	}
	return "queued", ""
}

// Entry returns a unit the dispatcher knows.
func (q *Queue) Entry(unit int64) *Entry { return q.entries.Get(unit) }

// QueueStats counts units by where they are.
type QueueStats struct {
	Incomplete int // every unit the dispatcher knows
	Ready      int
	Leased     int
	Waiting    int
}

// Stats counts the units.
func (q *Queue) Stats() QueueStats {
	return QueueStats{Incomplete: q.entries.Len(), Ready: q.nReady, Leased: q.nLeased, Waiting: len(q.waiting)}
}

// deque is a FIFO of ready units that also takes units at the front. Entries
// that left the ready state stay until they reach the front, where front
// drops them.
type deque struct{ ring[*Entry] }

func (d *deque) front() *Entry {
	for d.len() > 0 {
		e := d.ring.front()
		if e.state == stateReady {
			return e
		}
		d.ring.popFront()
	}
	return nil
}

func (e *Entry) dueAt() int64    { return e.due }
func (e *Entry) heapIndex() *int { return &e.heapPos }
