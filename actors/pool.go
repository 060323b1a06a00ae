package actors

import "sync"

// pool is the actors' dispatcher: it runs mailboxes on a few long-lived
// goroutines. protoactor's default starts a goroutine for every mailbox run,
// and each new goroutine grows its stack again: on the PUT /work path that
// was a tenth of the coordinator's CPU.
type pool struct {
	work       chan func()
	workers    int
	throughput int
	wg         sync.WaitGroup
}

func newPool(workers, throughput int) *pool {
	p := &pool{work: make(chan func(), 4096), workers: workers, throughput: throughput}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			// A plain receive, not a select with a quit channel: the select
			// was a sixth of the pool's own samples on the POST /work path.
			for fn := range p.work {
				if fn == nil { // stop's
					return
				}
				fn()
			}
		}()
	}
	return p
}

// Schedule runs fn on the pool. It never blocks: when the queue is full (a
// burst, or every worker busy) fn gets a goroutine of its own, so a mailbox
// run that waits on another one can never stall the pool.
func (p *pool) Schedule(fn func()) {
	select {
	case p.work <- fn:
	default:
		go fn()
	}
}

// Throughput is how many messages a mailbox handles before it yields.
func (p *pool) Throughput() int { return p.throughput }

// stop ends the workers, once they have run what was scheduled before.
// The channel of work stays open: protoactor may still schedule a stopped
// actor's last system message, which then waits in the buffer, unrun, as
// it would have after the process ended (or runs on a goroutine of its own
// when the buffer is full).
func (p *pool) stop() {
	for range p.workers {
		p.work <- nil
	}
	p.wg.Wait()
}
