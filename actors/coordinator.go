package actors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/wire"
)

// Settings are the coordinator's rules and limits.
type Settings struct {
	WorkUnitRetries int           // total attempts per unit
	RetryBackoff    time.Duration // wait after the first failed attempt, doubling
	WorkerTimeout   time.Duration // a worker silent this long is dead
	UnitTimeout     time.Duration // a unit held this long is taken back; 0 = never
	RepeatWindow    time.Duration // a repeat of a worker's last report is answered as the first was for this long
	JobRetention    time.Duration // finished jobs are deleted this long after they finished; 0 = kept
	CallbackRetries int           // tries per completion callback
	CallbackTimeout time.Duration // per try
	CallbackBackoff time.Duration // wait before the second try, doubling
	RequestTimeout  time.Duration // how long a request may wait for the actors
	StatusJobs      int           // jobs listed by /status at most
	Logger          *slog.Logger
	Now             func() time.Time // the clock; time.Now when nil
	// RemoveFiles, when set, deletes a deleted job's stored files.
	RemoveFiles func(action string, job int64)
}

// DefaultRepeatWindow is how long a repeat of a worker's last report is
// recognised: far longer than any worker waits before it sends a report
// again (crowd's own backs off to 30 s, CloudCrowd 0.1's retries every
// 5 s), and the memory it costs is one record per worker.
const DefaultRepeatWindow = 10 * time.Minute

func (s *Settings) defaults() {
	s.WorkUnitRetries = max(s.WorkUnitRetries, 1)
	s.CallbackRetries = max(s.CallbackRetries, 1)
	if s.WorkerTimeout <= 0 {
		s.WorkerTimeout = 120 * time.Second
	}
	if s.RepeatWindow <= 0 {
		s.RepeatWindow = DefaultRepeatWindow
	}
	if s.CallbackTimeout <= 0 {
		s.CallbackTimeout = 30 * time.Second
	}
	if s.CallbackBackoff <= 0 {
		s.CallbackBackoff = time.Second
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 30 * time.Second
	}
	if s.StatusJobs <= 0 {
		s.StatusJobs = 1000
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// Coordinator is a running coordinator. Its methods are the routes: each
// sends one message and waits for the answer.
type Coordinator struct {
	set     Settings
	log     *slog.Logger
	sys     *actor.ActorSystem
	journal persistence.Journal
	ids     *idCounter
	rules   core.Rules

	directory, dispatcher, registry *actor.PID

	callbackClient *http.Client
	waiters        waiters
	pool           *pool
	counters       Counters
	history        history

	stopTicks chan struct{}
	ticks     sync.WaitGroup
}

// Start starts a coordinator over state, which Load or Restore rebuilt from
// a data dir or a journal (nil for an empty coordinator); it replays
// nothing itself.
func Start(set Settings, journal persistence.Journal, state *State) (*Coordinator, error) {
	set.defaults()
	if state == nil {
		state = NewState()
	}
	c := &Coordinator{
		set:       set,
		log:       set.Logger,
		journal:   journal,
		ids:       &idCounter{},
		rules:     core.Rules{RetryBackoff: int64(set.RetryBackoff)},
		stopTicks: make(chan struct{}),
		pool:      newPool(2*runtime.GOMAXPROCS(0), 300),

		callbackClient: &http.Client{Timeout: set.CallbackTimeout},
	}
	c.ids.job.Store(state.LastJob)
	c.ids.unit.Store(state.LastUnit)
	quiet := slog.New(warnOnly{set.Logger.With("lib", "protoactor").Handler()})
	c.sys = actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }),
		actor.WithDeadLetterRequestLogging(false),
		actor.WithDeadLetterThrottleCount(1),
		actor.WithDeadLetterThrottleInterval(10*time.Second),
	)
	// The producers below keep what they capture as long as the actors
	// live: they capture these, which are let go of once started.
	paused, lastPause := state.Paused, state.LastPause
	restored, finished := state.Jobs, state.Finished
	var err error
	if c.dispatcher, err = c.spawn("dispatcher", func() actor.Actor {
		d := &dispatcher{c: c, queue: core.NewQueue(int64(set.UnitTimeout), int64(set.RepeatWindow)), nextPause: lastPause}
		for _, p := range paused {
			d.queue.SetPaused(p, true)
			d.nextPause = max(d.nextPause, p.ID)
		}
		return d
	}); err != nil {
		return nil, err
	}
	if c.registry, err = c.spawn("registry", func() actor.Actor {
		return &registry{c: c, reg: core.NewRegistry(int64(set.WorkerTimeout))}
	}); err != nil {
		return nil, err
	}
	loaded := make(chan []*core.QueueJob, 1)
	if c.directory, err = c.spawn("jobs", func() actor.Actor {
		return &directory{c: c, index: core.NewIndex(), children: make(map[int64]*actor.PID),
			finished: newFinishedJobs(), deleting: make(map[int64]struct{}),
			restored: restored, restoredFinished: finished, loaded: loaded}
	}); err != nil {
		return nil, err
	}
	// The restored jobs' units go to the dispatcher in id order, before any
	// request can reach it.
	jobs := <-loaded
	for _, qj := range jobs {
		c.sys.Root.Send(c.dispatcher, &enqueue{job: qj, units: restored[qj.ID].Incomplete()})
	}
	restored, finished = nil, nil
	if len(state.removed) > 0 {
		go c.removeFiles(state.removed)
	}
	c.tickEvery(c.dispatcher, 100*time.Millisecond)
	// The registry ticks after the dispatcher's (dispatcher.receive).
	c.tickEvery(c.directory, sweepInterval)
	c.every(time.Second, c.sample)
	c.every(waiterTick, c.waiters.expire)
	return c, nil
}

// spawn starts a top-level actor. Actors keep their state when a message
// panics (see guard).
func (c *Coordinator) spawn(name string, producer actor.Producer) (*actor.PID, error) {
	pid, err := c.sys.Root.SpawnNamed(c.props(producer), name)
	if err != nil {
		return nil, fmt.Errorf("actors: spawn %s: %w", name, err)
	}
	return pid, nil
}

func (c *Coordinator) props(producer actor.Producer) *actor.Props {
	return actor.PropsFromProducer(producer, actor.WithDispatcher(c.pool))
}

// guard is deferred by every actor's Receive, with the call of the
// message (callOf): it recovers a panic, answers the request that caused it
// with an internal error, and logs it with its stack. The actor keeps
// running with its state: a panic is a bug, and losing every job of the
// process would be worse than one bad answer. The call is taken before the
// message is handled: a message answered before the panic may already
// serve another request (the waiter's messages), and the call taken
// before names the generation answered, whose second answer is dropped.
// (A receiver middleware would do the same, at an allocation per message.)
func (c *Coordinator) guard(ctx actor.Context, cl call) {
	v := recover()
	if v == nil {
		return
	}
	c.log.Error("actor panic", "actor", ctx.Self().Id, "message", fmt.Sprintf("%T", ctx.Message()),
		"panic", v, "stack", string(debug.Stack()))
	cl.internal()
}

// callOf is the call of a request, or no call.
func callOf(msg any) call {
	if r, ok := msg.(request); ok {
		return r.replyTo()
	}
	return call{}
}

func (c *Coordinator) tickEvery(pid *actor.PID, d time.Duration) {
	c.every(d, func() { c.sys.Root.Send(pid, tick{}) })
}

// every runs f every d until Stop.
func (c *Coordinator) every(d time.Duration, f func()) {
	c.ticks.Add(1)
	go func() {
		defer c.ticks.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-c.stopTicks:
				return
			}
		}
	}()
}

func (c *Coordinator) now() int64 { return c.set.Now().UnixNano() }

// Stop stops the actors after they have handled the messages already sent
// to them. The caller stops HTTP first and closes the journal after.
func (c *Coordinator) Stop(ctx context.Context) error {
	close(c.stopTicks)
	c.ticks.Wait()
	for _, pid := range []*actor.PID{c.directory, c.dispatcher, c.registry} {
		if err := c.sys.Root.PoisonFuture(pid).Wait(); err != nil {
			return fmt.Errorf("actors: stop %s: %w", pid.Id, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	c.sys.Shutdown()
	c.pool.stop()
	return nil
}

func (c *Coordinator) ask(pid *actor.PID, msg any, cl call) Reply {
	c.sys.Root.Send(pid, msg)
	return cl.wait(c.set.RequestTimeout)
}

// CreateJob is POST /jobs.
func (c *Coordinator) CreateJob(spec JobSpec) Reply {
	cl := c.waiters.call()
	return c.ask(c.directory, &createJob{spec: spec, call: cl}, cl)
}

// Job is GET /jobs/:id.
func (c *Coordinator) Job(id int64) Reply {
	cl := c.waiters.call()
	return c.ask(c.directory, &getJob{id: id, call: cl}, cl)
}

// DeleteJob is DELETE /jobs/:id.
func (c *Coordinator) DeleteJob(id int64) Reply {
	cl := c.waiters.call()
	return c.ask(c.directory, &deleteJob{id: id, call: cl}, cl)
}

// Dequeue is POST /work.
func (c *Coordinator) Dequeue(worker, actions string) Reply { return c.DequeueWait(worker, actions, 0) }

// DequeueWait is POST /work with a wait (long-poll): when no unit is
// ready, the request is held until one is, the wait ends (NoContent), a
// pause of one of its actions or the worker's check-out ends it
// (NoContent), or the server drains (Unavailable, ErrDraining).
func (c *Coordinator) DequeueWait(worker, actions string, wait time.Duration) Reply {
	cl := c.waiters.call()
	m := &cl.w.dequeue
	*m = dequeue{worker: worker, actions: actions, wait: int64(wait), call: cl}
	c.sys.Root.Send(c.dispatcher, m)
	return cl.wait(c.set.RequestTimeout + wait)
}

// ErrDraining answers the held POST /work requests when the server drains.
var ErrDraining = errors.New("the coordinator is shutting down; try again shortly")

// Drain ends every held POST /work with ErrDraining; the server calls it
// when it stops taking work.
func (c *Coordinator) Drain() { c.sys.Root.Send(c.dispatcher, &endHolds{draining: true}) }

// Complete is PUT /work/:id.
func (c *Coordinator) Complete(r Report) Reply {
	cl := c.waiters.call()
	m := &cl.w.report
	*m = complete{Report: r, call: cl, journaled: m.journaled}
	return c.ask(c.dispatcher, m, cl)
}

// CheckIn is PUT /worker; interval is the check-in interval the worker
// declares (0 if none).
func (c *Coordinator) CheckIn(name, threadStatus string, interval time.Duration) Reply {
	cl := c.waiters.call()
	return c.ask(c.registry, &checkIn{name: name, threadStatus: threadStatus, interval: int64(interval), call: cl}, cl)
}

// CheckOut is PUT /worker with terminated=true.
func (c *Coordinator) CheckOut(name string) Reply {
	cl := c.waiters.call()
	return c.ask(c.dispatcher, &toRegistry{&checkOut{name: name, call: cl}}, cl)
}

// Pause is POST /blacklist (paused) and DELETE /blacklist/:action (not):
// a paused action's units are not handed out.
func (c *Coordinator) Pause(action string, paused bool) Reply {
	cl := c.waiters.call()
	return c.ask(c.dispatcher, &pauseAction{action: action, paused: paused, call: cl}, cl)
}

// Paused is GET /blacklist: the paused actions, oldest first.
func (c *Coordinator) Paused() ([]wire.Pause, error) {
	m := &listPaused{reply: make(chan pauses, 1)}
	c.sys.Root.Send(c.dispatcher, m)
	ps, err := await(c, m.reply)
	if err != nil {
		return nil, err
	}
	views := make([]wire.Pause, len(ps.list))
	for i, p := range ps.list {
		views[i] = pauseView(p)
	}
	return views, nil
}

// RetryJob is the console's retry button: a failed job's failed units run
// again.
func (c *Coordinator) RetryJob(id int64) Reply {
	cl := c.waiters.call()
	return c.ask(c.directory, &retryJob{id: id, call: cl}, cl)
}

// WorkerUnit is GET /worker/:name: the unit the worker holds, if any.
func (c *Coordinator) WorkerUnit(name string) Reply {
	cl := c.waiters.call()
	return c.ask(c.dispatcher, &toRegistry{&workerUnit{name: name, call: cl}}, cl)
}

// Status is GET /status. It asks the directory for the incomplete jobs, then
// every listed job, through the directory, for its view.
func (c *Coordinator) Status() (wire.Status, error) {
	var v wire.Status
	lj := &listJobs{limit: c.set.StatusJobs, reply: make(chan jobList, 1)}
	c.sys.Root.Send(c.directory, lj)
	list, err := await(c, lj.reply)
	if err != nil {
		return v, err
	}
	v.JobCount, v.JobsByStatus = list.total, list.counts
	views := make(chan wire.Job, len(list.ids))
	c.sys.Root.Send(c.directory, &askJobs{ids: list.ids, msg: &viewJob{reply: views}})
	for range list.ids {
		j, err := await(c, views)
		if err != nil {
			return v, err
		}
		if j.ID != 0 { // 0: deleted meanwhile
			v.Jobs = append(v.Jobs, j)
		}
	}
	slices.SortFunc(v.Jobs, func(a, b wire.Job) int { return cmp.Compare(a.ID, b.ID) })
	lw := &listWorkers{reply: make(chan []wire.Worker, 1)}
	c.sys.Root.Send(c.dispatcher, &toRegistry{lw})
	if v.Workers, err = await(c, lw.reply); err != nil {
		return v, err
	}
	q, err := c.queueStats()
	if err != nil {
		return v, err
	}
	v.WorkUnitCount = q.Incomplete
	v.Units = wire.UnitCounts{Ready: q.Ready, Leased: q.Leased, Waiting: q.Waiting}
	return v, nil
}

// warnOnly keeps protoactor's informational lines ("actor system started")
// out of the coordinator's log.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}
