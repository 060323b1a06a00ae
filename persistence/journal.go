package persistence

import "github.com/documentcloud/crowd/core"

// Journal is where the coordinator writes every durable change.
type Journal interface {
	// Append hands ev to the journal. done runs once the record is as
	// durable as the journal promises; a non-nil error means it is not,
	// and the change must not be acknowledged.
	Append(ev core.Event, done func(error))
	// Replay calls apply with every record from the start, in order.
	Replay(apply func(core.Event) error) error
	// Close flushes and releases the journal.
	Close() error
}
