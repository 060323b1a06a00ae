// Package core holds crowd's job and queue rules as deterministic state
// machines: a Job (its units, phases, retries and outputs), a Queue (ready
// units per action, leases, back-off, the held POST /work requests, and
// each worker's last report, so that a repeat of it is answered as the
// first was), a Registry (worker liveness), an Index (jobs by status) and
// an Expiry (finished jobs by the time they finished, for retention). An
// IDTable is the dense, pointer-free table by job id that the index and
// the coordinator's store of finished jobs use, so that a million jobs
// cost bytes each, not a map entry.
//
// Nothing here starts a goroutine, does I/O or reads a clock: every method
// takes the current time as an argument and returns what changed. The actors
// package owns these types, one writer each, and does the I/O around them,
// the way etcd's raft package leaves disk and network to its user. Durable
// changes of a Job happen only through Apply of an Event, so that replaying a
// journal runs exactly the code that live traffic ran.
package core
