package core

import "github.com/documentcloud/crowd/wire"

// JobState is all of a Job, for snapshots: what events built, with nothing
// derived left out, so that RestoreJob gives back the very same job.
type JobState struct {
	ID          int64
	Action      string
	Split       bool
	Merge       bool
	Options     []byte
	CallbackURL string
	Email       *string
	MaxAttempts int
	CreatedAt   int64
	Status      Status
	FinishedAt  int64
	Outputs     []byte
	Callback    CallbackState
	Seq         uint64

	Units     []Unit
	Ranges    []IDRange
	Splits    int
	SplitDone int
	ProcTotal int
	ProcDone  int
	Failed    bool
}

// State returns the job's state. It shares the job's slices: encode it
// before the job changes again.
func (j *Job) State() JobState {
	return JobState{
		ID: j.ID, Action: j.Action, Split: j.Split, Merge: j.Merge, Options: j.Options,
		CallbackURL: j.CallbackURL, Email: j.Email, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt,
		Status: j.Status, FinishedAt: j.FinishedAt, Outputs: j.Outputs, Callback: j.Callback, Seq: j.Seq,
		Units: j.units, Ranges: j.ranges,
		Splits: j.splits, SplitDone: j.splitDone, ProcTotal: j.procTotal, ProcDone: j.procDone, Failed: j.failed,
	}
}

// RestoreJob rebuilds a job from its state.
func RestoreJob(s JobState) *Job {
	return &Job{
		ID: s.ID, Action: s.Action, Split: s.Split, Merge: s.Merge, Options: s.Options,
		CallbackURL: s.CallbackURL, Email: s.Email, MaxAttempts: s.MaxAttempts, CreatedAt: s.CreatedAt,
		Color:  wire.Color(s.ID),
		Status: s.Status, FinishedAt: s.FinishedAt, Outputs: s.Outputs, Callback: s.Callback, Seq: s.Seq,
		units: s.Units, ranges: s.Ranges,
		splits: s.Splits, splitDone: s.SplitDone, procTotal: s.ProcTotal, procDone: s.ProcDone, failed: s.Failed,
	}
}
