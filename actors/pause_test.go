package actors

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/wire"
)

// Pausing an action (CloudCrowd's blacklist) is durable: it is in the log,
// in snapshots, and holds the action's units back after a restart.

type pauseRecord struct {
	ID     int64
	Action string
	At     time.Time
}

func pauseOf(t *testing.T, r Reply) pauseRecord {
	t.Helper()
	if r.Outcome != OK || r.Pause == nil {
		t.Fatalf("pause: outcome %d (%v), no pause record", r.Outcome, r.Err)
	}
	return pauseRecord{r.Pause.ID, r.Pause.Action, r.Pause.CreatedAt}
}

func pausedList(t *testing.T, c *Coordinator) []pauseRecord {
	t.Helper()
	ps, err := c.Paused()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]pauseRecord, len(ps))
	for i, p := range ps {
		out[i] = pauseRecord{p.ID, p.Action, p.CreatedAt}
	}
	return out
}

func samePauses(a, b []pauseRecord) bool {
	return slices.EqualFunc(a, b, func(x, y pauseRecord) bool {
		return x.ID == y.ID && x.Action == y.Action && x.At.Equal(y.At)
	})
}

// wantDequeue requires Dequeue to answer unit (0: nothing).
func wantDequeue(t *testing.T, c *Coordinator, worker, actions string, unit int64) wire.WorkUnit {
	t.Helper()
	r := mustOK(t, c.Dequeue(worker, actions))
	switch {
	case unit == 0 && r.Outcome != NoContent:
		t.Fatalf("Dequeue(%s, %s) = unit %d, want nothing", worker, actions, r.Unit.ID)
	case unit != 0 && (r.Outcome != OK || r.Unit.ID != unit):
		t.Fatalf("Dequeue(%s, %s) = %d %+v, want unit %d", worker, actions, r.Outcome, r.Unit, unit)
	}
	return r.Unit
}

func TestPauseSurvivesRestartAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	const gm, wc = "graphics_magick", "word_count"
	d := startDurable(t, dir)
	mustOK(t, d.c.CreateJob(JobSpec{Action: gm, Inputs: []string{"a"}, Options: []byte(`{}`)}))              // unit 1
	mustOK(t, d.c.CreateJob(JobSpec{Action: wc, Merge: true, Inputs: []string{"b"}, Options: []byte(`{}`)})) // unit 2
	before := time.Now()
	p := pauseOf(t, d.c.Pause(gm, true))
	if p.ID != 1 || p.Action != gm || p.At.Before(before) || p.At.After(time.Now()) {
		t.Fatalf("pause %+v", p)
	}
	want := []pauseRecord{p}
	wantDequeue(t, d.c, "w", gm, 0)

	// From the log.
	d.stop(t)
	d = startDurable(t, dir)
	if got := pausedList(t, d.c); !samePauses(got, want) {
		t.Fatalf("after a restart: paused %+v, want %+v", got, want)
	}
	wantDequeue(t, d.c, "w", gm, 0)
	wantDequeue(t, d.c, "w", gm+","+wc, 2)
	if again := pauseOf(t, d.c.Pause(gm, true)); !samePauses([]pauseRecord{again}, want) {
		t.Fatalf("pausing again after a restart answered %+v, want %+v", again, p)
	}

	// From a snapshot, the log before it trimmed.
	if err := d.snap.Take(); err != nil {
		t.Fatal(err)
	}
	d.stop(t)
	d = startDurable(t, dir)
	if d.wal.FirstIndex() <= 1 {
		t.Fatalf("the log was not trimmed behind the snapshot (first index %d)", d.wal.FirstIndex())
	}
	if got := pausedList(t, d.c); !samePauses(got, want) {
		t.Fatalf("after a snapshot and a restart: paused %+v, want %+v", got, want)
	}
	wantDequeue(t, d.c, "w", gm, 0)

	// Resumed after the snapshot: the log's record ends the snapshot's pause.
	if r := pauseOf(t, d.c.Pause(gm, false)); !samePauses([]pauseRecord{r}, want) {
		t.Fatalf("resume answered %+v, want %+v", r, p)
	}
	if r := d.c.Pause(gm, false); r.Outcome != NotFound {
		t.Fatalf("resuming twice: outcome %d, want NotFound", r.Outcome)
	}
	d.stop(t)
	d = startDurable(t, dir)
	defer d.stop(t)
	if got := pausedList(t, d.c); len(got) != 0 {
		t.Fatalf("after resuming and a restart: paused %+v", got)
	}
	wantDequeue(t, d.c, "w", gm, 1)
}

// Pauses and resumes while snapshots are taken: after a restart, the
// paused actions are those paused when the coordinator stopped.
func TestPauseTogglesDuringSnapshots(t *testing.T) {
	dir := t.TempDir()
	d := startDurable(t, dir)
	actions := []string{"a_one", "a_two", "a_three"}
	var wg sync.WaitGroup
	for k, a := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 + k { // a_two ends paused, the others resumed
				if r := d.c.Pause(a, i%2 == 0); r.Outcome != OK {
					t.Errorf("Pause(%s, %v): outcome %d %v", a, i%2 == 0, r.Outcome, r.Err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	snapshots := 0
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
		}
		if err := d.snap.Take(); err != nil {
			t.Fatal(err)
		}
		snapshots++
	}
	want := pausedList(t, d.c)
	if len(want) != 1 || want[0].Action != "a_two" {
		t.Fatalf("paused at the end: %+v, want a_two", want)
	}
	d.stop(t)
	d = startDurable(t, dir)
	defer d.stop(t)
	if got := pausedList(t, d.c); !samePauses(got, want) {
		t.Fatalf("after %d snapshots and a restart: paused %+v, want %+v", snapshots, got, want)
	}
	// Its units stay held back; a unit of another action is handed out.
	mustOK(t, d.c.CreateJob(JobSpec{Action: "a_two", Inputs: []string{"x"}, Options: []byte(`{}`)}))
	r := mustOK(t, d.c.CreateJob(JobSpec{Action: "a_one", Inputs: []string{"y"}, Options: []byte(`{}`)}))
	wantDequeue(t, d.c, "w", "a_two", 0)
	u := wantDequeue(t, d.c, "w", "a_two,a_one", r.Job.ID) // one unit per job: the unit id is the job id
	if u.JobID != r.Job.ID || u.Action != "a_one" {
		t.Fatalf("got %+v, want the unit of job %s", u, strconv.FormatInt(r.Job.ID, 10))
	}
}
