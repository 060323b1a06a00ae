package persistence

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/documentcloud/crowd/core"
)

// BenchmarkWALGroupCommit: 64 goroutines append and each waits for its
// done before the next, as request handlers do (SyncGroup).
func BenchmarkWALGroupCommit(b *testing.B) {
	w := openWAL(b, WALOptions{Dir: b.TempDir(), Sync: SyncGroup})
	defer w.Close()
	const goroutines = 64
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acked := make(chan error, 1)
			for i := left.Add(-1); i >= 0; i = left.Add(-1) {
				w.Append(testEvent(int(i)), func(err error) { acked <- err })
				if err := <-acked; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	st := w.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(st.Records)/float64(max(st.Batches, 1)), "records/batch")
	b.ReportMetric(float64(st.Syncs)/b.Elapsed().Seconds(), "fsyncs/s")
}

const replayRecords = 1_000_000

// writeReplayLog writes n small records (SyncOff, then one Barrier).
func writeReplayLog(tb testing.TB, dir string, n int) {
	w := openWAL(tb, WALOptions{Dir: dir, Sync: SyncOff})
	done := func(err error) {
		if err != nil {
			tb.Error(err)
		}
	}
	for i := 0; i < n; i++ {
		w.Append(&core.UnitLost{Job: int64(i), Unit: int64(i), Reason: "lease ended", At: int64(i)}, done)
	}
	if idx, err := w.Barrier(); err != nil || idx != uint64(n) {
		tb.Fatalf("Barrier = %d, %v", idx, err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

// openAndReplay opens dir (scan included) and replays it, returning the
// record count.
func openAndReplay(tb testing.TB, dir string) int {
	w := openWAL(tb, WALOptions{Dir: dir})
	defer w.Close()
	n := 0
	if err := w.Replay(func(core.Event) error { n++; return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}

func BenchmarkWALReplay1M(b *testing.B) {
	dir := b.TempDir()
	writeReplayLog(b, dir, replayRecords)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := openAndReplay(b, dir); n != replayRecords {
			b.Fatalf("replayed %d records", n)
		}
	}
	b.ReportMetric(float64(replayRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
