// Package actors is the coordinator: a job directory, one actor per active
// job, a dispatcher and a worker registry, on protoactor-go. Each actor
// owns one of the core state machines and does the I/O around it: it
// journals the events its core decides on, answers requests once their
// changes are durable, and tells the other actors what they need to know.
//
// The dispatcher owns the queue: ready units, leases, back-off, and the
// held POST /work requests (long-poll), which it answers as units become
// ready and ends with its ticker. Every PUT /work/:id passes through it
// first: it checks the lease, chooses the worker's next unit, and hands
// the report to the unit's job actor, which decides, journals and answers.
// A report that repeats the worker's last accepted one (its answer was
// lost) is answered as the first was, and records nothing.
//
// A job actor lives while its job can change on its own: until the job has
// succeeded or failed and its callback is settled. Then it hands its state,
// encoded, to the directory and stops (retire). The directory keeps the
// finished jobs as bytes (finishedJobs) and answers for them; a retry gives
// a finished job an actor again, a delete is journaled by the directory
// itself, and retention sweeps the old ones a batch at a time. So a
// coordinator that has finished millions of jobs runs as many actors as it
// has jobs under way, and a snapshot asks only those.
//
// Nothing an event makes is seen outside its job before the event is
// durable: new units reach the dispatcher, statuses the directory, and
// answers their askers, from the journal's callback. Queries wait the same
// way (whenDurable), so a crash never takes back what a client has read.
//
// The registry knows the workers: their check-ins, their liveness and the
// units they hold. It hears what workers do at the dispatcher in batches
// (dispatcher.note): on every tick, and before any message that reads what
// it knows, which goes through the dispatcher to it (toRegistry). So PUT
// and POST /work cost it nothing, and no reader sees it behind.
//
// The hot path allocates little, and by design. A route's goroutine waits
// for its answer on a waiter (call.go), reused request after request under
// a generation each, so that a late or second answer of an earlier request
// never reaches a later one; the messages of PUT and POST /work live in
// their waiter, and a report's event and journal callback in its message.
// protoactor's request/response (a future and a PID per request) would
// cost several allocations a request; the waiter costs none, and one
// watchdog goroutine times out the waits. Actors run on a small pool of
// goroutines (pool.go) rather than a goroutine per mailbox run.
//
// Load and Restore rebuild a State from a snapshot and the log, with the
// same apply code the actors run live; Start spawns the actors over it.
package actors
