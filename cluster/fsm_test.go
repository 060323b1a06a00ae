package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/hashicorp/raft"
)

// applier applies events to f as committed entries, one index after the
// other.
func applier(tb testing.TB, f *FSM) func(core.Event) {
	index := uint64(0)
	return func(ev core.Event) {
		tb.Helper()
		index++
		if err := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: persistence.Encode(nil, ev)}); err != nil {
			tb.Fatalf("entry %d: %v", index, err)
		}
	}
}

// A replica applies deletions for weeks: it remembers only the last few
// thousand for a new leader to remove the files of again, and its copy for
// the new leader's coordinator carries them, the last one included.
func TestFSMRemembersTheLastDeletions(t *testing.T) {
	const jobs = 20000
	f := NewFSM()
	apply := applier(t, f)
	for id := int64(1); id <= jobs; id++ {
		apply(&core.JobCreated{Job: id, Action: "word_count", Inputs: []string{"a"}, MaxAttempts: 3, FirstUnit: id, At: 1})
		apply(&core.JobDeleted{Job: id, Seq: 2})
	}
	state, applied, err := f.Copy()
	if err != nil {
		t.Fatal(err)
	}
	if applied != 2*jobs {
		t.Fatalf("copy at entry %d, want %d", applied, 2*jobs)
	}
	var mu sync.Mutex
	removed := make(map[int64]bool)
	co, err := actors.Start(actors.Settings{WorkUnitRetries: 3, RequestTimeout: time.Second, Logger: quiet,
		RemoveFiles: func(action string, job int64) {
			mu.Lock()
			removed[job] = true
			mu.Unlock()
		}}, persistence.NewMemory(false), state)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Stop(t.Context())
	count := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		return len(removed), removed[jobs]
	}
	waitFor(t, "the last deletion's files removed", func() bool { n, last := count(); return last && n >= deletionsKept })
	time.Sleep(100 * time.Millisecond) // any removals still on their way
	if n, _ := count(); n > 2*deletionsKept {
		t.Fatalf("the new leader removed the files of %d deleted jobs again, want at most %d of %d", n, 2*deletionsKept, jobs)
	}
}

// A replica keeps the jobs that finish encoded, as the leader's directory
// does, not as live jobs: weeks of them would take nine times the memory.
// A finished job that an event changes again (a retry) is live again.
func TestFSMKeepsFinishedJobsEncoded(t *testing.T) {
	f := NewFSM()
	apply := applier(t, f)
	const jobs = 100
	for id := int64(1); id <= jobs; id++ {
		apply(&core.JobCreated{Job: id, Action: "word_count", Inputs: []string{"a"}, MaxAttempts: 1, FirstUnit: id, At: 1})
	}
	for id := int64(1); id <= jobs; id++ {
		apply(&core.UnitFinished{Job: id, Seq: 2, Unit: id, Succeeded: id%10 != 0, Output: []byte(`"out"`), Worker: "w", At: 2})
	}
	if active, done := len(f.state.Jobs), len(f.state.Finished); active != 0 || done != jobs {
		t.Fatalf("%d live jobs and %d encoded after every job finished, want 0 and %d", active, done, jobs)
	}
	apply(&core.UnitsRetried{Job: 10, Seq: 3, At: 3}) // job 10 failed
	if _, live := f.state.Jobs[10]; !live || len(f.state.Finished) != jobs-1 {
		t.Fatalf("after a retry of job 10: live %v, %d encoded", live, len(f.state.Finished))
	}
}

// A new leader's copy of the state does not change with the entries the
// FSM applies after it: its jobs are its own.
func TestFSMCopySharesNothingItChanges(t *testing.T) {
	f := NewFSM()
	apply := applier(t, f)
	apply(&core.JobCreated{Job: 1, Action: "word_count", Inputs: []string{"a", "b"}, MaxAttempts: 3, FirstUnit: 1, At: 1})
	apply(&core.JobCreated{Job: 2, Action: "word_count", Inputs: []string{"c"}, MaxAttempts: 3, FirstUnit: 3, At: 1})
	apply(&core.UnitFinished{Job: 2, Seq: 2, Unit: 3, Succeeded: true, Output: []byte(`1`), Worker: "w", At: 2})
	c, applied, err := f.Copy()
	if err != nil || applied != 3 {
		t.Fatalf("copy at %d: %v", applied, err)
	}
	apply(&core.UnitFinished{Job: 1, Seq: 2, Unit: 1, Succeeded: true, Output: []byte(`2`), Worker: "w", At: 3})
	apply(&core.JobDeleted{Job: 2, Seq: 3})
	apply(&core.JobCreated{Job: 3, Action: "word_count", Inputs: []string{"d"}, MaxAttempts: 3, FirstUnit: 4, At: 4})
	j := c.Jobs[1]
	if j == nil || j == f.state.Jobs[1] || j.Seq != 1 || len(j.Incomplete()) != 2 {
		t.Fatalf("the copy's job 1 changed with the FSM's: %+v", j)
	}
	if _, ok := c.Finished[2]; !ok || len(c.Jobs) != 1 || c.LastJob != 2 {
		t.Fatalf("the copy changed: jobs %v, finished %d, last job %d", c.Jobs, len(c.Finished), c.LastJob)
	}
}
