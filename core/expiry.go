package core

// Expiry orders the finished jobs by the time they finished, so that
// retention finds those older than a cutoff first, in O(log n) each,
// however many younger ones are kept.
//
// Jobs enter about in the order they finish, but not exactly: a job's
// finish reaches the directory when its actor retires, and actors retire in
// any order (and a clock may step back). So Expiry is a min-heap by finish
// time, not a queue, which would stop at a younger job that arrived first
// and leave the older ones behind it. An entry goes stale when its job is
// deleted, or runs again (a retry) and finishes later under a new entry;
// the caller says which entries are current when it asks.
type Expiry struct{ h []expiring }

type expiring struct{ at, id int64 }

func (e expiring) before(o expiring) bool { return e.at < o.at || e.at == o.at && e.id < o.id }

// Add records that job id finished at at (Unix nanoseconds).
func (x *Expiry) Add(id, at int64) {
	x.h = append(x.h, expiring{at: at, id: id})
	for i := len(x.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !x.h[i].before(x.h[p]) {
			break
		}
		x.h[i], x.h[p] = x.h[p], x.h[i]
		i = p
	}
}

// Due offers take, oldest first, the entries of jobs that finished at
// cutoff or before, until take has taken limit of them; take reports
// whether the entry is current (its job is still finished, and finished
// then) and so taken. Every entry offered leaves. It returns how many
// were taken.
func (x *Expiry) Due(cutoff int64, limit int, take func(id, at int64) bool) int {
	n := 0
	for len(x.h) > 0 && n < limit {
		e := x.h[0]
		if e.at > cutoff {
			break
		}
		x.pop()
		if take(e.id, e.at) {
			n++
		}
	}
	return n
}

// pop removes the oldest entry.
func (x *Expiry) pop() {
	last := len(x.h) - 1
	x.h[0] = x.h[last]
	x.h = x.h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < last && x.h[l].before(x.h[small]) {
			small = l
		}
		if r < last && x.h[r].before(x.h[small]) {
			small = r
		}
		if small == i {
			return
		}
		x.h[i], x.h[small] = x.h[small], x.h[i]
		i = small
	}
}
