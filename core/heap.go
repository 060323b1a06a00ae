package core

// dueHeap is a min-heap (container/heap) of items by the time they are
// due, which keeps each item's place in it so that any item can leave in
// O(log n): the units backing off, by the end of their back-off, and the
// held POST /work requests, by the end of their wait.
type dueHeap[T interface {
	dueAt() int64
	heapIndex() *int
}] []T

func (h dueHeap[T]) Len() int           { return len(h) }
func (h dueHeap[T]) Less(i, j int) bool { return h[i].dueAt() < h[j].dueAt() }
func (h dueHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	*h[i].heapIndex(), *h[j].heapIndex() = i, j
}

func (h *dueHeap[T]) Push(x any) {
	e := x.(T)
	*e.heapIndex() = len(*h)
	*h = append(*h, e)
}

func (h *dueHeap[T]) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	var zero T
	old[n] = zero
	*h = old[:n]
	return e
}
