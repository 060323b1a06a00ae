package cluster

import (
	"errors"
	"sync"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/hashicorp/raft"
)

// Journal is the journal of the leader's actors: each record is a raft
// entry, and an Append's done runs once the entry is committed on a
// majority and applied here, or with an error (leadership lost, no quorum
// in time), in which case nothing was acknowledged.
type Journal struct {
	raft    *raft.Raft
	log     *persistence.RaftLog // this node's copy of the entries, for Stats
	timeout time.Duration

	mu      sync.RWMutex // held shared while sending on pending, exclusively to close it
	closed  bool
	pending chan pendingAppend
	exited  chan struct{}
}

type pendingAppend struct {
	future raft.ApplyFuture
	done   func(error)
}

// ErrClosed answers an Append after Close: this node no longer leads.
var ErrClosed = errors.New("cluster: this node no longer leads")

// newJournal starts a journal on r; an entry not committed within timeout
// fails.
func newJournal(r *raft.Raft, log *persistence.RaftLog, timeout time.Duration) *Journal {
	j := &Journal{raft: r, log: log, timeout: timeout, pending: make(chan pendingAppend, 8192), exited: make(chan struct{})}
	go j.complete()
	return j
}

var _ persistence.Journal = (*Journal)(nil)

// Append hands ev to raft. Entries that arrive together leave as one batch
// (raft's BatchApplyCh), one write and fsync per node.
func (j *Journal) Append(ev core.Event, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	rec := persistence.Encode(nil, ev)
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		done(ErrClosed)
		return
	}
	j.pending <- pendingAppend{future: j.raft.Apply(rec, j.timeout), done: done}
}

// complete runs the done funcs in the order of the entries, which is the
// order their futures end in.
func (j *Journal) complete() {
	defer close(j.exited)
	for p := range j.pending {
		err := p.future.Error()
		if err == nil {
			if ferr, ok := p.future.Response().(error); ok {
				err = ferr
			}
		}
		p.done(err)
	}
}

// Stats are this node's raft log's: entries written, fsyncs, bytes (the
// console's and /metrics' figures of the log).
func (j *Journal) Stats() persistence.WALStats { return j.log.Stats() }

// Mode is group commit: raft answers once a batch is fsynced on a majority.
func (j *Journal) Mode() persistence.SyncMode { return persistence.SyncGroup }

// Replay is not a journal's job here: the FSM holds the state.
func (j *Journal) Replay(func(core.Event) error) error {
	return errors.New("cluster: the state comes from the FSM, not from a replay")
}

// Close waits for the appends under way to end.
func (j *Journal) Close() error {
	j.mu.Lock()
	if !j.closed {
		j.closed = true
		close(j.pending)
	}
	j.mu.Unlock()
	<-j.exited
	return nil
}
