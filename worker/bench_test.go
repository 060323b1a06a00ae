package worker_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/worker"
)

// benchSlots is the concurrency of both sides of BenchmarkWorkerNoOp.
const benchSlots = 64

// BenchmarkWorkerNoOp compares, in one run, a coordinator's raw PUT /work
// loop (64 goroutines calling Dequeue and Complete, running nothing) with a
// Worker of 64 slots running a no-op Go action (work directory, options,
// the action and the report included). It alternates rounds of each, so
// that both see the same machine, and reports raw-units/s, worker-units/s
// and worker-%-of-raw, and the process's CPU time per unit of each. Each
// round has a coordinator of its own (in this process, in-memory journal),
// its units queued before its clock starts. Rounds run at least 25,000
// units each, so ns/op means little: read the metrics above.
func BenchmarkWorkerNoOp(b *testing.B) {
	// A round must be long enough for the worker's start (a work directory
	// per slot) not to count: at least 25,000 units, whatever b.N.
	const rounds, minPerRound = 4, 25000
	per := max(b.N/rounds, minPerRound)
	var raw, work, rawCPU, workCPU time.Duration
	for range rounds {
		t, c := rawRound(b, per)
		raw, rawCPU = raw+t, rawCPU+c
		t, c = workerRound(b, per)
		work, workCPU = work+t, workCPU+c
	}
	units := float64(per * rounds)
	rawRate, workRate := units/raw.Seconds(), units/work.Seconds()
	b.ReportMetric(rawRate, "raw-units/s")
	b.ReportMetric(workRate, "worker-units/s")
	b.ReportMetric(100*workRate/rawRate, "worker-%-of-raw")
	// The process's CPU time per unit (coordinator and client together),
	// which other load on the machine does not change as much.
	b.ReportMetric(float64(rawCPU.Microseconds())/units, "raw-cpu-µs/unit")
	b.ReportMetric(float64(workCPU.Microseconds())/units, "worker-cpu-µs/unit")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawRound runs n queued units through 64 goroutines that call Dequeue and
// Complete, and returns how long they took and the CPU time used.
func rawRound(b *testing.B, n int) (took, cpu time.Duration) {
	co := queued(b, n)
	var done atomic.Int64
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for g := range benchSlots {
		wg.Go(func() {
			ctx := context.Background()
			name := "raw-" + strconv.Itoa(g)
			for {
				u, err := co.Client.Dequeue(ctx, name, "noop")
				if err != nil {
					b.Error(err)
					return
				}
				if u == nil {
					return // every unit was queued before the clock started
				}
				for u != nil {
					u, err = co.Client.Complete(ctx, u.ID, name, "noop", client.Result{Succeeded: true, Output: []byte("null"), Time: time.Microsecond})
					if err != nil {
						b.Error(err)
						return
					}
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took, cpu = time.Since(start), cpuTime()-cpu0
	if got := done.Load(); got != int64(n) {
		b.Fatalf("raw: %d units done, want %d", got, n)
	}
	co.close()
	return took, cpu
}

// workerRound runs n queued units through a Worker of 64 slots, and
// returns how long they took, from Run to the last unit's completion, and
// the CPU time used.
func workerRound(b *testing.B, n int) (took, cpu time.Duration) {
	co := queued(b, n)
	cfg := config.Default()
	cfg.CentralServer = co.URL
	cfg.TempStoragePath = b.TempDir()
	cfg.LocalStoragePath = b.TempDir()
	cfg.MinWorkerWait = 10 * time.Millisecond
	cfg.MaxWorkerWait = 50 * time.Millisecond
	// It asks for noop alone, as the raw loop does.
	cfg.DisabledActions = []string{"graphics_magick", "process_pdfs", "word_count"}
	catalog := action.NewCatalog("")
	catalog.RegisterGo("noop", noop{})
	w, err := worker.New(worker.Options{Config: cfg, Concurrency: benchSlots, Catalog: catalog, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	start, cpu0 := time.Now(), cpuTime()
	go func() { ran <- w.Run(ctx) }()
	waitDrained(b, co.Client)
	took, cpu = time.Since(start), cpuTime()-cpu0
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	co.close()
	return took, cpu
}

// queued starts a coordinator that knows the action noop and queues n of
// its units, in jobs of at most 10,000 inputs; it returns once they are all
// ready.
func queued(b *testing.B, n int) *coordinator {
	b.Helper()
	runtime.GC() // each round starts from a clean heap
	co := startCoordinator(b, func(c *coordConfig) { c.register = []string{"noop"} })
	for left := n; left > 0; {
		k := min(left, 10000)
		in := make([]any, k)
		for i := range in {
			in[i] = "x"
		}
		submit(b, co.Client, client.Job{Action: "noop", Inputs: in})
		left -= k
	}
	waitFor(b, time.Minute, "the units to be queued", func() bool {
		st, err := co.Client.Status(context.Background())
		return err == nil && st.Units.Ready == n
	})
	return co
}

// waitDrained waits until no unit is left incomplete.
func waitDrained(b *testing.B, c *client.Client) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st, err := c.Status(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.WorkUnitCount == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d units still incomplete", st.WorkUnitCount)
		}
		time.Sleep(5 * time.Millisecond) // at most 0.5% of a one-second run
	}
}
