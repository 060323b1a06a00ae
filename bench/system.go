package bench

import "context"

// A System is one job server under test: crowd with one fsync mode, the
// bare fasthttp ceiling, or a peer with one durability setting.
type System interface {
	Name() string       // "crowd", "beanstalkd", …
	Variant() string    // "group", "-f 50", "AOF everysec", …
	Durability() string // what an acknowledged submission survives
	// Start starts the server on 127.0.0.1 with an empty queue.
	Start(ctx context.Context) error
	// Reset empties the queue between runs (a restart will do).
	Reset(ctx context.Context) error
	// PIDs are the server processes whose resident memory is sampled (each
	// with its descendants).
	PIDs() []int
	// NewClient opens one submitting client (its own connection).
	NewClient(ctx context.Context) (Client, error)
	Stop() error
}

// A Client submits jobs.
type Client interface {
	// Submit submits one job whose units have these inputs (a peer without
	// jobs submits one message per input, batched as its API allows).
	Submit(ctx context.Context, inputs []string) error
	Close() error
}

// WorkerSource is a System whose units are taken by clients speaking its
// protocol (crowd, the ceiling, beanstalkd, Faktory).
type WorkerSource interface {
	// NewWorker opens one worker connection. A blocking worker waits a
	// while for a unit when the queue is empty; a non-blocking one returns
	// at once.
	NewWorker(ctx context.Context, id int, blocking bool) (Worker, error)
}

// A Worker takes units and acknowledges them.
type Worker interface {
	// Next acknowledges the unit the worker holds (if any) and, when fetch
	// is true, takes the next one. ok is false when there was none to take.
	// crowd's PUT /work/:id always answers the next unit, so its worker
	// may take one even when fetch is false.
	Next(ctx context.Context, fetch bool) (input string, ok bool, err error)
	Close() error
}

// ConsumerSource is a System whose units are taken inside a library's
// own worker pool (asynq, River): fetch and acknowledgement are not
// visible to the harness.
type ConsumerSource interface {
	// Consume starts concurrency workers that call handle with each unit's
	// input; stop stops them.
	Consume(ctx context.Context, concurrency int, handle func(input string)) (stop func() error, err error)
}

// Label is a system's name and variant, as the tables show it.
func Label(s System) string {
	if s.Variant() == "" {
		return s.Name()
	}
	return s.Name() + " (" + s.Variant() + ")"
}
