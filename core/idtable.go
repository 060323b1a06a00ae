package core

import "iter"

// IDTable maps ids to values for ids that are handed out one after the
// other from 1, as job and unit ids are. It holds pages of 4,096 values, so
// an id costs the size of its value, with no per-entry overhead and no pointers
// for the garbage collector to follow when V has none: a million finished
// jobs fit in a few megabytes of index. The zero V means no entry. A page
// whose ids are all gone is freed.
type IDTable[V comparable] struct {
	pages  [][]V
	counts []int32 // entries per page
	n      int
}

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

func split(id int64) (page, slot int) { return int(id >> pageBits), int(id & (pageSize - 1)) }

// Get returns id's value, the zero V if none.
func (t *IDTable[V]) Get(id int64) V {
	var zero V
	p, s := split(id)
	if id <= 0 || p >= len(t.pages) || t.pages[p] == nil {
		return zero
	}
	return t.pages[p][s]
}

// Set gives id a value; the zero V deletes it. id must be positive.
func (t *IDTable[V]) Set(id int64, v V) {
	var zero V
	if v == zero {
		t.Delete(id)
		return
	}
	if id <= 0 {
		panic("core: IDTable ids start at 1")
	}
	p, s := split(id)
	for p >= len(t.pages) {
		t.pages = append(t.pages, nil)
		t.counts = append(t.counts, 0)
	}
	if t.pages[p] == nil {
		t.pages[p] = make([]V, pageSize)
	}
	if t.pages[p][s] == zero {
		t.counts[p]++
		t.n++
	}
	t.pages[p][s] = v
}

// Delete removes id's value, if it has one.
func (t *IDTable[V]) Delete(id int64) {
	var zero V
	p, s := split(id)
	if id <= 0 || p >= len(t.pages) || t.pages[p] == nil || t.pages[p][s] == zero {
		return
	}
	t.pages[p][s] = zero
	t.n--
	if t.counts[p]--; t.counts[p] == 0 {
		t.pages[p] = nil
	}
}

// Len is the number of ids with a value.
func (t *IDTable[V]) Len() int { return t.n }

// All yields the ids with a value and their values, in id order.
func (t *IDTable[V]) All() iter.Seq2[int64, V] {
	return func(yield func(int64, V) bool) {
		var zero V
		for p, page := range t.pages {
			for s, v := range page {
				if v != zero && !yield(int64(p)<<pageBits|int64(s), v) {
					return
				}
			}
		}
	}
}

// Backward yields the ids with a value and their values, newest first.
func (t *IDTable[V]) Backward() iter.Seq2[int64, V] {
	return func(yield func(int64, V) bool) {
		var zero V
		for p := len(t.pages) - 1; p >= 0; p-- {
			page := t.pages[p]
			for s := len(page) - 1; s >= 0; s-- {
				if v := page[s]; v != zero && !yield(int64(p)<<pageBits|int64(s), v) {
					return
				}
			}
		}
	}
}
