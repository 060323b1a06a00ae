package actors

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// idCounter hands out job and unit ids. Ids only grow, also across restarts:
// Restore starts the counters above every id the journal holds.
type idCounter struct {
	job, unit atomic.Int64
}

func (c *idCounter) NewJob() int64 { return c.job.Add(1) }

// NewUnits implements core.IDs.
func (c *idCounter) NewUnits(n int) int64 { return c.unit.Add(int64(n)) - int64(n) + 1 }

// State is the jobs a journal holds, rebuilt by Restore: the active ones
// as jobs, the finished ones (succeeded or failed, their callback settled)
// still encoded, as the directory keeps them (finishedJobs), so that a
// restart with a million of them does not build a million jobs.
type State struct {
	Jobs      map[int64]*core.Job
	Finished  map[int64][]byte // persistence.AppendJob
	LastJob   int64            // the highest job id ever given, deleted jobs included
	LastUnit  int64
	Paused    map[string]core.Pause
	LastPause int64 // the highest pause id ever given, resumed ones included

	// snapshotJob: every job up to this id is in the snapshot the state
	// started from, unless it was deleted before it.
	snapshotJob int64
	// removed are the jobs whose deletion replay applied: a crash may have
	// come between the record and the removal of their files, so Start
	// removes them again.
	removed []jobFiles
}

// NewState returns the state of an empty journal.
func NewState() *State {
	return &State{Jobs: make(map[int64]*core.Job), Finished: make(map[int64][]byte), Paused: make(map[string]core.Pause)}
}

// TrimRemoved keeps only the last n of the deletions the state remembers
// for Start to remove the files of again. A replica applies deletions for
// weeks without starting a coordinator, and only the last ones can lack
// their files' removal when its leader dies: a sweep removes one batch's
// files before it deletes the next.
func (s *State) TrimRemoved(n int) {
	if len(s.removed) > 2*n {
		s.removed = append(s.removed[:0], s.removed[len(s.removed)-n:]...)
	}
}

// Clone returns a copy of s that shares nothing s changes: each active
// job is copied through its encoding, and the finished jobs' encodings,
// which nothing changes in place, are shared in a map of the copy's own. A
// new leader's coordinator starts from one (cluster.FSM.Copy), so that
// what its actors apply before raft commits it stays out of the state raft
// snapshots; with a million finished jobs, sharing their bytes makes the
// copy take a tenth of a second, not seconds.
func (s *State) Clone() (*State, error) {
	c := &State{Jobs: make(map[int64]*core.Job, len(s.Jobs)), Finished: maps.Clone(s.Finished), Paused: maps.Clone(s.Paused),
		LastJob: s.LastJob, LastUnit: s.LastUnit, LastPause: s.LastPause, snapshotJob: s.snapshotJob, removed: slices.Clone(s.removed)}
	for id, j := range s.Jobs {
		st := j.State()
		copied, err := persistence.DecodeJob(persistence.AppendJob(nil, &st))
		if err != nil {
			return nil, fmt.Errorf("actors: copying job %d: %w", id, err)
		}
		c.Jobs[id] = core.RestoreJob(copied)
	}
	return c, nil
}

// finished reports whether a job of this status and callback state is done
// for good but for a delete or a retry: it needs no actor.
func finished(status core.Status, callback core.CallbackState) bool {
	return status.Complete() && callback != core.CallbackPending
}

// StateFromSnapshot starts a state from a snapshot's contents, still
// encoded (persistence.SplitSnapshot); the finished jobs share jobs' bytes.
func StateFromSnapshot(snap persistence.Snapshot, jobs [][]byte) (*State, error) {
	s := NewState()
	s.LastJob, s.LastUnit, s.snapshotJob, s.LastPause = snap.LastJob, snap.LastUnit, snap.LastJob, snap.LastPause
	for _, p := range snap.Paused {
		s.Paused[p.Action] = p
	}
	for i, enc := range jobs {
		h, err := persistence.JobHeadOf(enc)
		if err == nil && finished(h.Status, h.Callback) {
			s.Finished[h.ID] = enc
			continue
		}
		st, err := persistence.DecodeJob(enc)
		if err != nil {
			return nil, fmt.Errorf("snapshot: job %d of %d: %w", i+1, len(jobs), err)
		}
		s.Jobs[st.ID] = core.RestoreJob(st)
	}
	return s, nil
}

// Snapshot is the state as a snapshot holds it: the counters, the paused
// actions and every job encoded, in id order (the finished jobs' bytes
// shared: read only).
func (s *State) Snapshot() (persistence.Snapshot, [][]byte) {
	snap := persistence.Snapshot{LastJob: s.LastJob, LastUnit: s.LastUnit, LastPause: s.LastPause}
	for _, p := range s.Paused {
		snap.Paused = append(snap.Paused, p)
	}
	slices.SortFunc(snap.Paused, func(a, b core.Pause) int { return cmp.Compare(a.ID, b.ID) })
	ids := make([]int64, 0, s.Len())
	for id := range s.Jobs {
		ids = append(ids, id)
	}
	for id := range s.Finished {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	jobs := make([][]byte, len(ids))
	for i, id := range ids {
		if enc, ok := s.Finished[id]; ok {
			jobs[i] = enc
			continue
		}
		st := s.Jobs[id].State()
		jobs[i] = persistence.AppendJob(nil, &st)
	}
	return snap, jobs
}

// Len is the number of jobs, active and finished.
func (s *State) Len() int { return len(s.Jobs) + len(s.Finished) }

// active returns job id as a job that events can change, decoding it if
// it was finished.
func (s *State) active(id int64) (*core.Job, error) {
	if j := s.Jobs[id]; j != nil {
		return j, nil
	}
	enc, ok := s.Finished[id]
	if !ok {
		return nil, nil
	}
	st, err := persistence.DecodeJob(enc)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", id, err)
	}
	j := core.RestoreJob(st)
	delete(s.Finished, id)
	s.Jobs[id] = j
	return j, nil
}

// settle encodes a job that an event left finished, as a snapshot holds
// it: a replica applies weeks of jobs, and a finished job takes a ninth of
// the memory encoded.
func (s *State) settle(j *core.Job) {
	if finished(j.Status, j.Callback) {
		st := j.State()
		s.Finished[j.ID] = persistence.AppendJob(nil, &st)
		delete(s.Jobs, j.ID)
	}
}

// Apply applies one journal event, exactly as the job actors did live. An
// event the snapshot already holds (by its job's sequence number), or one
// of a job deleted before the snapshot, is skipped.
func (s *State) Apply(ev core.Event) error {
	if p, ok := ev.(*core.ActionPaused); ok {
		s.LastPause = max(s.LastPause, p.ID)
		if p.Paused {
			s.Paused[p.Action] = core.Pause{ID: p.ID, Action: p.Action, At: p.At}
		} else {
			delete(s.Paused, p.Action)
		}
		return nil
	}
	id := ev.JobID()
	j, err := s.active(id)
	if err != nil {
		return err
	}
	if j == nil {
		if id <= s.snapshotJob {
			return nil
		}
		created, ok := ev.(*core.JobCreated)
		if !ok {
			return fmt.Errorf("event for unknown job %d", id)
		}
		// Jobs journal their creation themselves, so ids can come out of
		// order; a second creation of the same id would find the job above.
		j, _ = core.NewJob(created)
		s.Jobs[id] = j
		s.LastJob = max(s.LastJob, id)
		s.LastUnit = max(s.LastUnit, j.LastUnit())
		return nil
	}
	if ev.JobSeq() <= j.Seq {
		return nil
	}
	if _, err := j.Apply(ev); err != nil {
		return fmt.Errorf("%v: event %d: %w", j, ev.JobSeq(), err)
	}
	s.LastUnit = max(s.LastUnit, j.LastUnit())
	if j.Deleted {
		delete(s.Jobs, j.ID)
		s.removed = append(s.removed, jobFiles{action: j.Action, job: j.ID})
		return nil
	}
	s.settle(j)
	return nil
}

// Restore replays a journal into a State (an empty one, or one made from
// a snapshot).
func Restore(j persistence.Journal, s *State) (*State, error) {
	if s == nil {
		s = NewState()
	}
	if err := j.Replay(s.Apply); err != nil {
		return nil, fmt.Errorf("actors: replay: %w", err)
	}
	return s, nil
}
