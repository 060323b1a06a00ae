// Package cluster replicates a coordinator across three (or five) nodes on
// hashicorp/raft, so that it survives the loss of a machine. It writes no
// consensus of its own: raft elects, replicates and commits, and this
// package is the glue between it and the coordinator.
//
// The journal stays event-sourced. In cluster mode a record is a raft entry
// (Journal): the leader's actors append their events as they would to the
// write-ahead log, raft batches the entries that arrive together into one
// write and one fsync on each node (group commit, as before), and an
// Append's done runs once its entry is committed on a majority and applied
// on the leader. Entries live on disk in persistence.RaftLog, tidwall/wal
// with the journal's frames and repair.
//
// Every node, the leader too, applies each committed entry to an
// actors.State with the apply code a restart's replay runs (FSM), so a
// follower is always ready to lead; raft's snapshots are that state, in
// the coordinator's snapshot format; its finished jobs stay encoded, as
// the leader's directory keeps them. The leader's actors run over a copy
// of it (actors.State.Clone, which shares the finished jobs' bytes), taken
// when the node becomes leader (Node.Lead): the actors apply
// their events before raft commits them, and what an entry that never
// commits changed must not reach the state raft snapshots. When leadership
// ends, the actors stop and their copy goes; the FSM's state has every
// committed entry.
//
// Raft snapshots the FSM every Options.SnapshotThreshold entries and keeps
// TrailingLogs entries behind the snapshot; a follower further behind than
// that gets the leader's snapshot (FSM.Restore) and the log after it. A
// replica remembers only the last deletions it applied (deletionsKept), so
// that a new leader removes their files again without the list growing for
// weeks.
//
// Membership is raft's: Node.Join adds a voter, Node.Remove takes one out,
// both on the leader. The HTTP side of a node (forwarding to the leader,
// 503 while there is none, GET /cluster, the membership routes) is the
// crowd command's front (cmd/crowd/front.go), not this package's: cluster
// knows raft and the coordinator, not HTTP.
//
// Leases are not journaled, as on one node: the units a worker held on the
// old leader are ready again on the new one, their attempt not counted, and
// a late report from that worker for a unit leased since gets 409.
package cluster
