package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/wire"
)

// registry owns the worker registry: liveness, and the units each worker
// holds. Its timer finds dead workers and has the dispatcher take their
// units back.
type registry struct {
	c   *Coordinator
	reg *core.Registry
}

func (r *registry) Receive(ctx actor.Context) {
	defer r.c.guard(ctx, callOf(ctx.Message()))
	switch m := ctx.Message().(type) {
	case *activities:
		for i := range m.list {
			r.record(ctx, &m.list[i])
		}
	case *checkIn:
		r.reg.CheckIn(m.name, m.threadStatus, m.interval, r.c.now())
		m.call.answer(Reply{Outcome: NoContent})
	case *checkOut:
		// Its held requests end first, so that none takes a unit given back.
		ctx.Send(r.c.dispatcher, &endHolds{worker: m.name})
		if units := r.reg.CheckOut(m.name); len(units) > 0 {
			ctx.Send(r.c.dispatcher, &releaseUnits{worker: m.name, units: units})
		}
		m.call.answer(Reply{Outcome: NoContent})
	case *workerUnit:
		var ok bool
		if w := r.reg.Worker(m.name); w != nil {
			m.unit, ok = w.CurrentUnit()
		}
		if !ok {
			m.call.answer(Reply{Outcome: NoContent})
			return
		}
		ctx.Send(r.c.dispatcher, m)
	case *listWorkers:
		alive := r.reg.Alive(r.c.now())
		list := make([]wire.Worker, len(alive))
		for i, w := range alive {
			list[i].Name = w.Name
			if len(w.Units) > 0 {
				list[i].Status = w.UnitStatus.String()
			}
		}
		m.reply <- list
	case *workerDetails:
		alive := r.reg.Alive(r.c.now())
		copies := make([]*core.Worker, len(alive))
		for i, w := range alive {
			cp := *w
			cp.Units = append([]int64(nil), w.Units...)
			copies[i] = &cp
		}
		m.reply <- copies
	case tick:
		for _, dead := range r.reg.Expire(r.c.now()) {
			r.c.log.Warn("worker stopped checking in; taking back its units", "worker", dead.Name, "units", len(dead.Units))
			if len(dead.Units) > 0 {
				ctx.Send(r.c.dispatcher, &recoverUnits{worker: dead.Name, units: dead.Units})
			}
		}
	}
}

// record takes in what a worker did at the dispatcher.
func (r *registry) record(ctx actor.Context, a *activity) {
	if a.held && r.reg.Worker(a.worker) == nil {
		// Its worker checked out (or died) while the request was held: the
		// unit goes back.
		ctx.Send(r.c.dispatcher, &giveBack{worker: a.worker, unit: a.leased})
		return
	}
	if a.at != 0 {
		r.reg.Seen(a.worker, a.at)
	}
	if a.released != 0 {
		r.reg.Drop(a.worker, a.released)
	}
	if a.leased != 0 {
		r.reg.Hold(a.worker, a.leased, a.status, a.at)
	}
}
