package core

import "slices"

// Index knows every job's status, so that /status and the console can count
// jobs and list the incomplete ones without asking every job. It costs a
// byte per job id (IDTable), finished jobs included.
type Index struct {
	status     IDTable[Status]
	incomplete []int64 // ids in creation order; complete or deleted ones are skipped lazily
	counts     [Merging + 1]int
}

// Filter selects jobs for a page of the console.
type Filter uint8

const (
	AllJobs Filter = iota
	IncompleteJobs
	CompleteJobs
)

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{} }

// Set records a job's status; a job enters the index with its first Set.
func (x *Index) Set(id int64, s Status) {
	old := x.status.Get(id)
	known := old != 0
	if known {
		x.counts[old]--
	}
	if !s.Complete() && (!known || old.Complete()) {
		x.addIncomplete(id)
	}
	x.status.Set(id, s)
	x.counts[s]++
}

// addIncomplete keeps incomplete in id order: new jobs append, a retried
// job (rare) is inserted where it belongs, unless it is still there.
func (x *Index) addIncomplete(id int64) {
	n := len(x.incomplete)
	if n == 0 || x.incomplete[n-1] < id {
		x.incomplete = append(x.incomplete, id)
		return
	}
	i, found := slices.BinarySearch(x.incomplete, id)
	if !found {
		x.incomplete = slices.Insert(x.incomplete, i, id)
	}
}

// Remove forgets a deleted job.
func (x *Index) Remove(id int64) {
	if s := x.status.Get(id); s != 0 {
		x.counts[s]--
		x.status.Delete(id)
	}
}

// Page returns the ids of one page of jobs (incomplete ones oldest first,
// the others newest first) and how many jobs the filter selects. The cost
// is the page, plus the jobs skipped to reach it.
func (x *Index) Page(f Filter, offset, limit int) (ids []int64, total int) {
	if f == IncompleteJobs {
		live, total := x.Incomplete(int(^uint(0) >> 1))
		offset = min(offset, len(live))
		return live[offset:min(offset+limit, len(live))], total
	}
	total = x.status.Len()
	if f == CompleteJobs {
		total = x.counts[Succeeded] + x.counts[Failed]
	}
	for id, s := range x.status.Backward() {
		if len(ids) == limit {
			break
		}
		if f == CompleteJobs && !s.Complete() {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		ids = append(ids, id)
	}
	return ids, total
}

// Incomplete returns up to limit incomplete job ids, oldest first, and how
// many incomplete jobs there are.
func (x *Index) Incomplete(limit int) (ids []int64, total int) {
	live := x.incomplete[:0]
	for _, id := range x.incomplete {
		if s := x.status.Get(id); s != 0 && !s.Complete() {
			live = append(live, id)
		}
	}
	clear(x.incomplete[len(live):])
	x.incomplete = live
	return live[:min(limit, len(live))], len(live)
}

// Count returns the number of jobs with status s.
func (x *Index) Count(s Status) int {
	if int(s) >= len(x.counts) {
		return 0
	}
	return x.counts[s]
}

// Len is the number of jobs.
func (x *Index) Len() int { return x.status.Len() }
