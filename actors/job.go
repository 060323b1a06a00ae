package actors

import (
	"errors"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/wire"
)

var (
	errNoJob         = errors.New("no such job")
	errNoUnit        = errors.New("no such work unit")
	errJournalFailed = errors.New("the journal failed")
)

// jobActor owns one job. It decides on reports with the job's core, applies
// the event, and journals it; once the event is durable, it tells the other
// actors what changed and answers the request.
type jobActor struct {
	c   *Coordinator
	job *core.Job
	qj  *core.QueueJob

	// Set when the actor creates the job rather than restoring it.
	created    *core.JobCreated
	createCall call

	dropped, forgotten bool // the dispatcher and the directory let go of it
	revived            bool // it was finished, and runs again (a retry)
	retiring           bool // it is finished and handed to the directory (retire)
	callbackRound      int  // completions whose callback this actor started
	callbackTry        int  // tries of the current round so far

	// An answer to a query waits until every event it shows is durable
	// (whenDurable). The journal's goroutine sets these.
	self          *actor.PID
	durableSeq    atomic.Uint64 // the job's events up to this Seq are durable
	journalFailed atomic.Bool   // nothing will be durable any more
	holding       atomic.Bool   // held has answers: tell the actor of progress
	held          []heldAnswer
}

type heldAnswer struct {
	seq    uint64 // the Seq the answer shows
	answer func()
}

// journaled tells the actor, while it holds answers, that the journal has
// made more of its events durable (or failed): the journal's goroutine
// sends it (jobActor.journaled).
type journaled struct{}

func (a *jobActor) Receive(ctx actor.Context) {
	defer a.c.guard(ctx, callOf(ctx.Message()))
	if a.job != nil && a.job.Deleted && answerDeleted(ctx.Message()) {
		return
	}
	if a.retiring && changes(ctx.Message()) {
		ctx.Send(ctx.Parent(), ctx.Message()) // the directory has the finished job now: it answers
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *complete:
		if m.repeat {
			a.repeated(ctx, m)
		} else {
			a.finish(ctx, m)
		}
	case *lose:
		a.lose(ctx, m)
	case *getJob:
		view := a.job.View(a.c.now())
		a.whenDurable(func() { m.call.answer(Reply{Outcome: OK, Job: &view}) })
	case *viewJob:
		view := a.job.View(a.c.now())
		a.whenDurable(func() { m.reply <- view })
	case *deleteJob:
		a.delete(ctx, m.call)
	case *retryJob:
		a.retry(ctx, m.call)
	case *consoleJob:
		view := consoleView(a.job, a.c.now(), false)
		a.whenDurable(func() { m.reply <- view })
	case *jobDetail:
		detail := detailView(a.job, a.c.now(), m.offset, m.limit)
		a.whenDurable(func() { m.reply <- detail })
	case *snapshotJob:
		// At once: Snapshotter.Take waits on a barrier after collecting.
		st := a.job.State()
		m.reply <- persistence.AppendJob(nil, &st)
	case journaled:
		a.releaseHeld()
		a.retire(ctx, 0)
	case *callbackDone:
		a.callbackDone(ctx, m)
	case callbackRetry:
		if a.callbackCurrent(m.round) {
			a.sendCallback(ctx)
		}
	case jobDropped:
		a.dropped = true
		a.stopWhenReleased(ctx)
	case jobForgotten:
		a.forgotten = true
		a.stopWhenReleased(ctx)
	case jobCompleted:
		a.c.log.Info("job complete", "job", a.job.ID, "action", a.job.Action, "status", a.job.Status.String())
		a.maybeCallback(ctx)
		a.retire(ctx, m.seq)
	case callbackSettled:
		a.retire(ctx, 0)
	}
}

// retire hands a finished job to the directory, which keeps it as data
// (finishedJobs), and stops the actor once the dispatcher and the directory
// have let go of it: once the job has succeeded or failed, its callback is
// settled and every event of it is durable (up to durable, or as the
// journal said), only a delete or a retry changes it again, and the
// directory does those. Nothing is retired while answers wait.
func (a *jobActor) retire(ctx actor.Context, durable uint64) {
	j := a.job
	if a.retiring || j.Deleted || !finished(j.Status, j.Callback) ||
		len(a.held) > 0 || max(durable, a.durableSeq.Load()) < j.Seq {
		return
	}
	a.retiring = true
	st := j.State()
	ctx.Send(a.c.dispatcher, &finishJob{job: j.ID, from: ctx.Self()})
	ctx.Send(ctx.Parent(), &jobFinished{id: j.ID, status: j.Status, finishedAt: j.FinishedAt, state: persistence.AppendJob(nil, &st), from: ctx.Self()})
}

// changes reports whether msg asks to change a finished job.
func changes(msg any) bool {
	switch msg.(type) {
	case *deleteJob, *retryJob:
		return true
	}
	return false
}

// answerDeleted answers a query about a job as a deleted job does, and
// reports whether msg is such a query. The job's actor answers so once its
// job is deleted, and the directory once it has let go of the job.
func answerDeleted(msg any) bool {
	switch m := msg.(type) {
	case *getJob:
		m.call.answer(Reply{Outcome: NotFound, Err: errNoJob})
	case *deleteJob:
		m.call.answer(Reply{Outcome: NotFound, Err: errNoJob})
	case *retryJob:
		m.call.answer(Reply{Outcome: NotFound, Err: errNoJob})
	case *viewJob:
		m.reply <- wire.Job{} // id 0: not listed
	case *consoleJob:
		m.reply <- wire.ConsoleJob{}
	case *jobDetail:
		m.reply <- nil
	case *snapshotJob:
		m.reply <- nil
	default:
		return false
	}
	return true
}

func (a *jobActor) start(ctx actor.Context) {
	a.self = ctx.Self()
	if a.created == nil { // restored (Start queued its units) or revived
		a.durableSeq.Store(a.job.Seq)
		a.qj = a.job.ForQueue(ctx.Self(), a.revived)
		a.maybeCallback(ctx)
		if !a.revived { // a revived job's retry is on its way
			a.retire(ctx, 0)
		}
		return
	}
	job, fx := core.NewJob(a.created)
	a.job = job
	a.c.counters.JobsCreated.Add(1)
	a.qj = job.ForQueue(ctx.Self(), false)
	view, cl := job.View(a.created.At), a.createCall
	a.send(ctx, a.created, fx, nil, func(err error) {
		if err != nil {
			cl.fail(err)
			return
		}
		cl.answer(Reply{Outcome: OK, Job: &view})
	})
	a.created, a.createCall = nil, call{}
}

func (a *jobActor) finish(ctx actor.Context, m *complete) {
	var err error
	if m.ev, err = a.job.Finish(m.Unit, m.Succeeded, m.Output, m.Time, a.c.now(), a.c.ids); err != nil {
		a.refuse(ctx, m, err)
		return
	}
	ev := &m.ev // the journal encodes it before Append returns; the job keeps none of it
	ev.Worker = m.Worker
	fx := a.apply(ev)
	a.count(m.Succeeded, fx)
	if !m.hasNext && m.Actions != "" && len(fx.Ready) > 0 {
		// Nothing was ready when the dispatcher looked, but this report
		// made units (a split's children, the merge unit): the dispatcher
		// queues them and answers the worker with its next unit.
		a.send(ctx, ev, fx, &leaseFor{worker: m.Worker, actions: m.Actions, call: m.call}, func(err error) {
			if err != nil {
				m.call.fail(err)
			}
		})
		return
	}
	m.job, m.outcome, m.seq = a, a.outcomeOf(ctx, fx, nil), a.job.Seq
	a.c.journal.Append(ev, m.journaled)
}

// durable is a report's journal callback (finish): the job's part, then
// the answer.
func (m *complete) durable(err error) {
	a := m.job
	a.durable(m.outcome, m.seq, err)
	answerReport(a.c, m, err)
}

// answerReport answers a recorded report with the next unit the dispatcher
// leased with it, or NoContent; err is the journal's.
func answerReport(c *Coordinator, m *complete, err error) {
	// m is not read once answered: it may serve the asker's next request.
	if !m.hasNext {
		if err != nil {
			m.call.fail(err)
		} else {
			m.call.answer(Reply{Outcome: NoContent})
		}
		return
	}
	worker, unit := m.Worker, m.next.ID
	if err != nil {
		m.call.fail(err)
	} else if m.call.answer(Reply{Outcome: OK, Unit: m.next}) {
		return
	}
	// Not journaled, or the worker gave up waiting: it never hears of its
	// next unit.
	c.sys.Root.Send(c.dispatcher, &giveBack{worker: worker, unit: unit})
}

// repeated answers a report that repeats one the job has recorded (the
// worker's answer was lost; core.Queue.Repeat) as the first was, once the
// first is durable, and records nothing.
func (a *jobActor) repeated(ctx actor.Context, m *complete) {
	if a.job.Deleted {
		a.refuse(ctx, m, core.ErrJobDeleted)
		return
	}
	a.c.counters.RepeatReports.Add(1)
	a.whenDurable(func() {
		var err error
		if a.journalFailed.Load() {
			err = errJournalFailed // the first report may not be durable
		}
		answerReport(a.c, m, err)
	})
}

// refuse answers a report the job cannot take (over HTTP: a DELETE raced
// it, and the unit goes with the job), and gives back the next unit the
// dispatcher leased with it: the worker never hears of that one.
func (a *jobActor) refuse(ctx actor.Context, m *complete, err error) {
	if m.hasNext {
		ctx.Send(a.c.dispatcher, &giveBack{worker: m.Worker, unit: m.next.ID})
	}
	m.call.answer(refusal(err))
}

func refusal(err error) Reply {
	switch {
	case errors.Is(err, core.ErrUnknownUnit), errors.Is(err, core.ErrJobDeleted):
		return Reply{Outcome: NotFound, Err: errNoUnit}
	case errors.Is(err, core.ErrUnitComplete):
		return Reply{Outcome: Conflict, Err: err}
	}
	return Reply{Outcome: Invalid, Err: err}
}

func (a *jobActor) lose(ctx actor.Context, m *lose) {
	ev, err := a.job.Lose(m.unit, m.reason, a.c.now())
	if err != nil {
		return // deleted or already complete: nothing was lost
	}
	a.c.counters.LeasesLost.Add(1)
	fx := a.apply(ev)
	a.count(false, fx)
	a.send(ctx, ev, fx, nil, a.logJournalError)
}

// count adds a report's outcome to the coordinator's counters.
func (a *jobActor) count(succeeded bool, fx core.Effects) {
	switch {
	case succeeded:
		a.c.counters.UnitsSucceeded.Add(1)
	case fx.Retry != nil:
		a.c.counters.AttemptsFailed.Add(1)
	case fx.Settled != 0:
		a.c.counters.UnitsFailed.Add(1)
	}
}

// commit applies ev and sends it on (done runs once it is durable; nil
// logs a failure).
func (a *jobActor) commit(ctx actor.Context, ev core.Event, done func(error)) {
	if done == nil {
		done = a.logJournalError
	}
	a.send(ctx, ev, a.apply(ev), nil, done)
}

// send hands an applied event to the journal. Once it is durable, the
// event's outcome goes to the other actors (the dispatcher queues new units,
// the directory learns the status), and only then does done answer: the
// client's next request finds the change. Nothing of an event is seen
// outside the job before it is on disk, so a crash cannot leave a worker
// holding a unit whose id the restarted coordinator would give again.
func (a *jobActor) send(ctx actor.Context, ev core.Event, fx core.Effects, lease *leaseFor, done func(error)) {
	o, seq := a.outcomeOf(ctx, fx, lease), a.job.Seq
	a.c.journal.Append(ev, func(err error) {
		a.durable(o, seq, err)
		done(err)
	})
}

// outcomeOf is what the event just applied (its effects fx) tells the
// other actors once it is durable; nil for nothing.
func (a *jobActor) outcomeOf(ctx actor.Context, fx core.Effects, lease *leaseFor) *outcome {
	if fx.Empty() && lease == nil {
		return nil
	}
	o := &outcome{c: a.c, self: ctx.Self(), parent: ctx.Parent(), job: a.qj, fx: fx, status: a.job.Status, seq: a.job.Seq, lease: lease}
	if r := fx.Retry; r != nil {
		o.delay = a.c.rules.Backoff(r.Attempts)
	}
	return o
}

// durable is the job's part of an event's journal callback: once the event
// up to seq is durable, its outcome goes out (o, when not nil).
func (a *jobActor) durable(o *outcome, seq uint64, err error) {
	if err == nil && o != nil {
		o.publish()
	}
	a.journaled(seq, err)
}

// journaled records that the job's events up to seq are durable, or that
// the journal failed, and tells the actor if it holds answers. It runs on
// the journal's goroutine, in the order of the job's events.
func (a *jobActor) journaled(seq uint64, err error) {
	if err != nil {
		a.journalFailed.Store(true)
	} else {
		a.durableSeq.Store(seq)
	}
	if a.holding.Load() {
		a.c.sys.Root.Send(a.self, journaled{})
	}
}

// whenDurable runs answer, an answer computed now, once every event the job
// has applied is durable: a query never shows a change that a crash could
// take back. Group commit makes that wait one fsync at most. Once the
// journal has failed, answers go at once: nothing more will be durable.
func (a *jobActor) whenDurable(answer func()) {
	if a.durableSeq.Load() >= a.job.Seq || a.journalFailed.Load() {
		answer()
		return
	}
	a.held = append(a.held, heldAnswer{seq: a.job.Seq, answer: answer})
	a.holding.Store(true)
	a.releaseHeld() // the journal may have caught up before holding was set
}

func (a *jobActor) releaseHeld() {
	durable, failed := a.durableSeq.Load(), a.journalFailed.Load()
	keep := a.held[:0]
	for _, h := range a.held {
		if h.seq <= durable || failed {
			h.answer()
		} else {
			keep = append(keep, h)
		}
	}
	clear(a.held[len(keep):])
	a.held = keep
	if len(keep) == 0 {
		a.holding.Store(false)
	}
}

func (a *jobActor) apply(ev core.Event) core.Effects {
	fx, err := a.job.Apply(ev)
	if err != nil {
		panic(err) // decisions are checked before they are applied: a bug
	}
	return fx
}

func (a *jobActor) logJournalError(err error) {
	if err != nil {
		a.c.log.Error("journal append failed", "job", a.job.ID, "err", err)
	}
}

// outcome is what an applied event tells the other actors. It is sent from
// the journal's goroutine, so it holds copies, never the job itself.
type outcome struct {
	c            *Coordinator
	self, parent *actor.PID
	job          *core.QueueJob // fixed at the job's start
	fx           core.Effects
	status       core.Status // the job's status after the event
	delay        int64       // the back-off of a retry
	seq          uint64      // the event's JobSeq
	lease        *leaseFor
}

func (o *outcome) publish() {
	send, d, fx := o.c.sys.Root.Send, o.c.dispatcher, &o.fx
	if len(fx.Ready) > 0 {
		send(d, &enqueue{job: o.job, units: fx.Ready, lease: o.lease})
	}
	if r := fx.Retry; r != nil {
		send(d, &requeue{unit: r.Unit, attempts: r.Attempts, delay: o.delay})
	}
	if fx.Settled != 0 {
		send(d, &settle{unit: fx.Settled})
	}
	if fx.Changed {
		send(o.parent, &statusChanged{id: o.job.ID, status: o.status})
	}
	if fx.Completed {
		send(o.self, jobCompleted{seq: o.seq}) // the callback starts from the job's own goroutine
	}
	if fx.Deleted {
		send(d, &dropJob{job: o.job.ID, units: fx.Drop, from: o.self})
		send(o.parent, &jobGone{id: o.job.ID, from: o.self})
		if remove := o.c.set.RemoveFiles; remove != nil {
			go remove(o.job.Action, o.job.ID) // files are slow to delete; the job is gone already
		}
	}
}

// delete removes the job. The actor stops once the dispatcher and the
// directory have let go of it, so that no message to it is lost.
func (a *jobActor) delete(ctx actor.Context, cl call) {
	ev, _ := a.job.Delete() // not deleted: Receive answered that (answerDeleted)
	a.commit(ctx, ev, func(err error) {
		if err != nil {
			cl.fail(err)
			return
		}
		cl.answer(Reply{Outcome: NoContent})
	})
}

func (a *jobActor) stopWhenReleased(ctx actor.Context) {
	if a.dropped && a.forgotten {
		ctx.Stop(ctx.Self())
	}
}

// retry runs the failed units of a failed job again.
func (a *jobActor) retry(ctx actor.Context, cl call) {
	ev, err := a.job.RetryFailed(a.c.now())
	if err != nil { // not deleted: Receive answered that (answerDeleted)
		cl.answer(Reply{Outcome: Conflict, Err: err})
		a.retire(ctx, 0) // revived for nothing
		return
	}
	fx := a.apply(ev)
	view := a.job.View(ev.At)
	a.send(ctx, ev, fx, nil, func(err error) {
		if err != nil {
			cl.fail(err)
			return
		}
		cl.answer(Reply{Outcome: OK, Job: &view})
	})
}
