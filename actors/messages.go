package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/wire"
)

// Messages of the routes. Each route sends exactly one of them to one actor;
// the rest are the actors' own traffic.

// JobSpec is a validated POST /jobs request.
type JobSpec struct {
	Action      string
	Split       bool
	Merge       bool
	Inputs      []string // unit inputs, already encoded (core.UnitInput)
	Options     []byte   // a JSON object
	CallbackURL string
	Email       *string
}

// Report is a worker's PUT /work/:id.
type Report struct {
	Unit      int64
	Worker    string
	Actions   string // the worker's comma-separated actions, for the next unit
	Succeeded bool
	Output    []byte // the output: one valid JSON value (transport checks it)
	Time      float64
}

type (
	createJob struct { // POST /jobs -> directory
		spec JobSpec
		call call
	}
	getJob struct { // GET /jobs/:id -> directory -> job
		id   int64
		call call
	}
	deleteJob struct { // DELETE /jobs/:id -> directory -> job
		id   int64
		call call
	}
	dequeue struct { // POST /work -> dispatcher
		worker, actions string
		wait            int64 // ns to hold it when nothing is ready (long-poll)
		call            call
	}
	complete struct { // PUT /work/:id -> dispatcher -> job
		Report
		call call
		// The dispatcher chooses the worker's next unit before it passes
		// the report on to the unit's job.
		next    wire.WorkUnit
		hasNext bool
		// repeat: the report repeats the worker's last accepted one, which
		// the job has already recorded; it is answered as the first was.
		repeat bool
		// The job's event and what the journal's callback needs
		// (jobActor.finish); journaled is durable, bound once per waiter,
		// so that a report allocates neither event nor closure.
		ev        core.UnitFinished
		job       *jobActor
		outcome   *outcome
		seq       uint64
		journaled func(error)
	}
	checkIn struct { // PUT /worker -> registry
		name, threadStatus string
		interval           int64
		call               call
	}
	checkOut struct { // PUT /worker terminated=true -> registry -> dispatcher
		name string
		call call
	}
	workerUnit struct { // GET /worker/:name -> registry -> dispatcher
		name string
		unit int64
		call call
	}
	pauseAction struct { // POST /blacklist, DELETE /blacklist/:action -> dispatcher
		action string
		paused bool
		call   call
	}
	retryJob struct { // POST /console/jobs/:id/retry -> directory -> job
		id   int64
		call call
	}
)

func (m *createJob) replyTo() call   { return m.call }
func (m *getJob) replyTo() call      { return m.call }
func (m *deleteJob) replyTo() call   { return m.call }
func (m *dequeue) replyTo() call     { return m.call }
func (m *complete) replyTo() call    { return m.call }
func (m *checkIn) replyTo() call     { return m.call }
func (m *checkOut) replyTo() call    { return m.call }
func (m *workerUnit) replyTo() call  { return m.call }
func (m *pauseAction) replyTo() call { return m.call }
func (m *retryJob) replyTo() call    { return m.call }
func (m *toRegistry) replyTo() call  { return callOf(m.msg) }

// Traffic between the actors.
type (
	// lose tells a job that a unit's lease ended without a report.
	lose struct {
		unit   int64
		reason string
	}
	// enqueue gives the dispatcher new units of a job.
	enqueue struct {
		job   *core.QueueJob
		units []core.Ready
		lease *leaseFor // then lease a unit to this worker
	}
	// leaseFor asks the dispatcher to lease the worker its next unit
	// after queueing the new ones, and answer the worker's call with it.
	leaseFor struct {
		worker, actions string
		call            call
	}
	requeue struct { // a failed attempt, to run again after delay
		unit     int64
		attempts int
		delay    int64
	}
	settle  struct{ unit int64 } // a unit failed for good
	dropJob struct {             // a deleted job's units
		job   int64
		units []int64
		from  *actor.PID
	}
	jobDropped   struct{} // dispatcher -> job: nothing more will come from it
	jobForgotten struct{} // directory -> job: nothing more will come from it
	jobCompleted struct { // job -> itself, once its completion is durable
		seq uint64 // the completing event's
	}
	callbackSettled struct{} // job -> itself, once the settling is durable
	jobGone         struct { // job -> directory
		id   int64
		from *actor.PID
	}
	// A finished job leaves its actor (finishedJobs): the job tells the
	// dispatcher (finishJob) and the directory (jobFinished, with its
	// state), and stops once both let go of it.
	finishJob struct { // job -> dispatcher
		job  int64
		from *actor.PID
	}
	jobFinished struct { // job -> directory
		id         int64
		status     core.Status
		finishedAt int64
		state      []byte // persistence.AppendJob
		from       *actor.PID
	}
	forgetJob struct{ job int64 } // directory -> dispatcher: a finished job was deleted
	// finishedDeleted tells the directory that the deletion of a finished
	// job is durable, or failed.
	finishedDeleted struct {
		id         int64
		action     string
		finishedAt int64
		call       call // zero for retention's
		err        error
	}
	statusChanged struct { // job -> directory
		id     int64
		status core.Status
	}
	// activities tell the registry what workers did at the dispatcher,
	// in order (dispatcher.note).
	activities struct{ list []activity }
	// toRegistry asks the dispatcher to pass msg on to the registry once
	// the registry has every activity noted so far: a query or a
	// check-out that must see the worker's latest leases.
	toRegistry   struct{ msg any }
	recoverUnits struct { // registry -> dispatcher: a worker died
		worker string
		units  []int64
	}
	releaseUnits struct { // registry -> dispatcher: a worker checked out
		worker string
		units  []int64
	}
	giveBack struct { // job -> dispatcher: a next unit whose worker never heard of it
		worker string
		unit   int64
	}
	// endHolds ends held POST /work requests: a worker's, when it checks
	// out (registry -> dispatcher), or all of them, when the server drains.
	endHolds struct {
		worker   string
		draining bool
	}
	tick struct{}
)

// activity is what a worker did at the dispatcher.
type activity struct {
	worker   string
	at       int64
	released int64 // a unit it no longer holds, or 0
	leased   int64 // a unit it now holds, or 0
	status   core.Status
	held     bool // leased to a held request (long-poll)
}

// Status queries, answered on channels of their own.
type (
	listJobs struct {
		limit int
		reply chan jobList
	}
	jobList struct {
		ids    []int64
		total  int            // incomplete jobs
		counts map[string]int // jobs by status name
		// The jobs with an actor, and the bytes the finished ones take.
		actors        int
		finishedBytes int
	}
	listWorkers struct{ reply chan []wire.Worker }
	queueStats  struct{ reply chan core.QueueStats }
	viewJob     struct {
		reply chan wire.Job
	}
	allJobs struct{ reply chan jobSet }
	jobSet  struct {
		ids      []int64  // the jobs with actors
		finished [][]byte // the finished jobs' states, shared: read only
		lastJob  int64    // every job up to it is in ids or finished, or was deleted
	}
	// askJobs has the directory send msg to each job of ids it still has,
	// and answer for the others as a deleted job does (answerDeleted). A
	// query to every listed job goes this way: a job deleted after the
	// listing may have stopped, and a message sent to its actor straight
	// would be lost, and its asker left waiting.
	askJobs struct {
		ids []int64
		msg any
	}
	snapshotJob struct{ reply chan []byte } // the job's encoded state; nil once deleted
	listPaused  struct{ reply chan pauses }
	pauses      struct {
		list []core.Pause
		last int64 // the highest pause id given
	}
)
