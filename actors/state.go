package actors

import (
	"fmt"
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

// State is the jobs a journal holds, rebuilt by Restore.
type State struct {
	Jobs     map[int64]*core.Job
	LastJob  int64 // the highest job id ever given, deleted jobs included
	LastUnit int64
}

// NewState returns the state of an empty journal.
func NewState() *State { return &State{Jobs: make(map[int64]*core.Job)} }

// Apply applies one journal event, exactly as the job actors did live.
func (s *State) Apply(ev core.Event) error {
	if ev, ok := ev.(*core.JobCreated); ok {
		if _, dup := s.Jobs[ev.Job]; dup || ev.Job <= s.LastJob {
			return fmt.Errorf("job %d created twice", ev.Job)
		}
		j, _ := core.NewJob(ev)
		s.Jobs[ev.Job] = j
		s.LastJob = ev.Job
		s.LastUnit = max(s.LastUnit, j.LastUnit())
		return nil
	}
	j := s.Jobs[ev.JobID()]
	if j == nil {
		return fmt.Errorf("event for unknown job %d", ev.JobID())
	}
	if _, err := j.Apply(ev); err != nil {
		return fmt.Errorf("%v: %w", j, err)
	}
	s.LastUnit = max(s.LastUnit, j.LastUnit())
	if j.Deleted {
		delete(s.Jobs, j.ID)
	}
	return nil
}

// Restore replays a journal into a State.
func Restore(j persistence.Journal) (*State, error) {
	s := NewState()
	if err := j.Replay(s.Apply); err != nil {
		return nil, fmt.Errorf("actors: replay: %w", err)
	}
	return s, nil
}
