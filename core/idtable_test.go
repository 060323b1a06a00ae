package core

import (
	"maps"
	"slices"
	"testing"
)

func TestIDTable(t *testing.T) {
	var tab IDTable[uint8]
	want := map[int64]uint8{}
	set := func(id int64, v uint8) {
		tab.Set(id, v)
		if v == 0 {
			delete(want, id)
		} else {
			want[id] = v
		}
	}
	for _, id := range []int64{1, 2, pageSize - 1, pageSize, pageSize + 1, 5 * pageSize, 5*pageSize + 7} {
		set(id, uint8(id%250+1))
	}
	set(2, 9)              // overwrite
	set(pageSize+1, 0)     // the zero value deletes
	tab.Delete(pageSize)   // so does Delete
	delete(want, pageSize) //
	tab.Delete(77)         // no such id
	tab.Delete(-1)
	if tab.Len() != len(want) {
		t.Fatalf("Len %d, want %d", tab.Len(), len(want))
	}
	for id, v := range want {
		if got := tab.Get(id); got != v {
			t.Errorf("Get(%d) = %d, want %d", id, got, v)
		}
	}
	for _, id := range []int64{0, -5, 3, pageSize, 100 * pageSize} {
		if got := tab.Get(id); got != 0 {
			t.Errorf("Get(%d) = %d, want none", id, got)
		}
	}
	if got := maps.Collect(tab.All()); !maps.Equal(got, want) {
		t.Errorf("All %v, want %v", got, want)
	}
	var ids []int64
	for id := range tab.All() {
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("All out of id order: %v", ids)
	}
	var back []int64
	for id := range tab.Backward() {
		back = append(back, id)
	}
	slices.Reverse(back)
	if !slices.Equal(back, ids) {
		t.Errorf("Backward %v, want %v reversed", back, ids)
	}
	// A page whose ids are all gone is freed.
	for id := range want {
		if id >= 5*pageSize {
			tab.Delete(id)
		}
	}
	if tab.pages[5] != nil {
		t.Error("an empty page is still held")
	}
}
