package cluster

import (
	"fmt"
	"testing"

	"github.com/documentcloud/crowd/core"
)

// BenchmarkFSM measures, over a state of finished 1-input jobs and 1,000
// active jobs of 100 inputs, what a new leader pays before its coordinator
// starts (copy: Node.Lead's FSM.Copy) and how long raft's snapshot holds
// the FSM, which applies no entry meanwhile (snapshot; its Persist, the
// writing, runs beside it).
func BenchmarkFSM(b *testing.B) {
	for _, finished := range []int{100_000, 1_000_000} {
		f := fsmOf(b, finished)
		b.Run(fmt.Sprintf("%d/copy", finished), func(b *testing.B) {
			for b.Loop() {
				s, _, err := f.Copy()
				if err != nil || s.Len() != finished+1000 {
					b.Fatalf("copy of %d jobs: %v", s.Len(), err)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/snapshot", finished), func(b *testing.B) {
			for b.Loop() {
				if _, err := f.Snapshot(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fsmOf is an FSM holding that many finished 1-input jobs and 1,000
// active jobs of 100 inputs.
func fsmOf(b *testing.B, finished int) *FSM {
	f := NewFSM()
	apply := applier(b, f)
	unit := int64(1)
	for id := int64(1); id <= int64(finished); id++ {
		apply(&core.JobCreated{Job: id, Action: "word_count", Inputs: []string{"http://example.com/in.txt"}, MaxAttempts: 3, FirstUnit: unit, At: 1})
		apply(&core.UnitFinished{Job: id, Seq: 2, Unit: unit, Succeeded: true, Output: []byte(`"http://example.com/out.txt"`), Worker: "1.1@host", At: 2})
		unit++
	}
	inputs := make([]string, 100)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("http://example.com/in-%d.txt", i)
	}
	for id := int64(finished + 1); id <= int64(finished+1000); id++ {
		apply(&core.JobCreated{Job: id, Action: "word_count", Inputs: inputs, MaxAttempts: 3, FirstUnit: unit, At: 1})
		unit += int64(len(inputs))
	}
	return f
}
