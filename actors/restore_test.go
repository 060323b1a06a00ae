package actors

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/wire"
)

func startTest(t *testing.T, j persistence.Journal, state *State) *Coordinator {
	t.Helper()
	c, err := Start(Settings{WorkUnitRetries: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, j, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}

func mustOK(t testing.TB, r Reply) Reply {
	t.Helper()
	if r.Outcome != OK && r.Outcome != NoContent {
		t.Fatalf("outcome %d: %v", r.Outcome, r.Err)
	}
	return r
}

// drain leases every ready unit of actions to worker and returns them.
func drain(t *testing.T, c *Coordinator, worker, actions string) []wire.WorkUnit {
	var units []wire.WorkUnit
	for {
		r := mustOK(t, c.Dequeue(worker, actions))
		if r.Outcome == NoContent {
			return units
		}
		units = append(units, r.Unit)
	}
}

// A journal replayed into a new coordinator gives the same jobs, the same
// incomplete units (ready again: leases are not journaled), and ids that
// continue above the old ones.
func TestRestoreRebuildsWhatTheJournalHolds(t *testing.T) {
	journal := persistence.NewMemory(true)
	c := startTest(t, journal, nil)
	const acts = "word_count,graphics_magick,process_pdfs"
	specs := []JobSpec{
		{Action: "word_count", Merge: true, Inputs: []string{"a b", "c"}, Options: []byte(`{}`)},
		{Action: "graphics_magick", Inputs: []string{"x", "y", "z"}, Options: []byte(`{"size":3}`)},
		{Action: "process_pdfs", Split: true, Merge: true, Inputs: []string{"doc1", "doc2"}, Options: []byte(`{}`)},
		{Action: "graphics_magick", Inputs: []string{"gone"}, Options: []byte(`{}`)},
		{Action: "graphics_magick", Inputs: nil, Options: []byte(`{}`)},
	}
	for _, s := range specs {
		mustOK(t, c.CreateJob(s))
	}
	units := drain(t, c, "w", acts)
	// Complete some, fail one twice (for good) and one once (retried), leave the rest leased.
	report := func(u wire.WorkUnit, ok bool, out string) {
		mustOK(t, c.Complete(Report{Unit: u.ID, Worker: "w", Succeeded: ok, Output: []byte(out)}))
	}
	byInput := map[string]wire.WorkUnit{}
	for _, u := range units {
		byInput[u.Input] = u
	}
	report(byInput["a b"], true, "2")
	report(byInput["c"], true, "1") // word_count now merging
	report(byInput["x"], false, `"bad"`)
	report(byInput["doc1"], true, `["p1","p2"]`)
	mustOK(t, c.DeleteJob(4))
	merge := drain(t, c, "w", acts) // the merge unit, the split's children, the retried x
	if len(merge) != 4 {
		t.Fatalf("after the reports, %d units ready, want 4: %+v", len(merge), merge)
	}
	for _, u := range merge {
		if u.Input == "x" {
			report(u, false, `"worse"`) // second attempt: x fails for good
		}
		if u.Input == "p1" {
			report(u, true, `"page one"`)
		}
	}

	live := map[int64]wire.Job{}
	for id := int64(1); id <= 5; id++ {
		if r := c.Job(id); r.Outcome == OK {
			live[id] = *r.Job
		}
	}
	if _, ok := live[4]; ok || len(live) != 4 {
		t.Fatalf("live jobs %v: want 1,2,3,5 (4 deleted)", slices.Sorted(maps.Keys(live)))
	}

	state, err := Restore(journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if state.Len() != 4 {
		t.Fatalf("restored %d jobs, want 4", state.Len())
	}
	at := time.Now().UnixNano()
	for id, want := range live {
		j := state.Jobs[id]
		if enc, ok := state.Finished[id]; ok {
			st, err := persistence.DecodeJob(enc)
			if err != nil {
				t.Fatal(err)
			}
			j = core.RestoreJob(st)
		}
		got := j.View(at)
		got.TimeTaken, want.TimeTaken = 0, 0
		if string(got.AppendJSON(nil)) != string(want.AppendJSON(nil)) {
			t.Errorf("job %d restored as %s, want %s", id, got.AppendJSON(nil), want.AppendJSON(nil))
		}
	}

	// A coordinator started on the restored state has every incomplete unit
	// ready, including those that were leased, with their attempts.
	c2 := startTest(t, persistence.NewMemory(true), state)
	var want []int64
	for _, j := range state.Jobs {
		for _, r := range j.Incomplete() {
			want = append(want, r.ID)
		}
	}
	var got []int64
	for _, u := range drain(t, c2, "w2", acts) {
		got = append(got, u.ID)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("restored coordinator hands out units %v, want %v (in id order)", got, want)
	}
	// Ids continue above every id the journal held.
	r := mustOK(t, c2.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"new"}, Options: []byte(`{}`)}))
	if r.Job.ID != 6 {
		t.Fatalf("new job id %d, want 6", r.Job.ID)
	}
	u := drain(t, c2, "w2", "graphics_magick")
	if len(u) != 1 || u[0].ID <= state.LastUnit {
		t.Fatalf("new unit %+v, want one id above %d", u, state.LastUnit)
	}
}
