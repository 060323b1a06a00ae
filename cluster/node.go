package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Peer is a node of the cluster: its id and raft address.
type Peer struct{ ID, Addr string }

// Options configure a Node.
type Options struct {
	ID     string // this node's id
	Addr   string // the raft address it listens on, host:port
	Dir    string // its raft log (Dir/raft) and snapshots (Dir/snapshots)
	Logger *slog.Logger
	// ApplyTimeout bounds how long an entry may wait to commit (default
	// 10 s): a leader without a quorum fails its appends, and the requests
	// behind them answer 503.
	ApplyTimeout time.Duration
	// Raft's timing and snapshots; zero takes raft's defaults.
	HeartbeatTimeout, ElectionTimeout time.Duration
	SnapshotThreshold, TrailingLogs   uint64
	SnapshotInterval                  time.Duration
	// OnBatch and OnSync are the raft log's hooks for metrics
	// (persistence.RaftLogOptions).
	OnBatch func(entries int)
	OnSync  func(took time.Duration)
}

// Node is one running member of the cluster.
type Node struct {
	o    Options
	log  *slog.Logger
	fsm  *FSM
	rlog *persistence.RaftLog
	tr   *raft.NetworkTransport
	raft *raft.Raft
}

// Open starts a node: its raft log, snapshots and transport, and raft over
// them. A node that was in a cluster rejoins it; a new one waits to be
// added (or for Bootstrap).
func Open(o Options) (*Node, error) {
	if o.ID == "" || o.Addr == "" || o.Dir == "" {
		return nil, errors.New("cluster: a node needs an id, an address and a data dir")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = 10 * time.Second
	}
	n := &Node{o: o, log: o.Logger, fsm: NewFSM()}
	var err error
	if n.rlog, err = persistence.OpenRaftLog(persistence.RaftLogOptions{Dir: filepath.Join(o.Dir, "raft"), Logger: o.Logger,
		OnBatch: o.OnBatch, OnSync: o.OnSync}); err != nil {
		return nil, err
	}
	fail := func(err error) (*Node, error) {
		if n.tr != nil {
			n.tr.Close()
		}
		n.rlog.Close()
		return nil, err
	}
	raftLog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{o.Logger}})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(o.Dir, "snapshots"), 2, raftLog)
	if err != nil {
		return fail(fmt.Errorf("cluster: snapshots: %w", err))
	}
	if n.tr, err = raft.NewTCPTransportWithLogger(o.Addr, nil, 3, 10*time.Second, raftLog); err != nil {
		return fail(fmt.Errorf("cluster: listening on %s: %w", o.Addr, err))
	}
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(o.ID)
	c.Logger = raftLog
	c.BatchApplyCh = true // appends that arrive together go out as one batch
	if o.HeartbeatTimeout > 0 {
		c.HeartbeatTimeout, c.LeaderLeaseTimeout = o.HeartbeatTimeout, o.HeartbeatTimeout/2
	}
	if o.ElectionTimeout > 0 {
		c.ElectionTimeout = o.ElectionTimeout
	}
	if o.SnapshotThreshold > 0 {
		c.SnapshotThreshold = o.SnapshotThreshold
	}
	if o.TrailingLogs > 0 {
		c.TrailingLogs = o.TrailingLogs
	}
	if o.SnapshotInterval > 0 {
		c.SnapshotInterval = o.SnapshotInterval
	}
	if n.raft, err = raft.NewRaft(c, n.fsm, n.rlog, n.rlog, snaps, n.tr); err != nil {
		return fail(fmt.Errorf("cluster: starting raft: %w", err))
	}
	return n, nil
}

// Addr is the raft address the node listens on.
func (n *Node) Addr() string { return string(n.tr.LocalAddr()) }

// Bootstrap forms a new cluster of peers (this node among them). Only a
// node that has never been in a cluster can; raft refuses the others.
func (n *Node) Bootstrap(peers []Peer) error {
	var c raft.Configuration
	for _, p := range peers {
		c.Servers = append(c.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if err := n.raft.BootstrapCluster(c).Error(); err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	return nil
}

// Join adds a node to the cluster as a voter; only the leader can. The
// new node, started with no state, catches up from the leader's snapshot
// and log.
func (n *Node) Join(p Peer) error {
	if err := n.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.Addr), 0, n.o.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("cluster: adding %s at %s: %w", p.ID, p.Addr, err)
	}
	return nil
}

// Remove takes a node out of the cluster; only the leader can.
func (n *Node) Remove(id string) error {
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.o.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("cluster: removing %s: %w", id, err)
	}
	return nil
}

// Peers lists the cluster's members as the latest configuration has them.
func (n *Node) Peers() ([]Peer, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("cluster: reading the configuration: %w", err)
	}
	var ps []Peer
	for _, s := range f.Configuration().Servers {
		ps = append(ps, Peer{ID: string(s.ID), Addr: string(s.Address)})
	}
	return ps, nil
}

// Lead runs a coordinator while this node leads, until ctx ends: each time
// it becomes leader it waits until every committed entry is applied, then
// calls start with a copy of the state and a journal of raft entries; when
// leadership ends, it calls the stop that start returned and closes that
// journal.
func (n *Node) Lead(ctx context.Context, start func(*actors.State, persistence.Journal) (stop func())) {
	var stop func()
	var j *Journal
	end := func() {
		if stop != nil {
			stop()
			j.Close()
			stop, j = nil, nil
		}
	}
	defer end()
	for {
		select {
		case <-ctx.Done():
			return
		case leading := <-n.raft.LeaderCh():
			end()
			if !leading {
				continue
			}
			if err := n.raft.Barrier(n.o.ApplyTimeout).Error(); err != nil {
				n.log.Warn("cluster: leader could not apply the log; waiting for the next term", "err", err)
				continue
			}
			state, applied, err := n.fsm.Copy()
			if err != nil {
				n.log.Error("cluster: copying the state for the new leader", "err", err)
				continue
			}
			n.log.Info("cluster: leading", "term", n.raft.CurrentTerm(), "applied", applied)
			j = newJournal(n.raft, n.rlog, n.o.ApplyTimeout)
			stop = start(state, j)
		}
	}
}

// Status is what a node knows of itself and the cluster, for /status, the
// console and /metrics.
type Status struct {
	ID          string
	Role        string // "leader", "follower", "candidate" or "shutdown"
	Term        uint64
	CommitIndex uint64 // the last entry known committed
	Applied     uint64 // the last entry applied to the state
	LeaderID    string // "" while there is no leader
	LeaderAddr  string // its raft address
	Restores    uint64 // snapshots the state was restored from (FSM.Restore)
}

// Status reads the node's raft state now.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	return Status{ID: n.o.ID, Role: strings.ToLower(n.raft.State().String()), Term: n.raft.CurrentTerm(),
		CommitIndex: n.raft.CommitIndex(), Applied: n.raft.AppliedIndex(), LeaderID: string(id), LeaderAddr: string(addr),
		Restores: n.fsm.restores.Load()}
}

// Close stops raft and releases the node's log and address.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	if cerr := n.tr.Close(); err == nil {
		err = cerr
	}
	if cerr := n.rlog.Close(); err == nil {
		err = cerr
	}
	return err
}

// slogWriter takes raft's log lines into the coordinator's log.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = slogWriter{}
