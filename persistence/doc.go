// Package persistence makes the coordinator's events durable: it encodes
// core events as records and keeps them in a journal, from which a restart
// replays them. It knows events and bytes, never actors or HTTP.
//
// The journal (Journal) takes one event at a time and calls back once the
// event is as durable as its mode promises. The WAL keeps records on
// tidwall/wal, which has no checksum: each record is framed with its
// length and a CRC-32C (frame.go), a torn tail is cut on open and damage
// anywhere else refuses to open (repair.go). One writer goroutine batches
// whatever is queued into one write and, in group commit, one fsync. Memory
// is the journal of tests and benchmarks.
//
// A snapshot is the coordinator's state up to a record of the log, written
// to a temp file, fsynced and renamed (snapshot.go); once it is durable,
// the log before it can go. Load and replay turn a snapshot and the records
// after it back into a State (state.go) with the same apply code the
// coordinator runs live.
//
// RaftLog is the log of a replicated coordinator: hashicorp/raft's log and
// stable store on the same tidwall/wal, with the same frames and repair,
// so that the log's storage is one thing whether raft replicates it or not.
package persistence
