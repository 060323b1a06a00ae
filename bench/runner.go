package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Plan is the sizes of one benchmark pass.
type Plan struct {
	Mode          string        // "quick" or "full"
	Cs            []int         // concurrencies for submission and burn-down
	SteadyCs      []int         // concurrencies (workers) for the steady state
	Submit1Jobs   int           // 1-input jobs per submission run
	Submit100Jobs int           // 100-input jobs per submission run
	BurnUnits     int           // units queued before a burn-down
	SteadyRate    float64       // offered units/s in the steady state
	SteadyFor     time.Duration // how long the steady state offers load
	Submitters    int           // submitting connections in the steady state
	MaxRun        time.Duration // a run stops here even if its count is not reached
	MaxPrequeue   time.Duration // filling the queue for a burn-down stops here
	Drain         time.Duration // after the steady state, time for the last units to finish
	SampleEvery   time.Duration // RSS sampling period
}

// QuickPlan is `make bench`: every workload and concurrency, with small
// counts and a short steady state, so that a pass over every system fits
// in about three minutes. Its figures are indicative only.
func QuickPlan() Plan {
	return Plan{
		Mode:          "quick",
		Cs:            []int{16, 64, 256},
		SteadyCs:      []int{64},
		Submit1Jobs:   3000,
		Submit100Jobs: 100,
		BurnUnits:     10000,
		SteadyRate:    1000,
		SteadyFor:     2 * time.Second,
		Submitters:    16,
		MaxRun:        2 * time.Second,
		MaxPrequeue:   2 * time.Second,
		Drain:         2 * time.Second,
		SampleEvery:   100 * time.Millisecond,
	}
}

// FullPlan is the sizes: 100,000 units burnt down, a 60 s steady
// state at every concurrency.
func FullPlan() Plan {
	return Plan{
		Mode:          "full",
		Cs:            []int{16, 64, 256},
		SteadyCs:      []int{16, 64, 256},
		Submit1Jobs:   50000,
		Submit100Jobs: 1000,
		BurnUnits:     100000,
		SteadyRate:    2000,
		SteadyFor:     60 * time.Second,
		Submitters:    16,
		MaxRun:        60 * time.Second,
		MaxPrequeue:   120 * time.Second,
		Drain:         10 * time.Second,
		SampleEvery:   500 * time.Millisecond,
	}
}

// Run runs every workload of the plan on a started system and returns one
// result per run. A failed run is a result with Error set; progress lines
// go to log.
func Run(ctx context.Context, sys System, p Plan, log io.Writer) []Result {
	var out []Result
	emit := func(r Result) {
		r.System, r.Variant, r.Durability = sys.Name(), sys.Variant(), sys.Durability()
		out = append(out, r)
		fmt.Fprintln(log, "  "+progressLine(r))
	}
	for _, c := range p.Cs {
		for _, w := range []struct {
			name   string
			jobs   int
			inputs int
		}{{Submit1, p.Submit1Jobs, 1}, {Submit100, p.Submit100Jobs, 100}} {
			if ctx.Err() != nil {
				return out
			}
			if err := sys.Reset(ctx); err != nil {
				emit(Result{Workload: w.name, C: c, Error: "reset: " + err.Error()})
				continue
			}
			emit(runSubmit(ctx, sys, p, w.name, c, w.jobs, w.inputs))
		}
		if ctx.Err() != nil {
			return out
		}
		if err := sys.Reset(ctx); err != nil {
			emit(Result{Workload: BurnDown, C: c, Error: "reset: " + err.Error()})
			continue
		}
		emit(runBurnDown(ctx, sys, p, c))
	}
	for _, c := range p.SteadyCs {
		if ctx.Err() != nil {
			return out
		}
		if err := sys.Reset(ctx); err != nil {
			emit(Result{Workload: Steady, C: c, Error: "reset: " + err.Error()})
			continue
		}
		emit(runSteady(ctx, sys, p, c))
	}
	return out
}

func progressLine(r Result) string {
	if r.Error != "" {
		return fmt.Sprintf("%-10s C=%-3d error: %s", r.Workload, r.C, r.Error)
	}
	s := fmt.Sprintf("%-10s C=%-3d %9.0f %s", r.Workload, r.C, r.Rate, r.RateUnit)
	if r.Latency != nil {
		s += fmt.Sprintf("  p50 %.2f ms  p99 %.2f ms", r.Latency.P50, r.Latency.P99)
	}
	if r.PeakRSSKB > 0 {
		s += fmt.Sprintf("  rss %.0f MiB", float64(r.PeakRSSKB)/1024)
	}
	if r.Capped {
		s += "  (time cap)"
	}
	if r.Errors > 0 {
		s += fmt.Sprintf("  %d errors", r.Errors)
	}
	return s
}

// openClients opens n submitting clients at once (a few at a time).
func openClients(ctx context.Context, sys System, n int) ([]Client, error) {
	cls := make([]Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range cls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cls[i], errs[i] = sys.NewClient(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeClients(cls)
		return nil, err
	}
	return cls, nil
}

func closeClients(cls []Client) {
	for _, c := range cls {
		if c != nil {
			c.Close()
		}
	}
}

// errorBudget stops a run's goroutines after too many failures.
type errorBudget struct {
	n     atomic.Int64
	first atomic.Pointer[string]
}

func (e *errorBudget) add(err error) bool {
	msg := err.Error()
	e.first.CompareAndSwap(nil, &msg)
	return e.n.Add(1) < 100
}

func (e *errorBudget) apply(r *Result) {
	r.Errors = e.n.Load()
	if p := e.first.Load(); p != nil {
		r.Note = joinNote(r.Note, "first error: "+*p)
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// runSubmit: C clients submit jobs of `inputs` inputs, each as fast as it
// is answered, until `jobs` are in or the time cap.
func runSubmit(ctx context.Context, sys System, p Plan, name string, c, jobs, inputs int) Result {
	r := Result{Workload: name, C: c, RateUnit: "jobs/s"}
	cls, err := openClients(ctx, sys, c)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer closeClients(cls)
	rss := sampleRSS(sys.PIDs(), p.SampleEvery)
	lat := newSamples(c, jobs/c+1)
	var next, done atomic.Int64
	var errs errorBudget
	deadline := time.Now().Add(p.MaxRun)
	start := time.Now()
	var wg sync.WaitGroup
	for g, cl := range cls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := make([]string, inputs)
			for ctx.Err() == nil {
				k := next.Add(1)
				if k > int64(jobs) {
					return
				}
				if time.Now().After(deadline) {
					return
				}
				now := time.Now()
				for i := range in {
					in[i] = MakeInput(now, (k-1)*int64(inputs)+int64(i))
				}
				err := cl.Submit(ctx, in)
				d := time.Since(now)
				if err != nil {
					if !errs.add(err) {
						return
					}
					continue
				}
				lat.add(g, d)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.PeakRSSKB, _ = rss.finish()
	r.Seconds = elapsed.Seconds()
	r.Jobs = done.Load()
	r.Units = r.Jobs * int64(inputs)
	r.Rate = float64(r.Jobs) / r.Seconds
	r.UnitsRate = float64(r.Units) / r.Seconds
	r.Capped = r.Jobs+errs.n.Load() < int64(jobs)
	r.Latency = Summarize(lat.merge(), "one submission (request to answer)")
	errs.apply(&r)
	return r
}

// prequeue fills the queue with up to n units in 100-input jobs from 8
// clients, for at most p.MaxPrequeue; it returns how many went in.
func prequeue(ctx context.Context, sys System, p Plan, n int) (int64, error) {
	const batch, conns = 100, 8
	cls, err := openClients(ctx, sys, conns)
	if err != nil {
		return 0, err
	}
	defer closeClients(cls)
	var next, queued atomic.Int64
	var first atomic.Pointer[error]
	deadline := time.Now().Add(p.MaxPrequeue)
	var wg sync.WaitGroup
	for _, cl := range cls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) && first.Load() == nil {
				k := next.Add(batch) - batch
				if k >= int64(n) {
					return
				}
				size := min(batch, n-int(k))
				in := make([]string, size)
				now := time.Now()
				for i := range in {
					in[i] = MakeInput(now, k+int64(i))
				}
				if err := cl.Submit(ctx, in); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				queued.Add(int64(size))
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return queued.Load(), *e
	}
	return queued.Load(), nil
}

// runBurnDown queues BurnUnits units, then C workers take and acknowledge
// them until none is left.
func runBurnDown(ctx context.Context, sys System, p Plan, c int) Result {
	r := Result{Workload: BurnDown, C: c, RateUnit: "units/s"}
	queued, err := prequeue(ctx, sys, p, p.BurnUnits)
	if err != nil {
		r.Error = "filling the queue: " + err.Error()
		return r
	}
	if queued < int64(p.BurnUnits) {
		r.Note = joinNote(r.Note, fmt.Sprintf("only %d of %d units queued within %s", queued, p.BurnUnits, p.MaxPrequeue))
	}
	if queued == 0 {
		r.Error = "no unit could be queued"
		return r
	}
	switch s := sys.(type) {
	case WorkerSource:
		burnWorkers(ctx, s, sys, p, c, queued, &r)
	case ConsumerSource:
		burnConsumer(ctx, s, sys, p, c, queued, &r)
	default:
		r.Error = "the system has neither workers nor consumers"
	}
	return r
}

func burnWorkers(ctx context.Context, src WorkerSource, sys System, p Plan, c int, queued int64, r *Result) {
	workers, err := openWorkers(ctx, src, c, false)
	if err != nil {
		r.Error = err.Error()
		return
	}
	defer closeWorkers(workers)
	rss := sampleRSS(sys.PIDs(), p.SampleEvery)
	lat := newSamples(c, int(queued)/c+1)
	var claimed, done, finished atomic.Int64
	var errs errorBudget
	deadline := time.Now().Add(p.MaxRun)
	start := time.Now()
	var wg sync.WaitGroup
	for g, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holding := false
			for ctx.Err() == nil {
				fetch := claimed.Load() < queued && time.Now().Before(deadline)
				if !fetch && !holding {
					return
				}
				t0 := time.Now()
				_, ok, err := w.Next(ctx, fetch)
				d := time.Since(t0)
				if err != nil {
					errs.add(err)
					return
				}
				if holding {
					if ok || !fetch {
						// A fetch that found the queue empty (Faktory's
						// waits 2 s) is the run's tail, not the unit's time.
						lat.add(g, d)
					}
					if done.Add(1) == queued {
						finished.Store(time.Now().UnixNano())
					}
				}
				holding = ok
				if ok {
					claimed.Add(1)
				} else {
					return // the queue is empty
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := finished.Load(); f != 0 {
		// The last unit's acknowledgement ends the run, not the workers
		// still waiting for a fetch to time out (Faktory's blocks 2 s).
		elapsed = time.Unix(0, f).Sub(start)
	}
	r.PeakRSSKB, _ = rss.finish()
	r.Seconds = elapsed.Seconds()
	r.Units = done.Load()
	r.Rate = float64(r.Units) / r.Seconds
	r.UnitsRate = r.Rate
	r.Capped = r.Units < queued && time.Now().After(deadline)
	r.Latency = Summarize(lat.merge(), "one unit: the call that acknowledges it and takes the next")
	errs.apply(r)
	if r.Units < queued && !r.Capped {
		r.Note = joinNote(r.Note, fmt.Sprintf("%d of %d queued units were not handed out", queued-r.Units, queued))
	}
}

func burnConsumer(ctx context.Context, src ConsumerSource, sys System, p Plan, c int, queued int64, r *Result) {
	var done atomic.Int64
	finished := make(chan struct{})
	var once sync.Once
	rss := sampleRSS(sys.PIDs(), p.SampleEvery)
	start := time.Now()
	stop, err := src.Consume(ctx, c, func(string) {
		if done.Add(1) >= queued {
			once.Do(func() { close(finished) })
		}
	})
	if err != nil {
		rss.finish()
		r.Error = err.Error()
		return
	}
	select {
	case <-finished:
	case <-time.After(p.MaxRun):
		r.Capped = true
	case <-ctx.Done():
	}
	elapsed := time.Since(start)
	units := done.Load()
	if err := stop(); err != nil {
		r.Note = joinNote(r.Note, "stopping the consumer: "+err.Error())
	}
	r.PeakRSSKB, _ = rss.finish()
	r.Seconds = elapsed.Seconds()
	r.Units = units
	r.Rate = float64(units) / r.Seconds
	r.UnitsRate = r.Rate
	r.Note = joinNote(r.Note, "units counted as the library's handler runs; its fetch and acknowledgement are inside the library, so no per-unit latency")
}

func openWorkers(ctx context.Context, src WorkerSource, n int, blocking bool) ([]Worker, error) {
	ws := make([]Worker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws[i], errs[i] = src.NewWorker(ctx, i, blocking)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeWorkers(ws)
		return nil, err
	}
	return ws, nil
}

func closeWorkers(ws []Worker) {
	for _, w := range ws {
		if w != nil {
			w.Close()
		}
	}
}

// maxPoll is the longest a steady-state worker waits before asking again
// after finding no unit (crowd and the ceiling answer 204 at once; the
// peers' fetches block, so they never wait here).
const maxPoll = 16 * time.Millisecond

// runSteady offers p.SteadyRate one-input jobs per second for p.SteadyFor
// from p.Submitters connections (open loop: each job has its planned time,
// and a late submission still counts from it), while C workers take the
// units. The latency is a unit's end to end: planned submission to
// acknowledgement (for asynq and River, to the handler's call).
func runSteady(ctx context.Context, sys System, p Plan, c int) Result {
	r := Result{Workload: Steady, C: c, RateUnit: "units/s", Offered: p.SteadyRate}
	total := int64(math.Round(p.SteadyRate * p.SteadyFor.Seconds()))
	cls, err := openClients(ctx, sys, p.Submitters)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer closeClients(cls)

	e2e := newSamples(c+1, int(total)/c+1)
	var done atomic.Int64
	var errs errorBudget
	var mu sync.Mutex // guards e2e's consumer slot (index c)
	allDone := make(chan struct{})
	var once sync.Once
	record := func(g int, in string) {
		if t, ok := InputStamp(in); ok {
			if g == c {
				mu.Lock()
				e2e.add(g, time.Since(t))
				mu.Unlock()
			} else {
				e2e.add(g, time.Since(t))
			}
		}
		if done.Add(1) >= total {
			once.Do(func() { close(allDone) })
		}
	}

	rss := sampleRSS(sys.PIDs(), p.SampleEvery)
	var stopping atomic.Bool
	var wg sync.WaitGroup
	var stopConsumer func() error
	var workers []Worker
	switch s := sys.(type) {
	case WorkerSource:
		workers, err = openWorkers(ctx, s, c, true)
		if err != nil {
			rss.finish()
			r.Error = err.Error()
			return r
		}
		for g, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var holding string
				var wait time.Duration
				for ctx.Err() == nil && !stopping.Load() {
					// Acknowledge first, on its own, so that the unit's end
					// is not held up by a fetch that waits for the next.
					fetch := holding == ""
					t0 := time.Now()
					in, ok, err := w.Next(ctx, fetch)
					if err != nil {
						if !stopping.Load() {
							errs.add(err)
						}
						return
					}
					if holding != "" {
						record(g, holding)
					}
					holding = ""
					if ok {
						holding = in // crowd's PUT answers the next unit
						wait = 0
					} else if fetch && time.Since(t0) < maxPoll {
						// crowd's protocol has no blocking fetch: poll,
						// backing off from 1 ms to 16 ms while idle. (A
						// fetch that blocked, beanstalkd's or Faktory's,
						// has waited already.)
						wait = min(max(2*wait, time.Millisecond), maxPoll)
						time.Sleep(wait)
					}
				}
			}()
		}
	case ConsumerSource:
		stopConsumer, err = s.Consume(ctx, c, func(in string) { record(c, in) })
		if err != nil {
			rss.finish()
			r.Error = err.Error()
			return r
		}
	default:
		rss.finish()
		r.Error = "the system has neither workers nor consumers"
		return r
	}

	subLat := newSamples(len(cls), int(total)/len(cls)+1)
	var next, submitted atomic.Int64
	start := time.Now()
	interval := float64(time.Second) / p.SteadyRate
	var subs sync.WaitGroup
	for g, cl := range cls {
		subs.Add(1)
		go func() {
			defer subs.Done()
			in := make([]string, 1)
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= total {
					return
				}
				at := start.Add(time.Duration(float64(k) * interval))
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				in[0] = MakeInput(at, k)
				err := cl.Submit(ctx, in)
				if err != nil {
					errs.add(err)
					continue
				}
				subLat.add(g, time.Since(at))
				submitted.Add(1)
			}
		}()
	}
	subs.Wait()
	window := time.Since(start)
	if submitted.Load() < total {
		// Failed submissions never complete: stop waiting for them.
		if done.Load() >= submitted.Load() {
			once.Do(func() { close(allDone) })
		}
	}
	select {
	case <-allDone:
	case <-time.After(p.Drain):
		r.Note = joinNote(r.Note, fmt.Sprintf("%d units still unfinished %s after the last submission", submitted.Load()-done.Load(), p.Drain))
	case <-ctx.Done():
	}
	stopping.Store(true)
	closeWorkers(workers) // wakes workers blocked in a fetch
	wg.Wait()
	if stopConsumer != nil {
		if err := stopConsumer(); err != nil {
			r.Note = joinNote(r.Note, "stopping the consumer: "+err.Error())
		}
	}
	r.PeakRSSKB, r.RSS = rss.finish()
	r.Seconds = window.Seconds()
	r.Jobs = submitted.Load()
	r.Units = done.Load()
	r.Rate = float64(min(r.Units, r.Jobs)) / r.Seconds
	r.UnitsRate = r.Rate
	r.Latency = Summarize(e2e.merge(), "one unit end to end: planned submission to acknowledgement")
	if _, ok := sys.(ConsumerSource); ok && r.Latency != nil {
		r.Latency.Of = "one unit end to end: planned submission to the library's handler call"
	}
	r.SubmitLatency = Summarize(subLat.merge(), "one submission, from its planned time")
	errs.apply(&r)
	return r
}
