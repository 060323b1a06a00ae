package core

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Jobs whose finishes arrive out of order still leave oldest first, and a
// younger job that arrived first does not hold back the older ones behind
// it (what a queue did, and a retention test caught).
func TestExpiryTakesTheOldestFirstWhateverTheOrder(t *testing.T) {
	var x Expiry
	r := rand.New(rand.NewPCG(1, 2))
	ats := r.Perm(1000)
	for id, at := range ats {
		x.Add(int64(id+1), int64(at))
	}
	var got []int64
	take := func(id, at int64) bool {
		got = append(got, at)
		return id%10 != 0 // every tenth is stale: offered, not taken
	}
	if n := x.Due(499, 1<<30, take); n != 450 {
		t.Fatalf("took %d of the 500 due, want 450 (50 stale)", n)
	}
	if len(got) != 500 || !slices.IsSorted(got) || got[499] != 499 {
		t.Fatalf("offered %d entries (sorted %v, last %d); want the 500 due, oldest first", len(got), slices.IsSorted(got), got[len(got)-1])
	}
	if n := x.Due(999, 20, func(int64, int64) bool { return true }); n != 20 {
		t.Fatalf("a batch of 20: took %d", n)
	}
	got = nil
	if n := x.Due(999, 1<<30, func(id, at int64) bool { got = append(got, at); return true }); n != 480 || got[0] != 520 {
		t.Fatalf("the rest: took %d starting at %d, want 480 from 520", n, got[0])
	}
	if n := x.Due(1<<40, 10, func(int64, int64) bool { return true }); n != 0 {
		t.Fatalf("an empty expiry gave %d", n)
	}
}
