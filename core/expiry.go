package core

// Expiry orders the finished jobs by the time they finished, so that
// retention finds those older than a cutoff at the front, in O(1) each,
// however many younger ones are kept.
//
// Jobs enter in the order they finish. An entry goes stale when its job is
// deleted, or runs again (a retry) and finishes later under a new entry;
// the caller says which entries are current when it asks.
type Expiry struct{ q ring[expiring] }

type expiring struct{ at, id int64 }

// Add records that job id finished at at (Unix nanoseconds). Jobs are added
// as they finish, so at only grows, but for a clock that steps back: such
// an entry waits behind the later ones.
func (x *Expiry) Add(id, at int64) { x.q.push(expiring{at: at, id: id}) }

// Len is the number of entries, stale ones included.
func (x *Expiry) Len() int { return x.q.len() }

// Due takes from the front up to limit jobs that finished at cutoff or
// before, skipping the stale entries: current reports the time a job
// finished, if it is still finished.
func (x *Expiry) Due(cutoff int64, limit int, current func(id int64) (at int64, ok bool)) []int64 {
	var ids []int64
	for x.q.len() > 0 && len(ids) < limit {
		e := x.q.front()
		if e.at > cutoff {
			break
		}
		x.q.popFront()
		if at, ok := current(e.id); ok && at == e.at {
			ids = append(ids, e.id)
		}
	}
	return ids
}
