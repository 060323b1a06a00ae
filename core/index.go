package core

import "slices"

// Index knows every job's status, so that /status and the console can count
// jobs and list the incomplete ones without asking every job.
type Index struct {
	status     map[int64]Status
	incomplete []int64 // ids in creation order; complete or deleted ones are skipped lazily
	counts     [Merging + 1]int
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{status: make(map[int64]Status)} }

// Set records a job's status; a job enters the index with its first Set.
func (x *Index) Set(id int64, s Status) {
	old, known := x.status[id]
	if known {
		x.counts[old]--
	}
	if !s.Complete() && (!known || old.Complete()) {
		x.addIncomplete(id)
	}
	x.status[id] = s
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
	if s, ok := x.status[id]; ok {
		x.counts[s]--
		delete(x.status, id)
	}
}

// Incomplete returns up to limit incomplete job ids, oldest first, and how
// many incomplete jobs there are.
func (x *Index) Incomplete(limit int) (ids []int64, total int) {
	live := x.incomplete[:0]
	for _, id := range x.incomplete {
		if s, ok := x.status[id]; ok && !s.Complete() {
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
func (x *Index) Len() int { return len(x.status) }
