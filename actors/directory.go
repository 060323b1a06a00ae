package actors

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// directory creates the job actors, finds them by id, keeps the finished
// jobs (finishedJobs) and answers for them, and keeps the index of job
// statuses that /status reads.
type directory struct {
	c        *Coordinator
	index    *core.Index
	children map[int64]*actor.PID
	finished *finishedJobs
	deleting map[int64]struct{} // finished jobs whose deletion is on its way to disk
	revivals int                // finished jobs that got an actor again
	sweeping sweep              // retention

	restored         map[int64]*core.Job
	restoredFinished map[int64][]byte
	loaded           chan<- []*core.QueueJob
}

func (d *directory) Receive(ctx actor.Context) {
	defer d.c.guard(ctx, callOf(ctx.Message()))
	switch m := ctx.Message().(type) {
	case *actor.Started:
		d.restore(ctx)
	case *createJob:
		d.create(ctx, m)
	case *getJob:
		d.forward(ctx, m.id, m)
	case *deleteJob:
		d.forward(ctx, m.id, m)
	case *retryJob:
		d.forward(ctx, m.id, m)
	case *jobDetail:
		d.forward(ctx, m.id, m)
	case *askJobs:
		for _, id := range m.ids {
			d.forward(ctx, id, m.msg)
		}
	case *jobFinished:
		delete(d.children, m.id)
		d.finished.add(m.id, m.state)
		d.index.Set(m.id, m.status)
		d.sweeping.expiry.Add(m.id, m.finishedAt)
		ctx.Send(m.from, jobForgotten{})
	case *finishedDeleted:
		d.finishedDeleted(ctx, m)
	case tick:
		d.sweep(ctx)
	case *cleanup:
		d.sweeping.cleanups = append(d.sweeping.cleanups, m)
		d.sweep(ctx)
	case cleanupDone:
		d.sweeping.removing = false
		d.sweep(ctx)
	case *statusChanged:
		if _, ok := d.children[m.id]; ok {
			d.index.Set(m.id, m.status)
		}
	case *jobGone:
		delete(d.children, m.id)
		d.index.Remove(m.id)
		ctx.Send(m.from, jobForgotten{})
	case *allJobs:
		// The directory alone gives job ids, and spawns the job at once:
		// the counter read here matches the children.
		// A finished job whose deletion is on its way to disk is left out:
		// its record may come before the snapshot's place in the log, and
		// would not be replayed over it.
		deleting := func(id int64) bool { _, ok := d.deleting[id]; return ok }
		set := jobSet{ids: make([]int64, 0, len(d.children)), finished: d.finished.all(deleting), lastJob: d.c.ids.job.Load()}
		for id := range d.children {
			set.ids = append(set.ids, id)
		}
		m.reply <- set
	case *listJobs:
		ids, total := d.index.Incomplete(m.limit)
		m.reply <- d.list(ids, total)
	case *pageJobs:
		ids, total := d.index.Page(m.filter, m.offset, m.limit)
		m.reply <- d.list(ids, total)
	}
}

// list answers the jobs ids with the counts by status.
func (d *directory) list(ids []int64, total int) jobList {
	// ids may share the index's array, which the next query rewrites.
	list := jobList{ids: slices.Clone(ids), total: total, counts: make(map[string]int),
		actors: len(d.children), finishedBytes: d.finished.bytes}
	for s := core.Processing; s <= core.Merging; s++ {
		list.counts[s.String()] = d.index.Count(s)
	}
	return list
}

// restore starts an actor for every active job the journal held and
// stores the finished ones, in id order, and hands the active jobs' queue
// entries to Start.
func (d *directory) restore(ctx actor.Context) {
	ids := make([]int64, 0, len(d.restored)+len(d.restoredFinished))
	for id := range d.restored {
		ids = append(ids, id)
	}
	for id := range d.restoredFinished {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	jobs := make([]*core.QueueJob, 0, len(d.restored))
	type finishedAt struct{ at, id int64 }
	expiring := make([]finishedAt, 0, len(d.restoredFinished))
	for _, id := range ids {
		if enc, ok := d.restoredFinished[id]; ok {
			h := headOf(id, enc)
			d.finished.add(id, enc)
			d.index.Set(id, h.Status)
			expiring = append(expiring, finishedAt{at: h.FinishedAt, id: id})
			continue
		}
		j := d.restored[id]
		pid := d.spawn(ctx, j.ID, &jobActor{c: d.c, job: j})
		d.index.Set(j.ID, j.Status)
		jobs = append(jobs, j.ForQueue(pid, false))
	}
	slices.SortFunc(expiring, func(a, b finishedAt) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	for _, e := range expiring {
		d.sweeping.expiry.Add(e.id, e.at)
	}
	d.restored, d.restoredFinished = nil, nil
	d.loaded <- jobs
}

func (d *directory) spawn(ctx actor.Context, id int64, a *jobActor) *actor.PID {
	return d.spawnNamed(ctx, id, strconv.FormatInt(id, 10), a)
}

func (d *directory) spawnNamed(ctx actor.Context, id int64, name string, a *jobActor) *actor.PID {
	pid, err := ctx.SpawnNamed(d.c.props(func() actor.Actor { return a }), name)
	if err != nil {
		panic(err) // ids are never reused, so a clash is a bug
	}
	d.children[id] = pid
	return pid
}

func (d *directory) create(ctx actor.Context, m *createJob) {
	s := &m.spec
	id := d.c.ids.NewJob()
	ev := &core.JobCreated{
		Job: id, Action: s.Action, Split: s.Split, Merge: s.Merge,
		Inputs: s.Inputs, Options: s.Options, CallbackURL: s.CallbackURL, Email: s.Email,
		MaxAttempts: d.c.set.WorkUnitRetries, At: d.c.now(),
	}
	if n := len(s.Inputs); n > 0 {
		ev.FirstUnit = d.c.ids.NewUnits(n)
	}
	// The index learns of the job from the job, once its creation is
	// durable (statusChanged): /status never counts a job a crash could
	// take back.
	d.spawn(ctx, id, &jobActor{c: d.c, created: ev, createCall: m.call})
}

// forward sends msg to job id's actor, answers it for a finished job, or
// answers it as a deleted job does when the directory has no such job.
func (d *directory) forward(ctx actor.Context, id int64, msg any) {
	if pid := d.children[id]; pid != nil {
		ctx.Send(pid, msg)
		return
	}
	if enc, ok := d.finished.get(id); ok {
		if _, deleting := d.deleting[id]; deleting && changes(msg) {
			answerDeleted(msg) // as the job actor answers once its job is deleted
			return
		}
		d.answerFinished(ctx, id, enc, msg)
		return
	}
	answerDeleted(msg)
}

// answerFinished answers msg about a finished job from its stored state.
// A deletion is journaled by the directory itself; a retry gives the job
// an actor again, which runs it.
func (d *directory) answerFinished(ctx actor.Context, id int64, enc []byte, msg any) {
	switch m := msg.(type) {
	case *snapshotJob:
		m.reply <- enc
		return
	case *deleteJob:
		d.deleteFinished(ctx, headOf(id, enc), m.call)
		return
	}
	st, err := persistence.DecodeJob(enc)
	if err != nil {
		panic(fmt.Errorf("finished job %d does not decode: %w", id, err)) // it was encoded here
	}
	j, now := core.RestoreJob(st), d.c.now()
	switch m := msg.(type) {
	case *getJob:
		view := j.View(now)
		m.call.answer(Reply{Outcome: OK, Job: &view})
	case *viewJob:
		m.reply <- j.View(now)
	case *consoleJob:
		m.reply <- consoleView(j, now, false)
	case *jobDetail:
		m.reply <- detailView(j, now, m.offset, m.limit)
	case *retryJob:
		d.finished.remove(id)
		d.revivals++
		name := strconv.FormatInt(id, 10) + "." + strconv.Itoa(d.revivals) // its last actor may not have stopped yet
		ctx.Send(d.spawnNamed(ctx, id, name, &jobActor{c: d.c, job: j, revived: true}), m)
	default:
		panic(fmt.Sprintf("directory: %T for a finished job", msg))
	}
}

// deleteFinished journals the deletion of a finished job (h is its head);
// the job goes once that is durable (finishedDeleted). Until then, reads
// still show it, and a second delete or a retry is answered as for a
// deleted job. A zero cl is retention's (retention.go).
func (d *directory) deleteFinished(ctx actor.Context, h persistence.JobHead, cl call) {
	d.deleting[h.ID] = struct{}{}
	self, root := ctx.Self(), d.c.sys.Root
	done := &finishedDeleted{id: h.ID, action: h.Action, finishedAt: h.FinishedAt, call: cl}
	d.c.journal.Append(&core.JobDeleted{Job: h.ID, Seq: h.Seq + 1}, func(err error) {
		done.err = err
		root.Send(self, done)
	})
}

func (d *directory) finishedDeleted(ctx actor.Context, m *finishedDeleted) {
	delete(d.deleting, m.id)
	if m.err != nil {
		d.c.log.Error("journal append failed", "job", m.id, "err", m.err)
	} else {
		d.finished.remove(m.id)
		d.index.Remove(m.id)
		ctx.Send(d.c.dispatcher, &forgetJob{job: m.id})
	}
	switch {
	case m.call.isZero():
		d.swept(ctx, m)
	case m.err != nil:
		m.call.fail(m.err)
	default:
		if remove := d.c.set.RemoveFiles; remove != nil {
			go remove(m.action, m.id) // files are slow to delete; the job is gone already
		}
		m.call.answer(Reply{Outcome: NoContent})
	}
}
