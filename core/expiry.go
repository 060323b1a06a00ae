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

// Due offers take, from the front, the entries of jobs that finished at
// cutoff or before, until take has taken limit of them; take reports
// whether the entry is current (its job is still finished, and finished
// then) and so taken. Every entry offered leaves. It returns how many
// were taken.
func (x *Expiry) Due(cutoff int64, limit int, take func(id, at int64) bool) int {
	n := 0
	for x.q.len() > 0 && n < limit {
		e := x.q.front()
		if e.at > cutoff {
			break
		}
		x.q.popFront()
		if take(e.id, e.at) {
			n++
		}
	}
	return n
}
