package actors

import (
	"slices"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
)

// directory creates the job actors, finds them by id, and keeps the index of
// job statuses that /status reads.
type directory struct {
	c        *Coordinator
	index    *core.Index
	children map[int64]*actor.PID

	restored map[int64]*core.Job
	loaded   chan<- []*core.QueueJob
}

func (d *directory) Receive(ctx actor.Context) {
	defer d.c.guard(ctx)
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
		set := jobSet{ids: make([]int64, 0, len(d.children)), lastJob: d.c.ids.job.Load()}
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
	list := jobList{ids: slices.Clone(ids), total: total, counts: make(map[string]int)}
	for s := core.Processing; s <= core.Merging; s++ {
		list.counts[s.String()] = d.index.Count(s)
	}
	return list
}

// restore starts an actor for every job the journal held, in id order, and
// hands their queue entries to Start.
func (d *directory) restore(ctx actor.Context) {
	ids := make([]int64, 0, len(d.restored))
	for id := range d.restored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	jobs := make([]*core.QueueJob, 0, len(ids))
	for _, id := range ids {
		j := d.restored[id]
		pid := d.spawn(ctx, j.ID, &jobActor{c: d.c, job: j})
		d.index.Set(j.ID, j.Status)
		jobs = append(jobs, j.ForQueue(pid))
	}
	d.restored = nil
	d.loaded <- jobs
}

func (d *directory) spawn(ctx actor.Context, id int64, a *jobActor) *actor.PID {
	pid, err := ctx.SpawnNamed(d.c.props(func() actor.Actor { return a }), strconv.FormatInt(id, 10))
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

// forward sends msg to job id's actor, or answers it as a deleted job does
// when the directory has no such job.
func (d *directory) forward(ctx actor.Context, id int64, msg any) {
	if pid := d.children[id]; pid != nil {
		ctx.Send(pid, msg)
		return
	}
	answerDeleted(msg)
}
