package core

import (
	"errors"
	"sort"
	"strconv"

	"github.com/documentcloud/crowd/wire"
)

// Errors a Job's decisions return. Transport maps them to 404 and 409.
var (
	ErrUnknownUnit  = errors.New("no such work unit")
	ErrUnitComplete = errors.New("work unit is already complete")
	ErrJobDeleted   = errors.New("job was deleted")
	ErrOutOfOrder   = errors.New("event does not follow the job's last event")
	ErrNoFailures   = errors.New("job has no failed units to retry")
)

// IDs hands out unit ids; the shell owns the counter so that ids stay unique
// across jobs and restarts. Decisions record the ids they got in their event.
type IDs interface {
	// NewUnits reserves n consecutive ids and returns the first.
	NewUnits(n int) int64
}

// Rules are the settings that shape decisions but are not part of a job's
// durable state.
type Rules struct {
	RetryBackoff int64 // nanoseconds; the first retry waits this long, doubling each time
}

// maxBackoff caps the wait before a retry.
const maxBackoff = 60e9

// Backoff is how long a unit waits after its n-th failed attempt.
func (r Rules) Backoff(attempt int) int64 {
	if r.RetryBackoff <= 0 || attempt < 1 {
		return 0
	}
	d := r.RetryBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// Unit is one work unit of a job.
type Unit struct {
	ID       int64
	Input    string
	Status   Status // its phase while incomplete, then Succeeded or Failed
	Attempts int
	Time     float64  // seconds the last reported attempt took
	Worker   string   // who reported the last attempt
	Output   []byte   // JSON value; kept for the final attempt only
	Errors   []string // the outputs of its failed attempts (JSON), the last maxErrors
	// A split unit's children are the job's units [First, End), in split order.
	First, End int32
}

// maxErrors bounds the failed attempts a unit remembers for the console.
const maxErrors = 10

// Ready describes a unit the dispatcher should queue.
type Ready struct {
	ID       int64
	Input    string
	Status   Status
	Attempts int
}

// Retry asks the dispatcher to queue a failed unit again, after the
// back-off its attempts call for (Rules.Backoff).
type Retry struct {
	Unit     int64
	Attempts int
}

// Effects is what an applied event asks of the world outside the job.
type Effects struct {
	Ready     []Ready // new units, in order
	Retry     *Retry  // a failed attempt to run again
	Settled   int64   // a unit whose failure was final: the dispatcher can forget it
	Changed   bool    // the job's status changed
	Completed bool    // the job just reached Succeeded or Failed
	Deleted   bool    // the job was deleted
	Drop      []int64 // with Deleted: its incomplete units
}

// Empty reports whether the effects ask for nothing.
func (fx *Effects) Empty() bool {
	return len(fx.Ready) == 0 && fx.Retry == nil && fx.Settled == 0 && !fx.Changed && !fx.Completed && !fx.Deleted
}

// CallbackState tracks a job's completion callback.
type CallbackState uint8

const (
	CallbackNone    CallbackState = iota // no callback_url, or not complete yet
	CallbackPending                      // complete, not yet delivered
	CallbackDone                         // delivered, or given up
)

// IDRange maps a run of consecutive unit ids to their place in the job's
// units.
type IDRange struct {
	First int64
	Index int32
	N     int32
}

// Job is one job's state: its units in all phases and its outputs.
type Job struct {
	ID          int64
	Action      string
	Split       bool
	Merge       bool
	Options     []byte
	CallbackURL string
	Email       *string
	MaxAttempts int
	CreatedAt   int64
	Color       string

	Status     Status
	FinishedAt int64
	Outputs    []byte // the JSON array of outputs, once complete
	Callback   CallbackState
	Deleted    bool
	Seq        uint64 // the JobSeq of the last event applied

	// units holds the splitting units first (one per input), then the
	// processing units in creation order, then the merging unit.
	units     []Unit
	ranges    []IDRange
	splits    int // number of splitting units
	splitDone int
	procTotal int
	procDone  int
	failed    bool // some unit failed for good
}

// NewJob builds a job from its creation event.
func NewJob(ev *JobCreated) (*Job, Effects) {
	j := &Job{
		ID:          ev.Job,
		Action:      ev.Action,
		Split:       ev.Split,
		Merge:       ev.Merge,
		Options:     ev.Options,
		CallbackURL: ev.CallbackURL,
		Email:       ev.Email,
		MaxAttempts: max(ev.MaxAttempts, 1),
		CreatedAt:   ev.At,
		Color:       wire.Color(ev.Job),
		Status:      Processing,
		Seq:         1,
	}
	phase := Processing
	if ev.Split {
		phase, j.Status = Splitting, Splitting
		j.splits = len(ev.Inputs)
	} else {
		j.procTotal = len(ev.Inputs)
	}
	fx := Effects{Changed: true} // from no job at all
	fx.Ready = j.addUnits(ev.FirstUnit, ev.Inputs, phase)
	if len(ev.Inputs) == 0 {
		j.complete(Succeeded, ev.At, &fx)
	}
	return j, fx
}

// ForQueue is what the dispatcher's queue keeps of j; owner answers for
// its units. owned says the queue has recorded the job's units already: a
// finished job that runs again (a retry) in the process it finished in.
func (j *Job) ForQueue(owner any, owned bool) *QueueJob {
	qj := &QueueJob{ID: j.ID, Action: j.Action, Options: j.Options, Owner: owner}
	if owned {
		qj.lastUnit = j.LastUnit()
	}
	return qj
}

func (j *Job) addUnits(first int64, inputs []string, phase Status) []Ready {
	if len(inputs) == 0 {
		return nil
	}
	j.ranges = append(j.ranges, IDRange{First: first, Index: int32(len(j.units)), N: int32(len(inputs))})
	ready := make([]Ready, len(inputs))
	for i, in := range inputs {
		id := first + int64(i)
		j.units = append(j.units, Unit{ID: id, Input: in, Status: phase})
		ready[i] = Ready{ID: id, Input: in, Status: phase}
	}
	return ready
}

// unit finds a unit by id: ranges are few (one, plus one per split) and
// sorted, since ids only grow.
func (j *Job) unit(id int64) (*Unit, int) {
	k := sort.Search(len(j.ranges), func(i int) bool { return j.ranges[i].First > id }) - 1
	if k < 0 {
		return nil, -1
	}
	r := j.ranges[k]
	if id >= r.First+int64(r.N) {
		return nil, -1
	}
	i := int(r.Index) + int(id-r.First)
	return &j.units[i], i
}

// Phase is the phase the i-th unit of Units belongs to.
func (j *Job) Phase(i int) Status { return j.kind(i) }

// kind is the phase a unit belongs to, whether or not it is complete.
func (j *Job) kind(i int) Status {
	switch {
	case i < j.splits:
		return Splitting
	case i == j.splits+j.procTotal: // after every processing unit: the merge unit
		return Merging
	}
	return Processing
}

// Finish decides on a worker's report. It returns the event to journal and
// apply, or an error that changes nothing. The event is a value, so that
// the caller can keep it where it already has memory (the hot path
// allocates none).
func (j *Job) Finish(unit int64, succeeded bool, output []byte, secs float64, now int64, ids IDs) (UnitFinished, error) {
	u, i, err := j.incomplete(unit)
	if err != nil {
		return UnitFinished{}, err
	}
	ev := UnitFinished{Job: j.ID, Seq: j.Seq + 1, Unit: unit, Succeeded: succeeded, Output: output, Time: secs, At: now}
	children := 0
	if succeeded && j.kind(i) == Splitting {
		inputs, err := SplitInputs(output)
		if err != nil {
			return UnitFinished{}, err
		}
		children, ev.inputs = len(inputs), inputs
	}
	n := children
	if j.mergesAfter(u, i, succeeded, children) {
		n++
	}
	if n > 0 {
		ev.FirstNew = ids.NewUnits(n)
	}
	return ev, nil
}

// Lose decides that a unit's lease ended without a report.
func (j *Job) Lose(unit int64, reason string, now int64) (*UnitLost, error) {
	if _, _, err := j.incomplete(unit); err != nil {
		return nil, err
	}
	return &UnitLost{Job: j.ID, Seq: j.Seq + 1, Unit: unit, Reason: reason, At: now}, nil
}

// Delete decides to delete the job.
func (j *Job) Delete() (*JobDeleted, error) {
	if j.Deleted {
		return nil, ErrJobDeleted
	}
	return &JobDeleted{Job: j.ID, Seq: j.Seq + 1}, nil
}

// SettleCallback records the end of the completion callback's tries.
func (j *Job) SettleCallback(delivered bool) *CallbackSettled {
	return &CallbackSettled{Job: j.ID, Seq: j.Seq + 1, Delivered: delivered}
}

func (j *Job) incomplete(unit int64) (*Unit, int, error) {
	if j.Deleted {
		return nil, -1, ErrJobDeleted
	}
	u, i := j.unit(unit)
	if u == nil {
		return nil, -1, ErrUnknownUnit
	}
	if u.Status.Complete() {
		return nil, -1, ErrUnitComplete
	}
	return u, i, nil
}

// mergesAfter reports whether a report on unit i would end the processing
// phase of a merging action without failures, so that it must create the
// merge unit (whose id the event has to carry).
func (j *Job) mergesAfter(u *Unit, i int, succeeded bool, children int) bool {
	if !j.Merge || !succeeded || j.failed {
		return false
	}
	splitDone, procDone, procTotal := j.splitDone, j.procDone, j.procTotal+children
	switch j.kind(i) {
	case Splitting:
		splitDone++
	case Processing:
		procDone++
	default:
		return false
	}
	return splitDone == j.splits && procDone == procTotal && procTotal > 0
}

// Apply changes the job by one event and returns what the world must do
// about it. It is the only code that changes a Job after NewJob, live and
// during replay.
func (j *Job) Apply(ev Event) (Effects, error) {
	if ev == nil || ev.JobSeq() != j.Seq+1 {
		return Effects{}, ErrOutOfOrder
	}
	fx, err := j.apply(ev)
	if err == nil {
		j.Seq++
	}
	return fx, err
}

func (j *Job) apply(ev Event) (Effects, error) {
	var fx Effects
	switch ev := ev.(type) {
	case *UnitFinished:
		u, i, err := j.incomplete(ev.Unit)
		if err != nil {
			return fx, err
		}
		u.Time, u.Worker = ev.Time, ev.Worker
		if ev.Succeeded {
			j.succeed(u, i, ev, &fx)
		} else {
			j.fail(u, i, ev.Output, ev.At, &fx)
		}
		j.advance(ev.At, ev.FirstNew, &fx)
	case *UnitLost:
		u, i, err := j.incomplete(ev.Unit)
		if err != nil {
			return fx, err
		}
		j.fail(u, i, wire.AppendString(nil, ev.Reason), ev.At, &fx)
		j.advance(ev.At, 0, &fx)
	case *JobDeleted:
		if j.Deleted {
			return fx, ErrJobDeleted
		}
		j.Deleted = true
		fx.Deleted = true
		for i := range j.units {
			if !j.units[i].Status.Complete() {
				fx.Drop = append(fx.Drop, j.units[i].ID)
			}
		}
	case *CallbackSettled:
		j.Callback = CallbackDone
	case *UnitsRetried:
		if j.Deleted {
			return fx, ErrJobDeleted
		}
		if j.Status != Failed {
			return fx, ErrNoFailures
		}
		j.retry(&fx)
	default:
		return fx, errors.New("core: job cannot apply " + eventName(ev))
	}
	return fx, nil
}

func eventName(ev Event) string {
	switch ev.(type) {
	case *JobCreated:
		return "JobCreated"
	}
	return "an unknown event"
}

func (j *Job) succeed(u *Unit, i int, ev *UnitFinished, fx *Effects) {
	u.Attempts++
	u.Status = Succeeded
	u.Output = ev.Output
	switch j.kind(i) {
	case Splitting:
		inputs := ev.inputs
		if inputs == nil { // replayed, or a split into nothing
			inputs, _ = SplitInputs(ev.Output) // Finish checked it
		}
		first := int32(len(j.units))
		fx.Ready = append(fx.Ready, j.addUnits(ev.FirstNew, inputs, Processing)...)
		// addUnits may have moved j.units: u is stale from here on.
		j.units[i].First, j.units[i].End = first, int32(len(j.units))
		j.procTotal += len(inputs)
		j.splitDone++
	case Processing:
		j.procDone++
	case Merging:
		j.complete(Succeeded, ev.At, fx)
	}
}

func (j *Job) fail(u *Unit, i int, output []byte, at int64, fx *Effects) {
	u.Attempts++
	if len(u.Errors) == maxErrors {
		u.Errors = append(u.Errors[:0], u.Errors[1:]...)
	}
	u.Errors = append(u.Errors, string(output))
	if u.Attempts < j.MaxAttempts {
		u.Output = nil
		fx.Retry = &Retry{Unit: u.ID, Attempts: u.Attempts}
		return
	}
	u.Status = Failed
	u.Output = output
	j.failed = true
	fx.Settled = u.ID
	switch j.kind(i) {
	case Splitting:
		j.splitDone++
	case Processing:
		j.procDone++
	case Merging:
		j.complete(Failed, at, fx)
	}
}

// advance moves the job to its next phase when the current one is done.
// A merge unit takes the id Finish reserved for it, after any children.
func (j *Job) advance(at, firstNew int64, fx *Effects) {
	if j.Status == Splitting && j.splitDone == j.splits {
		j.Status = Processing
		fx.Changed = true
	}
	if j.Status != Processing || j.procDone < j.procTotal {
		return
	}
	switch {
	case j.failed:
		j.complete(Failed, at, fx)
	case j.Merge && j.procTotal > 0:
		mergeID := firstNew + int64(len(fx.Ready))
		input := j.gather(nil)
		j.Status = Merging
		fx.Changed = true
		fx.Ready = append(fx.Ready, j.addUnits(mergeID, []string{string(input)}, Merging)...)
	default:
		j.complete(Succeeded, at, fx)
	}
}

// gather appends the JSON array of the outputs of the processing phase, in
// input order: each input's unit, or for a split job each split's children
// in split order (a split that failed gives its error message).
func (j *Job) gather(b []byte) []byte {
	b = append(b, '[')
	add := func(u *Unit) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		if len(u.Output) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, u.Output...)
		}
	}
	if j.splits == 0 {
		for i := 0; i < j.procTotal; i++ {
			add(&j.units[i])
		}
	} else {
		for i := 0; i < j.splits; i++ {
			s := &j.units[i]
			if s.Status == Failed {
				add(s)
				continue
			}
			for k := s.First; k < s.End; k++ {
				add(&j.units[k])
			}
		}
	}
	return append(b, ']')
}

func (j *Job) complete(status Status, at int64, fx *Effects) {
	if j.Status == Merging || j.hasMergeUnit() {
		m := &j.units[len(j.units)-1]
		out := []byte{'['}
		if len(m.Output) == 0 {
			out = append(out, "null"...)
		} else {
			out = append(out, m.Output...)
		}
		j.Outputs = append(out, ']')
	} else {
		j.Outputs = j.gather(nil)
	}
	j.Status = status
	j.FinishedAt = at
	if j.CallbackURL != "" {
		j.Callback = CallbackPending
	}
	fx.Changed = true
	fx.Completed = true
}

// hasMergeUnit reports whether the merge unit was made.
func (j *Job) hasMergeUnit() bool { return len(j.units) > j.splits+j.procTotal }

// RetryFailed decides to run a failed job's failed units again (the
// console's retry button).
func (j *Job) RetryFailed(now int64) (*UnitsRetried, error) {
	if j.Deleted {
		return nil, ErrJobDeleted
	}
	if j.Status != Failed {
		return nil, ErrNoFailures
	}
	return &UnitsRetried{Job: j.ID, Seq: j.Seq + 1, At: now}, nil
}

// retry puts every failed unit back to work with fresh attempts; the job
// returns to the earliest phase they belong to.
func (j *Job) retry(fx *Effects) {
	phase := Status(0)
	for i := range j.units {
		u := &j.units[i]
		if u.Status != Failed {
			continue
		}
		kind := j.kind(i)
		switch kind {
		case Splitting:
			j.splitDone--
			phase = Splitting
		case Processing:
			j.procDone--
			if phase != Splitting {
				phase = Processing
			}
		case Merging:
			if phase == 0 {
				phase = Merging
			}
		}
		u.Status, u.Attempts, u.Output = kind, 0, nil
		fx.Ready = append(fx.Ready, Ready{ID: u.ID, Input: u.Input, Status: kind})
	}
	j.Status, j.failed = phase, false
	j.Outputs, j.FinishedAt = nil, 0
	if j.Callback == CallbackDone || j.Callback == CallbackPending {
		j.Callback = CallbackNone // it fires again when the job completes again
	}
	fx.Changed = true
}

// PercentComplete follows CloudCrowd: 0 while splitting, 99 while merging,
// 100 when complete or without units, else the rounded share of the
// processing units that are complete.
func (j *Job) PercentComplete() int {
	switch {
	case j.Status == Splitting:
		return 0
	case j.Status == Merging:
		return 99
	case j.Status.Complete(), j.procTotal == 0:
		return 100
	}
	return (200*j.procDone + j.procTotal) / (2 * j.procTotal) // round half up
}

// WorkUnits is the number of units of the current phase.
func (j *Job) WorkUnits() int {
	switch j.Status {
	case Splitting:
		return j.splits
	case Processing:
		return j.procTotal
	case Merging:
		return 1
	}
	return 0
}

// TimeTaken is the job's age in seconds, frozen at completion.
func (j *Job) TimeTaken(now int64) float64 {
	end := now
	if j.Status.Complete() {
		end = j.FinishedAt
	}
	return float64(end-j.CreatedAt) / 1e9
}

// View is the job's JSON document at time now.
func (j *Job) View(now int64) wire.Job {
	v := wire.Job{
		ID:              j.ID,
		Color:           j.Color,
		Status:          j.Status.String(),
		PercentComplete: j.PercentComplete(),
		WorkUnits:       j.WorkUnits(),
		TimeTaken:       j.TimeTaken(now),
		Email:           j.Email,
	}
	if j.Status.Complete() {
		v.Outputs = j.Outputs
	}
	return v
}

// Incomplete lists the units that are not complete, for rebuilding the
// dispatcher's queues after a restart.
func (j *Job) Incomplete() []Ready {
	var r []Ready
	for i := range j.units {
		if u := &j.units[i]; !u.Status.Complete() {
			r = append(r, Ready{ID: u.ID, Input: u.Input, Status: u.Status, Attempts: u.Attempts})
		}
	}
	return r
}

// Units returns the job's units (for the console); callers must not change them.
func (j *Job) Units() []Unit { return j.units }

// LastUnit is the highest unit id the job has made, 0 if none.
func (j *Job) LastUnit() int64 {
	if len(j.ranges) == 0 {
		return 0
	}
	r := j.ranges[len(j.ranges)-1]
	return r.First + int64(r.N) - 1
}

// String names the job in logs.
func (j *Job) String() string {
	return "job #" + strconv.FormatInt(j.ID, 10) + " (" + j.Action + ")"
}
