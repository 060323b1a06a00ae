package core

import (
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/documentcloud/crowd/wire"
)

// enqueue registers job id for action (if new) and queues units with the
// given ids, input "in<id>".
func enqueue(q *Queue, job int64, action string, ids ...int64) {
	if q.Job(job) == nil {
		q.AddJob(&QueueJob{ID: job, Action: action, Options: []byte(`{"job":` + strconv.FormatInt(job, 10) + `}`)})
	}
	r := make([]Ready, len(ids))
	for i, id := range ids {
		r[i] = Ready{ID: id, Input: "in" + strconv.FormatInt(id, 10), Status: Processing}
	}
	q.Enqueue(job, r)
}

// lease returns the id of the unit the worker gets, 0 for none.
func lease(q *Queue, worker, actions string, now int64) int64 {
	if e := q.Lease(worker, actions, now); e != nil {
		return e.Unit
	}
	return 0
}

func wantStats(t *testing.T, q *Queue, incomplete, ready, leased, waiting int) {
	t.Helper()
	want := QueueStats{Incomplete: incomplete, Ready: ready, Leased: leased, Waiting: waiting}
	if got := q.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

func TestQueueLeaseOrder(t *testing.T) {
	type grab struct {
		worker, actions string
		want            int64
	}
	tests := []struct {
		name   string
		setup  func(q *Queue)
		grabs  []grab
		remain int // ready units left
	}{
		{"FIFO per action", func(q *Queue) {
			enqueue(q, 1, "a", 1, 2, 3)
			enqueue(q, 2, "a", 4, 5)
		}, []grab{{"w", "a", 1}, {"w", "a", 2}, {"v", "a", 3}, {"w", "a", 4}, {"w", "a", 5}, {"w", "a", 0}}, 0},
		{"FIFO is arrival order, not id order", func(q *Queue) {
			enqueue(q, 2, "a", 7, 8)
			enqueue(q, 1, "a", 3)
		}, []grab{{"w", "a", 7}, {"w", "a", 8}, {"w", "a", 3}}, 0},
		{"oldest head across the worker's actions", func(q *Queue) {
			enqueue(q, 1, "a", 1, 4)
			enqueue(q, 2, "b", 2, 3)
			enqueue(q, 3, "c", 5)
		}, []grab{{"w", "a,b", 1}, {"w", "b,a", 2}, {"w", "a,b", 3}, {"w", "a,b", 4}, {"w", "a,b", 0}, {"w", "c", 5}}, 0},
		{"nothing ready for the worker's actions", func(q *Queue) {
			enqueue(q, 1, "a", 1)
		}, []grab{{"w", "b", 0}, {"w", "", 0}, {"w", "A", 0}}, 1},
		{"unknown action names are ignored", func(q *Queue) {
			enqueue(q, 1, "a", 1, 2)
			enqueue(q, 2, "b", 3)
		}, []grab{{"w", "x,a,y", 1}, {"w", "nope", 0}, {"w", "zzz,b", 3}, {"w", ",,a,", 2}}, 0},
		{"spaces and repeated names", func(q *Queue) {
			enqueue(q, 1, "a", 1, 2)
			enqueue(q, 2, "b", 3)
		}, []grab{{"w", " b , a ,a", 1}, {"w", "a,a", 2}, {"w", " b", 3}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(0, 0)
			tt.setup(q)
			for i, g := range tt.grabs {
				if got := lease(q, g.worker, g.actions, t0); got != g.want {
					t.Fatalf("lease %d (%s, %q) = %d, want %d", i, g.worker, g.actions, got, g.want)
				}
			}
			if q.Stats().Ready != tt.remain {
				t.Fatalf("stats %+v, want %d ready", q.Stats(), tt.remain)
			}
		})
	}
}

func TestQueueLeaseEntry(t *testing.T) {
	q := NewQueue(0, 0)
	q.AddJob(&QueueJob{ID: 3, Action: "word_count", Options: []byte(`{"x":1}`)})
	q.Enqueue(3, []Ready{{ID: 7, Input: "text", Status: Splitting, Attempts: 2}})
	q.AddJob(&QueueJob{ID: 4, Action: "word_count"})
	q.Enqueue(4, []Ready{{ID: 8, Input: "more", Status: Merging}})
	q.Enqueue(99, []Ready{{ID: 9}}) // an unknown job: ignored
	q.Enqueue(4, nil)
	wantStats(t, q, 2, 2, 0, 0)

	e := q.Lease("w1", "word_count", t0+5)
	if e == nil || e.Unit != 7 || e.Job.ID != 3 || e.Input != "text" || e.Status != Splitting || e.Attempts != 2 ||
		e.Worker != "w1" || e.LeasedAt != t0+5 || q.Entry(7) != e {
		t.Fatalf("leased %+v", e)
	}
	want := wire.WorkUnit{ID: 7, JobID: 3, Input: "text", Attempts: 2, Action: "word_count", Options: []byte(`{"x":1}`), Status: 4}
	if got := e.View(); !reflect.DeepEqual(got, want) {
		t.Fatalf("view %+v, want %+v", got, want)
	}
	v := q.Lease("w1", "word_count", t0).View()
	if got := string(v.AppendJSON(nil)); got != `{"id":8,"job_id":4,"input":"more","attempts":0,"action":"word_count","options":{},"status":5}` {
		t.Fatalf("second unit %s", got)
	}
	if q.Entry(9) != nil {
		t.Fatal("a unit of an unknown job was queued")
	}
	wantStats(t, q, 2, 0, 2, 0)
}

func TestQueueReport(t *testing.T) {
	// Job 1 (a): 1 leased to w1, 2 completed, 3 ready, 4 reported by w1
	// and waiting for its job's verdict. Job 2 (b): 10 leased to w2.
	setup := func() *Queue {
		q := NewQueue(0, 0)
		enqueue(q, 1, "a", 1, 2, 3, 4)
		enqueue(q, 2, "b", 10)
		lease(q, "w1", "a", t0)
		lease(q, "w2", "a", t0)
		if _, err := q.Report(2, "w2"); err != nil {
			panic(err)
		}
		q.Settle(2)
		q.Lease("w1", "a", t0) // 3
		q.Lease("w1", "a", t0) // 4
		if _, err := q.Report(4, "w1"); err != nil {
			panic(err)
		}
		q.Release("w1", []int64{3}) // 3 is ready again
		lease(q, "w2", "b", t0)
		return q
	}
	tests := []struct {
		name   string
		unit   int64
		worker string
		want   error
	}{
		{"the holder", 1, "w1", nil},
		{"the holder of another job's unit", 10, "w2", nil},
		{"another worker", 1, "w2", ErrNotLeased},
		{"no worker name", 1, "", ErrNotLeased},
		{"a ready unit", 3, "w1", ErrNotLeased},
		{"a completed unit of a live job", 2, "w2", ErrNotLeased},
		{"a reported unit", 4, "w1", ErrNotLeased},
		{"an id no job had", 99, "w1", ErrUnknownUnit},
		{"an id between jobs", 5, "w1", ErrUnknownUnit},
		{"id 0", 0, "w1", ErrUnknownUnit},
		{"a negative id", -1, "w1", ErrUnknownUnit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := setup()
			before := q.Stats()
			e, err := q.Report(tt.unit, tt.worker)
			if tt.want != nil {
				if !errors.Is(err, tt.want) || e != nil {
					t.Fatalf("Report = %v, %v; want %v", e, err, tt.want)
				}
				if q.Stats() != before {
					t.Fatalf("a refused report changed the stats: %+v, before %+v", q.Stats(), before)
				}
				return
			}
			if err != nil || e == nil || e.Unit != tt.unit || e.Worker != "" {
				t.Fatalf("Report = %+v, %v", e, err)
			}
			want := before
			want.Leased--
			if q.Stats() != want {
				t.Fatalf("stats %+v, want %+v", q.Stats(), want)
			}
			if _, err := q.Report(tt.unit, tt.worker); !errors.Is(err, ErrNotLeased) {
				t.Fatalf("second report: %v", err)
			}
		})
	}
}

// TestQueueOwnersOutOfOrder queues units out of id order, as a restart does
// (each job's incomplete units, jobs in id order, while a split's children
// have higher ids than a later job's units) and as job actors racing to the
// dispatcher may: a completed unit of a live job must still answer
// ErrNotLeased.
func TestQueueOwnersOutOfOrder(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 2, 10, 11) // split unit 2, children 10 and 11
	enqueue(q, 2, "a", 5, 6)
	enqueue(q, 3, "a", 3)
	for range 6 {
		e := q.Lease("w", "a", t0)
		if _, err := q.Report(e.Unit, "w"); err != nil {
			t.Fatal(err)
		}
		q.Settle(e.Unit)
	}
	for _, id := range []int64{2, 3, 5, 6, 10, 11} {
		if _, err := q.Report(id, "w"); !errors.Is(err, ErrNotLeased) {
			t.Errorf("Report(%d) of a completed unit: %v, want ErrNotLeased", id, err)
		}
	}
	for _, id := range []int64{1, 4, 7, 9, 12} {
		if _, err := q.Report(id, "w"); !errors.Is(err, ErrUnknownUnit) {
			t.Errorf("Report(%d) of no unit: %v, want ErrUnknownUnit", id, err)
		}
	}
	q.DropJob(2, nil)
	for _, c := range []struct {
		id   int64
		want error
	}{{5, ErrUnknownUnit}, {6, ErrUnknownUnit}, {3, ErrNotLeased}, {10, ErrNotLeased}} {
		if _, err := q.Report(c.id, "w"); !errors.Is(err, c.want) {
			t.Errorf("after dropping job 2: Report(%d): %v, want %v", c.id, err, c.want)
		}
	}
}

func TestQueueDropJob(t *testing.T) {
	q := NewQueue(100*sec, 0)
	enqueue(q, 1, "a", 1, 2, 3, 4)
	enqueue(q, 2, "a", 5)
	lease(q, "w1", "a", t0) // 1
	lease(q, "w1", "a", t0) // 2
	lease(q, "w1", "a", t0) // 3
	q.Report(3, "w1")
	q.Requeue(3, 1, 5*sec, t0) // waiting
	wantStats(t, q, 5, 2, 2, 1)

	q.DropJob(1, []int64{1, 2, 3, 4})
	wantStats(t, q, 1, 1, 0, 0)
	for _, id := range []int64{1, 2, 3, 4} {
		if _, err := q.Report(id, "w1"); !errors.Is(err, ErrUnknownUnit) {
			t.Errorf("Report(%d) after DropJob: %v", id, err)
		}
		if q.Entry(id) != nil {
			t.Errorf("entry %d survived DropJob", id)
		}
	}
	if q.Job(1) != nil {
		t.Error("job 1 survived DropJob")
	}
	if exp := q.Tick(t0 + 200*sec); exp != nil {
		t.Fatalf("dropped leases expired: %v", exp)
	}
	q.Release("w1", []int64{1, 2})
	if got := q.Recover("w1", []int64{1, 2}); got != nil {
		t.Fatalf("recovered dropped units %v", got)
	}
	if got := lease(q, "w2", "a", t0+200*sec); got != 5 {
		t.Fatalf("lease after drop = %d, want 5", got)
	}
	if got := lease(q, "w2", "a", t0+200*sec); got != 0 {
		t.Fatalf("a dropped unit was leased: %d", got)
	}
	wantStats(t, q, 1, 0, 1, 0)
}

// TestQueueDropManyJobs drops enough jobs to compact the owner ranges and
// checks that the survivors' units are still told apart from unknown ones.
func TestQueueDropManyJobs(t *testing.T) {
	q := NewQueue(0, 0)
	for j := int64(1); j <= 20; j++ {
		enqueue(q, j, "a", 2*j, 2*j+1)
	}
	for j := int64(1); j <= 20; j++ {
		if j%4 != 0 {
			q.DropJob(j, []int64{2 * j, 2*j + 1})
		}
	}
	wantStats(t, q, 10, 10, 0, 0)
	for j := int64(1); j <= 20; j++ {
		u := 2 * j
		if j%4 != 0 {
			if _, err := q.Report(u, "w"); !errors.Is(err, ErrUnknownUnit) {
				t.Errorf("unit %d of dropped job %d: %v", u, j, err)
			}
			continue
		}
		if _, err := q.Report(u, "w"); !errors.Is(err, ErrNotLeased) {
			t.Errorf("ready unit %d of live job %d: %v", u, j, err)
		}
		if got := lease(q, "w", "a", t0); got != u {
			t.Fatalf("lease = %d, want %d", got, u)
		}
		q.Report(u, "w")
		q.Settle(u)
		if _, err := q.Report(u, "w"); !errors.Is(err, ErrNotLeased) {
			t.Errorf("completed unit %d of live job %d: %v", u, j, err)
		}
		if got := lease(q, "w", "a", t0); got != u+1 {
			t.Fatalf("lease = %d, want %d", got, u+1)
		}
	}
}

func TestQueueFailedUnitNotHandedBack(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2)
	lease(q, "w1", "a", t0)
	if _, err := q.Report(1, "w1"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, q, 2, 1, 0, 0)
	if got := lease(q, "w1", "a", t0); got != 2 {
		t.Fatalf("lease after a failure = %d, want 2", got)
	}
	if got := lease(q, "w1", "a", t0); got != 0 {
		t.Fatalf("the failed unit came straight back: %d", got)
	}
	wantStats(t, q, 2, 0, 1, 0)

	enqueue(q, 2, "a", 3)
	q.Requeue(1, 1, 0, t0)
	wantStats(t, q, 3, 2, 1, 0)
	q.Requeue(1, 5, 0, t0) // not reported any more: ignored
	q.Requeue(2, 5, 0, t0) // leased: ignored
	q.Requeue(42, 1, 0, t0)
	wantStats(t, q, 3, 2, 1, 0)
	e := q.Lease("w2", "a", t0)
	if e == nil || e.Unit != 1 || e.Attempts != 1 {
		t.Fatalf("after Requeue with no delay: %+v, want unit 1 at the front with 1 attempt", e)
	}
	if got := lease(q, "w2", "a", t0); got != 3 {
		t.Fatalf("lease = %d, want 3", got)
	}
	if q.Entry(2).Attempts != 0 {
		t.Fatal("an ignored Requeue changed attempts")
	}
}

func TestQueueRequeueFront(t *testing.T) {
	// Unit 9 arrived first, so a retry of it goes before units that arrived
	// later, even with smaller ids.
	q := NewQueue(0, 0)
	enqueue(q, 2, "a", 9)
	enqueue(q, 1, "a", 3, 4)
	lease(q, "w", "a", t0)
	q.Report(9, "w")
	q.Requeue(9, 1, 0, t0)
	if got := lease(q, "v", "a", t0); got != 9 {
		t.Fatalf("lease = %d, want the requeued unit 9", got)
	}
}

func TestQueueBackoff(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2)
	lease(q, "w1", "a", t0)
	q.Report(1, "w1")
	q.Requeue(1, 2, 5*sec, t0)
	wantStats(t, q, 2, 1, 0, 1)
	enqueue(q, 2, "a", 3)

	steps := []struct {
		tick  int64 // Tick(now) first, unless 0
		now   int64
		lease int64
		stats [4]int
	}{
		{0, t0 + sec, 2, [4]int{3, 1, 1, 1}},
		{t0 + 5*sec - 1, t0 + 5*sec - 1, 3, [4]int{3, 0, 2, 1}},
		{0, t0 + 5*sec - 1, 0, [4]int{3, 0, 2, 1}},
		{t0 + 5*sec, t0 + 5*sec, 1, [4]int{3, 0, 3, 0}},
	}
	for i, s := range steps {
		if s.tick != 0 {
			if exp := q.Tick(s.tick); exp != nil {
				t.Fatalf("step %d: Tick expired %v", i, exp)
			}
		}
		e := q.Lease("w2", "a", s.now)
		got := int64(0)
		if e != nil {
			got = e.Unit
		}
		if got != s.lease {
			t.Fatalf("step %d: lease = %d, want %d", i, got, s.lease)
		}
		if got == 1 && e.Attempts != 2 {
			t.Fatalf("step %d: attempts %d, want 2", i, e.Attempts)
		}
		wantStats(t, q, s.stats[0], s.stats[1], s.stats[2], s.stats[3])
	}
}

func TestQueueBackoffToFront(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1)
	lease(q, "w", "a", t0)
	q.Report(1, "w")
	q.Requeue(1, 1, 3*sec, t0)
	enqueue(q, 2, "a", 2, 3)
	q.Tick(t0 + 3*sec)
	for _, want := range []int64{1, 2, 3, 0} {
		if got := lease(q, "w", "a", t0+3*sec); got != want {
			t.Fatalf("lease = %d, want %d", got, want)
		}
	}
	// Units whose back-off ends in the same tick all become ready.
	q = NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2, 3)
	for range 3 {
		lease(q, "w", "a", t0)
	}
	for i, id := range []int64{2, 1, 3} {
		q.Report(id, "w")
		q.Requeue(id, 1, int64(i+1)*sec, t0)
	}
	q.Tick(t0 + 2*sec)
	wantStats(t, q, 3, 2, 0, 1)
	q.Tick(t0 + 10*sec)
	wantStats(t, q, 3, 3, 0, 0)
}

func TestQueueRelease(t *testing.T) {
	q := NewQueue(100*sec, 0)
	enqueue(q, 1, "a", 1, 2, 3)
	lease(q, "w1", "a", t0)
	q.Report(1, "w1")
	q.Requeue(1, 2, 0, t0)
	for _, w := range []string{"w1", "w1", "w2"} {
		lease(q, w, "a", t0) // 1 and 2 to w1, 3 to w2
	}
	enqueue(q, 2, "a", 4)
	wantStats(t, q, 4, 1, 3, 0)

	q.Release("w2", []int64{1, 2}) // not w2's
	q.Release("w1", []int64{99})   // no such unit
	wantStats(t, q, 4, 1, 3, 0)
	q.Release("w1", []int64{1, 2, 3})
	wantStats(t, q, 4, 3, 1, 0)
	if e := q.Entry(3); e.Worker != "w2" {
		t.Fatalf("w2's unit was released: %+v", e)
	}
	// Back at the front, in the order the worker took them, attempts kept.
	for _, want := range []struct {
		unit     int64
		attempts int
	}{{1, 2}, {2, 0}, {4, 0}} {
		e := q.Lease("w3", "a", t0+60*sec)
		if e == nil || e.Unit != want.unit || e.Attempts != want.attempts {
			t.Fatalf("lease = %+v, want unit %d with %d attempts", e, want.unit, want.attempts)
		}
	}
	// The released leases' timeout records are stale.
	if exp := q.Tick(t0 + 101*sec); len(exp) != 1 || exp[0].Entry.Unit != 3 {
		t.Fatalf("Tick expired %v, want only unit 3", exp)
	}
}

func TestQueueRecover(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2, 3, 4)
	for _, w := range []string{"w1", "w1", "w1", "w2"} {
		lease(q, w, "a", t0)
	}
	q.Report(2, "w1")
	got := q.Recover("w1", []int64{1, 2, 3, 4, 77})
	if len(got) != 2 || got[0].Unit != 1 || got[1].Unit != 3 {
		t.Fatalf("Recover = %v, want units 1 and 3", got)
	}
	wantStats(t, q, 4, 0, 1, 0)
	if _, err := q.Report(1, "w1"); !errors.Is(err, ErrNotLeased) {
		t.Fatalf("report of a recovered unit: %v", err)
	}
	if again := q.Recover("w1", []int64{1, 2, 3}); again != nil {
		t.Fatalf("recovered twice: %v", again)
	}
	if got := lease(q, "w3", "a", t0); got != 0 {
		t.Fatalf("a recovered unit is ready before its job decided: %d", got)
	}
	// The job counts the attempt and requeues it.
	q.Requeue(1, 1, 0, t0)
	q.Settle(3) // its last attempt: failed for good
	wantStats(t, q, 3, 1, 1, 0)
	if e := q.Lease("w3", "a", t0); e == nil || e.Unit != 1 || e.Attempts != 1 {
		t.Fatalf("lease = %+v", e)
	}
}

func TestQueueUnitTimeout(t *testing.T) {
	t.Run("expires old leases only", func(t *testing.T) {
		q := NewQueue(100*sec, 0)
		enqueue(q, 1, "a", 1, 2, 3)
		lease(q, "w1", "a", t0)
		lease(q, "w2", "a", t0+10*sec)
		if exp := q.Tick(t0 + 99*sec); exp != nil {
			t.Fatalf("expired early: %v", exp)
		}
		exp := q.Tick(t0 + 101*sec)
		if len(exp) != 1 || exp[0].Entry.Unit != 1 || exp[0].Worker != "w1" || exp[0].Entry.Worker != "" {
			t.Fatalf("Tick = %v, want unit 1", exp)
		}
		wantStats(t, q, 3, 1, 1, 0)
		if _, err := q.Report(1, "w1"); !errors.Is(err, ErrNotLeased) {
			t.Fatalf("report of an expired unit: %v", err)
		}
		if got := lease(q, "w3", "a", t0+101*sec); got != 3 {
			t.Fatalf("an expired unit is ready before its job decided: lease %d", got)
		}
		if exp := q.Tick(t0 + 111*sec); len(exp) != 1 || exp[0].Entry.Unit != 2 {
			t.Fatalf("Tick = %v, want unit 2", exp)
		}
		if exp := q.Tick(t0 + 1000*sec); len(exp) != 1 || exp[0].Entry.Unit != 3 {
			t.Fatalf("Tick = %v, want unit 3", exp)
		}
		wantStats(t, q, 3, 0, 0, 0)
	})
	t.Run("a unit leased again is timed from its new lease", func(t *testing.T) {
		q := NewQueue(100*sec, 0)
		enqueue(q, 1, "a", 1)
		lease(q, "w1", "a", t0)
		q.Report(1, "w1")
		q.Requeue(1, 1, 0, t0+10*sec)
		if got := lease(q, "w2", "a", t0+50*sec); got != 1 {
			t.Fatalf("lease = %d", got)
		}
		if exp := q.Tick(t0 + 101*sec); exp != nil {
			t.Fatalf("the second lease expired with the first: %v", exp)
		}
		if e := q.Entry(1); e.Worker != "w2" || e.LeasedAt != t0+50*sec {
			t.Fatalf("entry %+v", e)
		}
		if exp := q.Tick(t0 + 151*sec); len(exp) != 1 || exp[0].Entry.Unit != 1 {
			t.Fatalf("Tick = %v, want unit 1", exp)
		}
	})
	t.Run("reported and settled units do not expire", func(t *testing.T) {
		q := NewQueue(100*sec, 0)
		enqueue(q, 1, "a", 1, 2)
		lease(q, "w1", "a", t0)
		lease(q, "w1", "a", t0)
		q.Report(1, "w1")
		q.Settle(1)
		q.Settle(2) // settled while leased (its job was decided elsewhere)
		if exp := q.Tick(t0 + 200*sec); exp != nil {
			t.Fatalf("Tick = %v", exp)
		}
		wantStats(t, q, 0, 0, 0, 0)
	})
	t.Run("no timeout", func(t *testing.T) {
		q := NewQueue(0, 0)
		enqueue(q, 1, "a", 1)
		lease(q, "w1", "a", t0)
		if exp := q.Tick(t0 + 1e6*sec); exp != nil {
			t.Fatalf("Tick = %v", exp)
		}
		wantStats(t, q, 1, 0, 1, 0)
	})
}

func TestQueueSettle(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2, 3, 4)
	lease(q, "w", "a", t0) // 1
	lease(q, "w", "a", t0) // 2
	q.Report(2, "w")
	q.Requeue(2, 1, sec, t0)
	wantStats(t, q, 4, 2, 1, 1)
	q.Settle(3) // ready
	wantStats(t, q, 3, 1, 1, 1)
	q.Settle(2) // waiting
	wantStats(t, q, 2, 1, 1, 0)
	q.Settle(1) // leased
	wantStats(t, q, 1, 1, 0, 0)
	q.Settle(1)
	q.Settle(99)
	wantStats(t, q, 1, 1, 0, 0)
	q.Tick(t0 + 5*sec)
	if got := lease(q, "w", "a", t0); got != 4 {
		t.Fatalf("lease = %d, want 4", got)
	}
	if got := lease(q, "w", "a", t0); got != 0 {
		t.Fatalf("a settled unit was leased: %d", got)
	}
}

// TestQueueStatsSteps follows the counts through a unit's whole life.
func TestQueueStatsSteps(t *testing.T) {
	q := NewQueue(10*sec, 0)
	steps := []struct {
		name  string
		do    func()
		stats QueueStats
	}{
		{"empty", func() {}, QueueStats{}},
		{"enqueue 3", func() { enqueue(q, 1, "a", 1, 2, 3) }, QueueStats{3, 3, 0, 0}},
		{"lease 1", func() { lease(q, "w", "a", t0) }, QueueStats{3, 2, 1, 0}},
		{"lease 2", func() { lease(q, "w", "a", t0) }, QueueStats{3, 1, 2, 0}},
		{"report 1", func() { q.Report(1, "w") }, QueueStats{3, 1, 1, 0}},
		{"settle 1", func() { q.Settle(1) }, QueueStats{2, 1, 1, 0}},
		{"report 2", func() { q.Report(2, "w") }, QueueStats{2, 1, 0, 0}},
		{"requeue 2 later", func() { q.Requeue(2, 1, sec, t0) }, QueueStats{2, 1, 0, 1}},
		{"tick", func() { q.Tick(t0 + sec) }, QueueStats{2, 2, 0, 0}},
		{"lease 2 again", func() { lease(q, "w", "a", t0+sec) }, QueueStats{2, 1, 1, 0}},
		{"lease 3", func() { lease(q, "v", "a", t0+2*sec) }, QueueStats{2, 0, 2, 0}},
		{"unit timeout", func() { q.Tick(t0 + 11*sec + 1) }, QueueStats{2, 0, 1, 0}},
		{"requeue 2", func() { q.Requeue(2, 2, 0, t0) }, QueueStats{2, 1, 1, 0}},
		{"release 3", func() { q.Release("v", []int64{3}) }, QueueStats{2, 2, 0, 0}},
		{"drop the job", func() { q.DropJob(1, []int64{2, 3}) }, QueueStats{}},
	}
	for _, s := range steps {
		s.do()
		if got := q.Stats(); got != s.stats {
			t.Fatalf("%s: stats %+v, want %+v", s.name, got, s.stats)
		}
	}
}

func TestQueueWorkerActionsCache(t *testing.T) {
	q := NewQueue(0, 0)
	if got := lease(q, "w", "b", t0); got != 0 {
		t.Fatalf("lease from an empty queue = %d", got)
	}
	enqueue(q, 1, "a", 1)
	if got := lease(q, "w", "a,b", t0); got != 1 {
		t.Fatalf("lease = %d, want 1", got)
	}
	if got := lease(q, "w", "a,b", t0); got != 0 {
		t.Fatalf("lease = %d, want none", got)
	}
	// b's first job arrives after the worker asked for a,b and b.
	enqueue(q, 2, "b", 2)
	if got := lease(q, "w", "a,b", t0); got != 2 {
		t.Fatalf("lease = %d, want b's unit 2", got)
	}
	enqueue(q, 3, "b", 3)
	if got := lease(q, "w", "b", t0); got != 3 {
		t.Fatalf("lease = %d, want 3", got)
	}
	// Many distinct action lists: the cache is bounded, answers stay right.
	for i := range 5000 {
		lease(q, "w", "x"+strconv.Itoa(i), t0)
	}
	enqueue(q, 4, "a", 4)
	if got := lease(q, "w", "x1,a", t0); got != 4 {
		t.Fatalf("lease = %d, want 4", got)
	}
	if n := len(q.workerSets); n > 4096 {
		t.Fatalf("%d cached action lists", n)
	}
}

// A unit queued again when its job is retried is not recorded as the job's
// twice: overlapping ranges broke the lookup that tells a late report on a
// live job's unit (409) from one on no live job's (404).
func TestQueueOwnerAfterARetry(t *testing.T) {
	q := NewQueue(0, 0)
	enqueue(q, 1, "a", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	enqueue(q, 2, "a", 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	for range 10 { // units 1 to 10 succeed
		e := q.Lease("w", "a", t0)
		if _, err := q.Report(e.Unit, "w"); err != nil {
			t.Fatal(err)
		}
		q.Settle(e.Unit)
	}
	enqueue(q, 1, "a", 5) // job 1 retried: unit 5 runs again
	for _, unit := range []int64{1, 7, 10, 12} {
		if _, err := q.Report(unit, "w"); !errors.Is(err, ErrNotLeased) {
			t.Errorf("a late report on unit %d of a live job: %v, want ErrNotLeased", unit, err)
		}
	}
	if _, err := q.Report(21, "w"); !errors.Is(err, ErrUnknownUnit) {
		t.Errorf("a report on unit 21, which no job has: %v, want ErrUnknownUnit", err)
	}
}
