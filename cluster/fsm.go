package cluster

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
	"github.com/hashicorp/raft"
)

// FSM is the raft state machine: the coordinator's state, to which each
// committed entry is applied in order.
type FSM struct {
	mu      sync.Mutex
	state   *actors.State
	applied uint64 // the index of the last entry applied
	// restores counts the snapshots the state was restored from: at start,
	// and each one a leader sent because this node was too far behind.
	restores atomic.Uint64
}

// NewFSM returns the state machine of an empty coordinator.
func NewFSM() *FSM { return &FSM{state: actors.NewState()} }

var _ raft.FSM = (*FSM)(nil)

// Apply applies one committed entry: a journal record. Its answer (the
// future's Response) is the error, if the record could not be applied.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	ev, err := persistence.Decode(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	if err != nil {
		return fmt.Errorf("cluster: entry %d: %w", l.Index, err)
	}
	if err := f.state.Apply(ev); err != nil {
		return fmt.Errorf("cluster: entry %d: %w", l.Index, err)
	}
	f.state.TrimRemoved(deletionsKept)
	return nil
}

// deletionsKept bounds the deleted jobs whose files a new leader removes
// again, in case the old one died between a deletion and its files'
// removal: far more than one retention batch (500) or the deletions a
// burst of DELETE /jobs/:id leaves in flight.
const deletionsKept = 4096

// Snapshot captures the state as the coordinator's snapshots hold it;
// raft writes it out while entries go on being applied.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	snap, jobs := f.state.Snapshot()
	return &fsmSnapshot{snap: snap, jobs: jobs}, nil
}

// Restore replaces the state with a snapshot's (a follower that fell
// behind, or a restart).
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("cluster: reading a snapshot: %w", err)
	}
	s, err := stateOf(data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	f.restores.Add(1)
	return nil
}

// Copy returns a copy of the state, which shares nothing with the FSM's
// that the FSM changes, and the index of the last entry it holds: what a
// new leader's actors start from.
func (f *FSM) Copy() (*actors.State, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.state.Clone()
	return s, f.applied, err
}

func stateOf(body []byte) (*actors.State, error) {
	snap, jobs, err := persistence.SplitSnapshot(body)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return actors.StateFromSnapshot(snap, jobs)
}

type fsmSnapshot struct {
	snap persistence.Snapshot
	jobs [][]byte
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := persistence.WriteSnapshotBody(sink, s.snap, s.jobs); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: writing a snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
