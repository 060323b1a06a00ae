package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/wire"
)

// dispatcher owns the queue: ready units per action, leases and back-off.
// It answers POST /work itself and checks every PUT /work/:id against the
// lease before it passes the report to the unit's job, together with the
// next unit for the worker.
type dispatcher struct {
	c         *Coordinator
	queue     *core.Queue
	nextPause int64 // the id of the next pause

	// What workers did since the registry was last told (note, flush):
	// the registry hears of it in batches, not a message per request.
	noted []activity
}

// maxNoted bounds a batch of activities: past it, the batch goes at once.
const maxNoted = 1024

func (d *dispatcher) Receive(ctx actor.Context) {
	defer d.c.guard(ctx, callOf(ctx.Message()))
	d.receive(ctx)
	if d.queue.Holding() {
		d.grant(ctx)
	}
}

func (d *dispatcher) receive(ctx actor.Context) {
	q := d.queue
	switch m := ctx.Message().(type) {
	case *dequeue:
		d.lease(ctx, m)
	case *endHolds:
		d.endHolds(m)
	case *complete:
		d.complete(ctx, m)
	case *enqueue:
		if q.Job(m.job.ID) == nil {
			q.AddJob(m.job)
		}
		q.Enqueue(m.job.ID, m.units)
		if l := m.lease; l != nil {
			now := d.c.now()
			d.answerLease(ctx, l.worker, now, q.LeaseNext(l.worker, l.actions, now), l.call)
		}
	case *requeue:
		q.Requeue(m.unit, m.attempts, m.delay, d.c.now())
	case *settle:
		q.Settle(m.unit)
	case *dropJob:
		for _, r := range q.DropJob(m.job, m.units) {
			d.note(ctx, activity{worker: r.Worker, released: r.Entry.Unit})
		}
		ctx.Send(m.from, jobDropped{})
	case *finishJob:
		q.FinishJob(m.job)
		ctx.Send(m.from, jobDropped{})
	case *forgetJob:
		q.DropJob(m.job, nil)
	case *recoverUnits:
		d.lost(ctx, q.Recover(m.worker, m.units), "worker "+m.worker+" stopped checking in")
	case *releaseUnits:
		q.Release(m.worker, m.units)
	case *giveBack:
		d.giveBack(ctx, m.worker, m.unit)
	case *workerUnit:
		if e := q.Entry(m.unit); e != nil && e.Worker == m.name {
			m.call.answer(Reply{Outcome: OK, Unit: e.View()})
			return
		}
		m.call.answer(Reply{Outcome: NoContent})
	case *queueStats:
		m.reply <- q.Stats()
	case *pauseAction:
		d.pause(m)
	case *listPaused:
		m.reply <- pauses{list: q.Paused(), last: d.nextPause}
	case *unitStates:
		states := make(map[int64][2]string, len(m.ids))
		for _, id := range m.ids {
			st, w := q.UnitState(id)
			states[id] = [2]string{st, w}
		}
		m.reply <- states
	case *unitViews:
		views := make(map[int64]wire.WorkUnit, len(m.ids))
		for _, id := range m.ids {
			if e := q.Entry(id); e != nil {
				views[id] = e.View()
			}
		}
		m.reply <- views
	case *toRegistry:
		d.flush(ctx)
		ctx.Send(d.c.registry, m.msg)
	case tick:
		for _, h := range q.ExpireHolds(d.c.now()) {
			h.Handle.(call).answer(Reply{Outcome: NoContent})
		}
		for _, x := range q.Tick(d.c.now()) {
			d.note(ctx, activity{worker: x.Worker, released: x.Entry.Unit})
			d.lost(ctx, []*core.Entry{x.Entry}, "unit_timeout passed while "+x.Worker+" held it")
		}
		// The registry's own tick comes after the activities up to now, so
		// that it never takes a worker for dead that was just here.
		d.flush(ctx)
		ctx.Send(d.c.registry, tick{})
	}
}

func (d *dispatcher) complete(ctx actor.Context, m *complete) {
	q := d.queue
	now := d.c.now()
	e, err := q.Report(m.Unit, m.Worker)
	if err != nil {
		d.refused(ctx, m, err, now)
		return
	}
	if m.Succeeded {
		q.Settle(m.Unit) // a success is final; a failure waits for its job's verdict
	}
	// The unit that just failed is reported, not ready, so the worker cannot
	// get it straight back.
	next := q.Lease(m.Worker, m.Actions, now)
	q.RememberReport(e, m.Worker, m.Succeeded, m.Output, next, now)
	d.tellRegistry(ctx, m.Worker, now, m.Unit, next)
	if next != nil {
		m.next, m.hasNext = next.View(), true
	}
	ctx.Send(e.Job.Owner.(*actor.PID), m)
}

// refused handles a report the queue refused: a repeat of the worker's
// last accepted report goes to the unit's job, with the unit the first
// answer leased (or a new one), to be answered as the first was once that
// report is durable; any other gets 404 or 409.
func (d *dispatcher) refused(ctx actor.Context, m *complete, err error, now int64) {
	q := d.queue
	job, next, ok := q.Repeat(m.Unit, m.Worker, m.Succeeded, m.Output, now)
	if !ok {
		d.tellRegistry(ctx, m.Worker, now, 0, nil)
		if errors.Is(err, core.ErrUnknownUnit) {
			m.call.answer(Reply{Outcome: NotFound, Err: errNoUnit})
		} else {
			m.call.answer(Reply{Outcome: Conflict, Err: err})
		}
		return
	}
	var leased *core.Entry // a unit leased now, which the registry learns of
	if next == nil {
		next = q.LeaseNext(m.Worker, m.Actions, now)
		leased = next
	}
	d.tellRegistry(ctx, m.Worker, now, 0, leased)
	if next != nil {
		m.next, m.hasNext = next.View(), true
	}
	if job.Finished() { // every event of it is durable, and its actor may be gone
		d.c.counters.RepeatReports.Add(1)
		answerReport(d.c, m, nil)
		return
	}
	m.repeat = true
	ctx.Send(job.Owner.(*actor.PID), m)
}

// lease answers a POST /work with the worker's next unit; when none is
// ready, NoContent, or with a wait, once one is (grant) or the wait ends
// (tick).
func (d *dispatcher) lease(ctx actor.Context, m *dequeue) {
	now := d.c.now()
	e := d.queue.Lease(m.worker, m.actions, now)
	if e == nil && m.wait > 0 {
		d.tellRegistry(ctx, m.worker, now, 0, nil)
		d.queue.Hold(&core.Hold{Worker: m.worker, Actions: m.actions, Due: now + m.wait, Handle: m.call})
		return
	}
	d.answerLease(ctx, m.worker, now, e, m.call)
}

// answerLease answers a worker with the unit just leased to it, or
// NoContent for none; a unit whose asker gave up waiting goes back.
func (d *dispatcher) answerLease(ctx actor.Context, worker string, now int64, e *core.Entry, cl call) {
	d.tellRegistry(ctx, worker, now, 0, e)
	if e == nil {
		cl.answer(Reply{Outcome: NoContent})
		return
	}
	if !cl.answer(Reply{Outcome: OK, Unit: e.View()}) {
		d.giveBack(ctx, worker, e.Unit)
	}
}

// grant hands the units made ready to the held requests waiting on them.
// A unit whose asker has given up goes back, and may go to the next.
func (d *dispatcher) grant(ctx actor.Context) {
	for {
		now := d.c.now()
		grants := d.queue.Grant(now)
		if len(grants) == 0 {
			return
		}
		for _, g := range grants {
			e := g.Entry
			d.note(ctx, activity{worker: g.Hold.Worker, at: now, leased: e.Unit, status: e.Status, held: true})
			if !g.Hold.Handle.(call).answer(Reply{Outcome: OK, Unit: e.View()}) {
				d.giveBack(ctx, g.Hold.Worker, e.Unit)
			}
		}
	}
}

// endHolds ends a checked-out worker's held requests (NoContent), or all
// of them when the server drains.
func (d *dispatcher) endHolds(m *endHolds) {
	r := Reply{Outcome: NoContent}
	match := func(h *core.Hold) bool { return h.Worker == m.worker }
	if m.draining {
		r = Reply{Outcome: Unavailable, Err: ErrDraining}
		match = func(*core.Hold) bool { return true }
	}
	for _, h := range d.queue.EndHolds(match) {
		h.Handle.(call).answer(r)
	}
}

// giveBack makes a unit leased to worker ready again, its attempt not
// counted: the worker never heard of it.
func (d *dispatcher) giveBack(ctx actor.Context, worker string, unit int64) {
	d.queue.Release(worker, []int64{unit})
	d.note(ctx, activity{worker: worker, released: unit})
}

// lost hands units whose lease ended without a report to their jobs, which
// count the attempt.
func (d *dispatcher) lost(ctx actor.Context, entries []*core.Entry, reason string) {
	for _, e := range entries {
		ctx.Send(e.Job.Owner.(*actor.PID), &lose{unit: e.Unit, reason: reason})
	}
}

// tellRegistry renews the worker's liveness and records the units it let go
// of and took.
func (d *dispatcher) tellRegistry(ctx actor.Context, worker string, now, released int64, leased *core.Entry) {
	a := activity{worker: worker, at: now, released: released}
	if leased != nil {
		a.leased, a.status = leased.Unit, leased.Status
	}
	d.note(ctx, a)
}

// note records an activity for the registry. The registry is told in
// batches: on each tick, and before any message that reads what it knows
// of the workers (toRegistry). A message to the registry per request was
// an allocation and a mailbox run each.
func (d *dispatcher) note(ctx actor.Context, a activity) {
	d.noted = append(d.noted, a)
	if len(d.noted) >= maxNoted {
		d.flush(ctx)
	}
}

// flush sends the registry the activities noted since the last flush.
func (d *dispatcher) flush(ctx actor.Context) {
	if len(d.noted) == 0 {
		return
	}
	ctx.Send(d.c.registry, &activities{list: d.noted})
	d.noted = make([]activity, 0, cap(d.noted))
}

// pause pauses or resumes an action, durably. Pausing a paused action
// answers its pause; resuming one that is not paused answers NotFound.
func (d *dispatcher) pause(m *pauseAction) {
	q := d.queue
	old, was := q.IsPaused(m.action)
	if m.paused == was {
		if was {
			m.call.answer(Reply{Outcome: OK, Pause: ptr(pauseView(old))})
		} else {
			m.call.answer(Reply{Outcome: NotFound, Err: errNotPaused})
		}
		return
	}
	p := core.Pause{ID: old.ID, Action: m.action, At: old.At}
	if m.paused {
		d.nextPause++
		p = core.Pause{ID: d.nextPause, Action: m.action, At: d.c.now()}
	}
	q.SetPaused(p, m.paused)
	if m.paused { // the held requests waiting on it ask again, and wait for the rest
		for _, h := range q.EndHolds(func(h *core.Hold) bool { return h.WaitsOn(m.action) }) {
			h.Handle.(call).answer(Reply{Outcome: NoContent})
		}
	}
	d.c.journal.Append(&core.ActionPaused{Action: p.Action, Paused: m.paused, ID: p.ID, At: p.At}, func(err error) {
		if err != nil {
			m.call.fail(err)
			return
		}
		m.call.answer(Reply{Outcome: OK, Pause: ptr(pauseView(p))})
	})
}

var errNotPaused = errors.New("that action is not paused")

func pauseView(p core.Pause) wire.Pause {
	return wire.Pause{ID: p.ID, Action: p.Action, CreatedAt: time.Unix(0, p.At)}
}
