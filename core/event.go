package core

// Event is a durable change of a job. Events are the only way a Job changes
// (see Job.Apply), and they carry every outside fact the change depends on
// (ids, times, limits), so that replay rebuilds exactly the same state.
//
// Each event carries its place in its job's history (JobSeq: 1 for
// JobCreated, then 2, 3, ...). A job applies only the event that follows the
// last one it applied, so replaying a log over a snapshot skips what the
// snapshot already holds, and a gap is detected, not silently applied.
type Event interface {
	JobID() int64
	JobSeq() uint64
}

// JobCreated starts a job. Its units get the ids FirstUnit, FirstUnit+1, ...
// in input order.
type JobCreated struct {
	Job         int64
	Action      string
	Split       bool // the action splits: the units are splitting units
	Merge       bool
	Inputs      []string
	Options     []byte // a JSON object
	CallbackURL string
	Email       *string
	MaxAttempts int   // work_unit_retries when the job was created
	FirstUnit   int64 // first unit id
	At          int64 // creation time, Unix nanoseconds
}

// UnitFinished records a worker's report of one attempt.
type UnitFinished struct {
	Job       int64
	Seq       uint64
	Unit      int64
	Succeeded bool
	Output    []byte  // the JSON value the worker reported
	Time      float64 // seconds the worker spent
	Worker    string  // who reported it
	FirstNew  int64   // a successful split: the id of the first unit it makes
	At        int64

	// inputs is Finish's parse of a split's Output, so that Apply does not
	// parse it again; not journaled (a replay parses).
	inputs []string
}

// UnitLost records that a unit's lease ended without a report (its worker
// died or it ran past unit_timeout): it counts as an attempt.
type UnitLost struct {
	Job    int64
	Seq    uint64
	Unit   int64
	Reason string
	At     int64
}

// JobDeleted removes a job.
type JobDeleted struct {
	Job int64
	Seq uint64
}

// CallbackSettled records that a job's completion callback needs no more
// tries: delivered, or given up after callback_retries.
type CallbackSettled struct {
	Job       int64
	Seq       uint64
	Delivered bool
}

// UnitsRetried runs a failed job's failed units again.
type UnitsRetried struct {
	Job int64
	Seq uint64
	At  int64
}

// ActionPaused pauses an action (CloudCrowd's blacklist) or, with Paused
// false, resumes it. It belongs to no job: JobID and JobSeq are 0.
type ActionPaused struct {
	Action string
	Paused bool
	ID     int64 // the pause's id, as GET /blacklist shows it
	At     int64
}

func (e *JobCreated) JobID() int64      { return e.Job }
func (e *UnitFinished) JobID() int64    { return e.Job }
func (e *UnitLost) JobID() int64        { return e.Job }
func (e *JobDeleted) JobID() int64      { return e.Job }
func (e *CallbackSettled) JobID() int64 { return e.Job }
func (e *UnitsRetried) JobID() int64    { return e.Job }
func (e *ActionPaused) JobID() int64    { return 0 }

func (e *JobCreated) JobSeq() uint64      { return 1 }
func (e *UnitFinished) JobSeq() uint64    { return e.Seq }
func (e *UnitLost) JobSeq() uint64        { return e.Seq }
func (e *JobDeleted) JobSeq() uint64      { return e.Seq }
func (e *CallbackSettled) JobSeq() uint64 { return e.Seq }
func (e *UnitsRetried) JobSeq() uint64    { return e.Seq }
func (e *ActionPaused) JobSeq() uint64    { return 0 }
