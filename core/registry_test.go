package core

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func names(ws []*Worker) []string {
	var s []string
	for _, w := range ws {
		s = append(s, w.Name)
	}
	return s
}

func sortedDead(d []DeadWorker) []DeadWorker {
	slices.SortFunc(d, func(a, b DeadWorker) int { return strings.Compare(a.Name, b.Name) })
	return d
}

func TestRegistrySeen(t *testing.T) {
	r := NewRegistry(120 * sec)
	if r.Worker("w") != nil {
		t.Fatal("unknown worker found")
	}
	w := r.Seen("w", t0+5*sec)
	if w == nil || r.Worker("w") != w || w.Name != "w" || w.LastSeen != t0+5*sec {
		t.Fatalf("Seen registered %+v", w)
	}
	r.Seen("w", t0) // a late message does not make it older
	if w.LastSeen != t0+5*sec {
		t.Fatalf("LastSeen went back to %d", w.LastSeen)
	}
	r.Seen("w", t0+9*sec)
	if w.LastSeen != t0+9*sec || len(r.workers) != 1 {
		t.Fatalf("LastSeen %d, %d workers", w.LastSeen, len(r.workers))
	}
}

func TestRegistryExpire(t *testing.T) {
	tests := []struct {
		name     string
		interval int64 // declared check-in interval, 0 = none
		alive    int64 // still alive this long after the last message
	}{
		{"worker timeout", 0, 120 * sec},
		{"one second check-ins", sec, 3 * sec},
		{"long check-ins", 60 * sec, 180 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry(120 * sec)
			r.CheckIn("w", "working", tt.interval, t0)
			r.Hold("w", 7, Processing, t0)
			r.Hold("w", 3, Merging, t0)
			r.Seen("other", t0+tt.alive) // always alive here
			if dead := r.Expire(t0 + tt.alive); dead != nil {
				t.Fatalf("dead at the limit: %v", dead)
			}
			if got := names(r.Alive(t0 + tt.alive)); !reflect.DeepEqual(got, []string{"w", "other"}) {
				t.Fatalf("alive at the limit: %v", got)
			}
			if got := names(r.Alive(t0 + tt.alive + 1)); !reflect.DeepEqual(got, []string{"other"}) {
				t.Fatalf("alive just after the limit: %v", got)
			}
			dead := r.Expire(t0 + tt.alive + 1)
			if want := []DeadWorker{{Name: "w", Units: []int64{7, 3}}}; !reflect.DeepEqual(dead, want) {
				t.Fatalf("Expire = %v, want %v", dead, want)
			}
			if r.Worker("w") != nil {
				t.Fatal("dead worker kept")
			}
			if dead := r.Expire(t0 + tt.alive + 1); dead != nil {
				t.Fatalf("expired twice: %v", dead)
			}
		})
	}
}

func TestRegistryExpireMany(t *testing.T) {
	r := NewRegistry(10 * sec)
	r.Seen("a", t0)
	r.Hold("b", 1, Processing, t0)
	r.Seen("c", t0+5*sec)
	r.CheckIn("d", "", sec, t0+5*sec)
	dead := sortedDead(r.Expire(t0 + 10*sec + 1))
	want := []DeadWorker{{Name: "a"}, {Name: "b", Units: []int64{1}}, {Name: "d"}}
	if !reflect.DeepEqual(dead, want) {
		t.Fatalf("Expire = %v, want %v", dead, want)
	}
	if got := names(r.Alive(t0 + 10*sec + 1)); !reflect.DeepEqual(got, []string{"c"}) {
		t.Fatalf("alive %v", got)
	}
}

func TestRegistryHoldDrop(t *testing.T) {
	r := NewRegistry(120 * sec)
	r.Hold("w", 5, Splitting, t0+sec) // registers the worker
	r.Hold("w", 6, Processing, t0+2*sec)
	r.Hold("w", 9, Merging, t0+3*sec)
	w := r.Worker("w")
	if w == nil || !reflect.DeepEqual(w.Units, []int64{5, 6, 9}) || w.UnitStatus != Merging || w.LastSeen != t0+3*sec {
		t.Fatalf("after Hold: %+v", w)
	}
	steps := []struct {
		worker string
		unit   int64
		want   []int64
	}{
		{"w", 6, []int64{5, 9}},
		{"w", 6, []int64{5, 9}}, // not held
		{"x", 5, []int64{5, 9}}, // unknown worker
		{"w", 9, []int64{5}},
		{"w", 5, []int64{}},
	}
	for _, s := range steps {
		r.Drop(s.worker, s.unit)
		if !reflect.DeepEqual(w.Units, s.want) {
			t.Fatalf("Drop(%s, %d): units %v, want %v", s.worker, s.unit, w.Units, s.want)
		}
	}
	if r.Worker("x") != nil {
		t.Fatal("Drop registered a worker")
	}
}

func TestRegistryCheckInOut(t *testing.T) {
	r := NewRegistry(120 * sec)
	r.CheckIn("w", "busy", 2*sec, t0)
	r.Hold("w", 1, Processing, t0)
	r.Hold("w", 2, Processing, t0)
	if w := r.Worker("w"); w.ThreadStatus != "busy" || w.Interval != 2*sec {
		t.Fatalf("check-in: %+v", w)
	}
	r.CheckIn("w", "idle", 0, t0+sec) // no interval any more: the timeout rules
	if w := r.Worker("w"); w.ThreadStatus != "idle" || w.Interval != 0 || len(w.Units) != 2 {
		t.Fatalf("second check-in: %+v", w)
	}
	if dead := r.Expire(t0 + 100*sec); dead != nil {
		t.Fatalf("expired with the timeout in force: %v", dead)
	}
	if got := r.CheckOut("w"); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("CheckOut = %v", got)
	}
	if r.Worker("w") != nil || r.Alive(t0) != nil {
		t.Fatal("checked-out worker kept")
	}
	if got := r.CheckOut("w"); got != nil {
		t.Fatalf("second CheckOut = %v", got)
	}
	if got := r.CheckOut("never"); got != nil {
		t.Fatalf("CheckOut of an unknown worker = %v", got)
	}
}

func TestRegistryAlive(t *testing.T) {
	r := NewRegistry(60 * sec)
	for _, n := range []string{"w1", "w3", "a", "w2", "W9", "old"} {
		r.Seen(n, t0+10*sec)
	}
	r.Seen("old", t0)           // ignored: not older than what is known
	r.Seen("stale", t0-100*sec) // dead by t0
	got := names(r.Alive(t0 + 10*sec))
	if want := []string{"w3", "w2", "w1", "old", "a", "W9"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Alive = %v, want %v", got, want)
	}
	if r.Worker("stale") == nil {
		t.Fatal("Alive removed a dead worker; only Expire does")
	}
	if got := r.Alive(t0 + 71*sec); got != nil {
		t.Fatalf("Alive long after = %v", names(got))
	}
}

func TestIndex(t *testing.T) {
	x := NewIndex()
	type counts [6]int // by status code
	check := func(step string, want counts, limit int, ids []int64, total int) {
		t.Helper()
		for s := Status(0); s <= Merging; s++ {
			if got := x.Count(s); got != want[s] {
				t.Errorf("%s: Count(%v) = %d, want %d", step, s, got, want[s])
			}
		}
		if x.Count(6) != 0 || x.Count(200) != 0 {
			t.Errorf("%s: counts outside the statuses", step)
		}
		n := 0
		for _, c := range want {
			n += c
		}
		if x.Len() != n {
			t.Errorf("%s: Len = %d, want %d", step, x.Len(), n)
		}
		got, tot := x.Incomplete(limit)
		if !slices.Equal(got, ids) || tot != total {
			t.Errorf("%s: Incomplete(%d) = %v, %d; want %v, %d", step, limit, got, tot, ids, total)
		}
	}
	check("empty", counts{}, 10, []int64{}, 0)
	x.Set(1, Processing)
	x.Set(2, Splitting)
	x.Set(3, Succeeded) // complete at once (no inputs)
	x.Set(4, Processing)
	x.Set(5, Merging)
	check("created", counts{0, 2, 1, 0, 1, 1}, 10, []int64{1, 2, 4, 5}, 4)
	check("limited", counts{0, 2, 1, 0, 1, 1}, 2, []int64{1, 2}, 4)
	check("limit 0", counts{0, 2, 1, 0, 1, 1}, 0, []int64{}, 4)
	x.Set(2, Processing)
	x.Set(1, Failed)
	check("moved", counts{0, 2, 1, 1, 0, 1}, 10, []int64{2, 4, 5}, 3)
	x.Set(6, Processing)
	x.Set(5, Succeeded)
	check("more", counts{0, 3, 2, 1, 0, 0}, 2, []int64{2, 4}, 3)
	x.Remove(4)
	x.Remove(3)
	x.Remove(99)
	check("removed", counts{0, 2, 1, 1, 0, 0}, 10, []int64{2, 6}, 2)
	x.Remove(4)
	check("removed twice", counts{0, 2, 1, 1, 0, 0}, 10, []int64{2, 6}, 2)
}

func TestRing(t *testing.T) {
	check := func(r *ring[int], ref []int) {
		t.Helper()
		if r.len() != len(ref) {
			t.Fatalf("len %d, want %d", r.len(), len(ref))
		}
		for i, v := range ref {
			if got := r.buf[(r.head+i)%len(r.buf)]; got != v {
				t.Fatalf("item %d = %d, want %d (ref %v)", i, got, v, ref)
			}
		}
		if len(ref) > 0 && r.front() != ref[0] {
			t.Fatalf("front %d, want %d", r.front(), ref[0])
		}
	}
	// A fixed seed: the same sequence everywhere. It grows the ring several
	// times, wraps around both ways and empties it now and then.
	rnd := rand.New(rand.NewPCG(1, 2))
	var r ring[int]
	var ref []int
	for i := range 20000 {
		k := rnd.IntN(10)
		switch {
		case k < 4 || len(ref) == 0 && k < 7:
			r.push(i)
			ref = append(ref, i)
		case k < 7:
			r.pushFront(i)
			ref = append([]int{i}, ref...)
		default:
			if len(ref) == 0 {
				continue
			}
			if got := r.popFront(); got != ref[0] {
				t.Fatalf("op %d: popFront %d, want %d", i, got, ref[0])
			}
			ref = ref[1:]
		}
		check(&r, ref)
	}
	if len(r.buf) < 64 {
		t.Fatalf("the ring never grew past %d", len(r.buf))
	}
	for len(ref) > 0 {
		if got := r.popFront(); got != ref[0] {
			t.Fatalf("drain: popFront %d, want %d", got, ref[0])
		}
		ref = ref[1:]
	}
	check(&r, ref)

	// Explicit cases: wrap at the front of an empty ring, and growth while
	// wrapped.
	var w ring[int]
	w.pushFront(1) // head wraps to the end of the buffer
	w.push(2)
	w.pushFront(0)
	check(&w, []int{0, 1, 2})
	want := []int{0, 1, 2}
	for i := 3; i < 40; i++ {
		w.push(i)
		want = append(want, i)
	}
	check(&w, want)
	for i := -1; i > -30; i-- {
		w.pushFront(i)
		want = append([]int{i}, want...)
	}
	check(&w, want)
}
