// Package worker is crowd's worker process (SPEC §3, §8): a number of
// worker slots, each a named worker that pulls units from the coordinator
// (POST /work), runs their action and reports the result (PUT /work/:id),
// whose answer is the slot's next unit.
//
// Around that loop a Worker
//   - waits when there is no work, ×1.5 from min_worker_wait up to
//     max_worker_wait (CloudCrowd's rule), with jitter, and starts again at
//     once when work comes;
//   - checks every slot in every few seconds (PUT /worker), declaring the
//     interval, so that the coordinator recovers the units of a dead worker
//     within seconds;
//   - rides out a coordinator that cannot be reached: requests are retried
//     with a capped back-off, the outage is logged once, and a finished
//     result is sent until the coordinator answers;
//   - gives each unit a scratch work directory, downloads a URL input into
//     it, and fails an attempt whose action errs, panics or runs past
//     unit_timeout, and goes on;
//   - on shutdown (its context done) stops taking work, lets running units
//     finish within a grace period and reports them, then checks every slot
//     out, which gives back whatever is still leased to it.
//
// The package talks to the coordinator only over HTTP, through package
// client.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/wire"
)

// Defaults of Options.
const (
	DefaultGrace           = 30 * time.Second
	DefaultCheckInInterval = 3 * time.Second
	DefaultMaxDownload     = 1 << 30 // 1 GiB
)

// Back-off while the coordinator cannot be reached, or refuses a request.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// minIdleWait is the shortest idle wait, whatever min_worker_wait says: a
// zero wait would poll in a busy loop.
const minIdleWait = 10 * time.Millisecond

// checkInParallelism bounds the check-ins in flight at once.
const checkInParallelism = 8

// checkOutTimeout bounds the check-outs at shutdown, all slots together.
const checkOutTimeout = 15 * time.Second

// Options configure a Worker. Only Config is needed; its CentralServer is
// the coordinator.
type Options struct {
	// Config gives the coordinator (CentralServer, Login, Password,
	// ServerTimeout), the idle waits (MinWorkerWait, MaxWorkerWait), the
	// slots (MaxWorkers), the actions (ActionsPath, DisabledActions), the
	// work directories (TempStoragePath), downloads (OpenTimeout,
	// ServerTimeout), UnitTimeout and the asset store (Storage...).
	Config config.Config
	// Concurrency is the number of slots; default Config.MaxWorkers, or the
	// number of CPUs when that is 0.
	Concurrency int
	// Grace is how long running units may go on after the context given to
	// Run is done; default DefaultGrace.
	Grace time.Duration
	// CheckInInterval is how often each slot checks in, declaring this
	// interval; default DefaultCheckInInterval.
	CheckInInterval time.Duration
	// MaxDownload caps the size of an http(s) download; default
	// DefaultMaxDownload.
	MaxDownload int64
	// Catalog is the actions; default action.NewCatalog(Config.ActionsPath).
	Catalog *action.Catalog
	// Store is the asset store; default assets.FromConfig(Config).
	Store assets.Store
	// Logger receives the worker's log; default slog.Default().
	Logger *slog.Logger
	// Host is the part of the slots' names after "@"; default the host name.
	Host string
}

// Worker runs the slots. Create it with New and start it with Run.
type Worker struct {
	o       Options
	cfg     config.Config
	client  *client.Client
	catalog *action.Catalog
	store   assets.Store
	dl      *downloader
	// download is dl.download, made once: Unit.Download of every unit.
	download func(ctx context.Context, url, path string) error
	log      *slog.Logger
	actions  string // comma-separated, as POST /work wants them
	slots    []*slot
	minWait  time.Duration
	maxWait  time.Duration
	hold     time.Duration // how long an idle slot's POST /work asks to be held (long-poll)
	outage   outage
	running  atomic.Bool
	// now is closed by StopNow.
	now     chan struct{}
	nowOnce sync.Once
}

// slot is one named worker.
type slot struct {
	name   string
	status atomic.Int32 // a slotStatus
	// lost is set when a request may have leased a unit whose answer did
	// not arrive; the slot then asks GET /worker/:name before POST /work.
	lost bool
	// Work directories (workdir.go): by action, and the names' parts.
	dirs      map[string]*slotDir
	dirPrefix string // "<slot>.<pid>."
	gen       int
}

type slotStatus int32

const (
	statusStarting slotStatus = iota
	statusIdle
	statusWorking
	statusStopping
)

var statusNames = [...]string{"starting", "idle", "working", "stopping"}

func (s *slot) set(st slotStatus)    { s.status.Store(int32(st)) }
func (s *slot) threadStatus() string { return statusNames[s.status.Load()] }

// New builds a worker from o. It connects to the asset store (an S3 store
// checks its bucket) but not to the coordinator.
func New(o Options) (*Worker, error) {
	cfg := o.Config
	if o.Concurrency <= 0 {
		o.Concurrency = cfg.MaxWorkers
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.NumCPU()
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.CheckInInterval <= 0 {
		o.CheckInInterval = DefaultCheckInInterval
	}
	if o.CheckInInterval < wire.MinCheckInInterval || o.CheckInInterval > wire.MaxCheckInInterval {
		return nil, fmt.Errorf("worker: the check-in interval %v is outside the coordinator's %v to %v", o.CheckInInterval, wire.MinCheckInInterval, wire.MaxCheckInInterval)
	}
	if o.MaxDownload <= 0 {
		o.MaxDownload = DefaultMaxDownload
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Host == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		o.Host = host
	}
	if o.Catalog == nil {
		o.Catalog = action.NewCatalog(cfg.ActionsPath)
		for _, p := range o.Catalog.Problems() {
			o.Logger.Warn("action skipped", "err", p)
		}
	}
	if cfg.TempStoragePath == "" {
		return nil, errors.New("worker: temp_storage_path is empty")
	}
	names := actionNames(o.Catalog, cfg.DisabledActions)
	if len(names) == 0 {
		return nil, errors.New("worker: no actions to run: every action is disabled")
	}
	actions := strings.Join(names, ",")
	if len(actions) > wire.MaxWorkerActions {
		return nil, fmt.Errorf("worker: the actions' names take %d bytes joined by commas, more than the %d the coordinator takes; disable some (disabled_actions)", len(actions), wire.MaxWorkerActions)
	}
	var slots []*slot
	pid := strconv.Itoa(os.Getpid())
	for i := range o.Concurrency {
		n := strconv.Itoa(i + 1)
		name := n + "." + pid + "@" + o.Host
		if len(name) > wire.MaxWorkerName {
			return nil, fmt.Errorf("worker: the slot name %.40q... has %d bytes, more than the %d the coordinator takes; choose a shorter host name", name, len(name), wire.MaxWorkerName)
		}
		slots = append(slots, &slot{name: name, dirPrefix: n + "." + pid + "."})
	}
	if o.Store == nil {
		ctx, cancel := context.WithTimeout(context.Background(), max(cfg.OpenTimeout+cfg.ServerTimeout, 10*time.Second))
		store, err := assets.FromConfig(ctx, cfg)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		o.Store = store
	}
	c, err := client.New(cfg.CentralServer, client.Options{
		Login:    cfg.Login,
		Password: cfg.Password,
		Timeout:  cfg.ServerTimeout,
		MaxConns: o.Concurrency + checkInParallelism,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w := &Worker{
		o:       o,
		cfg:     cfg,
		client:  c,
		catalog: o.Catalog,
		store:   o.Store,
		dl:      newDownloader(o.Store, cfg.OpenTimeout, cfg.ServerTimeout, o.MaxDownload),
		log:     o.Logger,
		actions: actions,
		slots:   slots,
		minWait: max(cfg.MinWorkerWait, minIdleWait),
		now:     make(chan struct{}),
	}
	w.maxWait = max(cfg.MaxWorkerWait, w.minWait)
	w.hold = min(w.maxWait, wire.MaxWait)
	w.download = w.dl.download
	w.outage.log, w.outage.server = o.Logger, c.URL()
	return w, nil
}

// StopNow ends the grace period at once (crowd worker calls it on a second
// signal): running actions are cancelled (an exec action's process group
// is killed), their units are not reported, and Run checks every slot out,
// which gives them back, and returns. If Run's context is not done yet, it
// also stops taking work. It may be called at any time, more than once.
func (w *Worker) StopNow() { w.nowOnce.Do(func() { close(w.now) }) }

// actionNames is the catalog's actions minus the disabled ones.
func actionNames(c *action.Catalog, disabled []string) []string {
	off := make(map[string]bool, len(disabled))
	for _, d := range disabled {
		off[strings.TrimSpace(d)] = true
	}
	var names []string
	for _, n := range c.Names() {
		if !off[n] {
			names = append(names, n)
		}
	}
	return names
}

// Names returns the slots' worker names, <slot>.<pid>@<host>, slot from 1.
func (w *Worker) Names() []string {
	names := make([]string, len(w.slots))
	for i, s := range w.slots {
		names[i] = s.name
	}
	return names
}

// Actions returns the actions the worker asks for, comma-separated.
func (w *Worker) Actions() string { return w.actions }

// Run runs the slots until ctx is done, then shuts down: no new work is
// taken, running units have the grace period to finish and be reported,
// and every slot checks out. It returns nil after a shutdown, and an error
// only when the worker cannot start (the coordinator refuses its
// credentials). Run may be called once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	ctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	go func() {
		select {
		case <-w.now:
			stopWork()
		case <-ctx.Done():
		}
	}()
	w.log.Info("worker starting", "server", w.client.URL(), "slots", len(w.slots),
		"actions", w.actions, "first", w.slots[0].name)
	if err := w.checkInAll(ctx, true); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the coordinator was reached: nothing to give back
		}
		return err
	}

	// hard is done at the end of the grace period: running actions are
	// cancelled and results no longer retried.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	go func() {
		select {
		case <-ctx.Done():
		case <-hard.Done():
			return
		}
		w.log.Info("worker stopping: no new work; running units may finish", "grace", w.o.Grace)
		t := time.NewTimer(w.o.Grace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-w.now:
			w.log.Info("worker stopping now: running units are cut short")
		case <-hard.Done():
			return
		}
		cancelHard()
	}()

	checkCtx, stopChecks := context.WithCancel(context.Background())
	checks := make(chan struct{})
	go func() { w.checkInLoop(checkCtx); close(checks) }()

	var wg sync.WaitGroup
	for _, s := range w.slots {
		wg.Go(func() { w.loop(ctx, hard, s) })
	}
	slotsDone := make(chan struct{})
	go func() { wg.Wait(); close(slotsDone) }()
	select {
	case <-slotsDone:
	case <-hard.Done(): // the grace period is over: running actions are cancelled
		t := time.NewTimer(abandonAfter)
		select {
		case <-slotsDone:
		case <-t.C:
			// A Go action that ignores its context: leave it, and give its
			// unit back with the check-out.
			w.log.Warn("an action did not stop when cancelled at the end of the grace period; leaving it running")
		}
		t.Stop()
	}
	stopChecks()
	<-checks
	w.checkOutAll()
	w.log.Info("worker stopped")
	return nil
}

// loop is one slot's life: take a unit, run it, report it, and go on with
// the unit the report's answer carries.
func (w *Worker) loop(ctx, hard context.Context, s *slot) {
	wait := w.minWait
	var u *wire.WorkUnit
	for {
		if ctx.Err() != nil {
			break // a unit in hand goes back with the check-out
		}
		if u == nil {
			asked := time.Now()
			u = w.dequeue(ctx, s)
			if ctx.Err() != nil {
				break // a unit just leased goes back with the check-out
			}
			if u == nil {
				s.set(statusIdle)
				if time.Since(asked) >= w.hold/2 {
					continue // the coordinator held the request: ask again at once
				}
				// Answered early (a pause, or a coordinator that does not
				// hold requests): poll with a growing wait, as CloudCrowd's
				// workers do.
				wait = nextWait(wait, w.minWait, w.maxWait)
				if !sleep(ctx, jitter(wait)) {
					break
				}
				continue
			}
			wait = w.minWait
		}
		s.set(statusWorking)
		res, finished := w.process(ctx, hard, s, u)
		if !finished {
			break // cut short: the check-out gives it back
		}
		u = w.report(ctx, hard, s, u, res)
	}
	s.set(statusStopping)
	w.removeDirs(s)
}

// dequeue asks for a unit for s, retrying while the coordinator cannot be
// reached; nil when none is ready or ctx is done.
func (w *Worker) dequeue(ctx context.Context, s *slot) *wire.WorkUnit {
	backoff := retryFirst
	for {
		var u *wire.WorkUnit
		var err error
		if s.lost {
			// A request whose answer was lost may have leased a unit to s.
			if u, err = w.client.WorkerUnit(context.Background(), s.name); err == nil {
				s.lost = false
				if u != nil {
					w.log.Info("resuming a unit whose lease answer was lost", "worker", s.name, "unit", u.ID)
				}
			}
		}
		if err == nil && u == nil {
			// Held until a unit is ready (long-poll); a stop cuts it short,
			// and the check-out gives back a unit it leased meanwhile.
			u, err = w.client.DequeueWait(ctx, s.name, w.actions, w.hold)
		}
		if err == nil {
			w.outage.ok()
			return u
		}
		if ctx.Err() != nil {
			return nil
		}
		w.trouble("asking for work", s, err)
		s.lost = true
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(backoff*2, retryMax)
	}
}

// report sends a unit's result and returns the next unit the coordinator's
// answer carries. A result the coordinator refuses with a 4xx other than
// 404 and 409 (413 for an output over max_body, 400) is sent again as a
// failed attempt that names the refusal, so that the unit is retried or
// fails by the usual rules instead of staying leased to the slot; if that
// is refused too, the slot asks the coordinator what it holds (s.lost).
func (w *Worker) report(ctx, hard context.Context, s *slot, u *wire.WorkUnit, res client.Result) *wire.WorkUnit {
	next, refused := w.complete(ctx, hard, s, u, res)
	if refused == nil {
		return next
	}
	w.log.Error("result refused; reporting the attempt as failed", "worker", s.name, "unit", u.ID, "job", u.JobID, "err", refused)
	res = client.Result{Output: jsonString(refusal(refused)), Time: res.Time}
	if next, refused = w.complete(ctx, hard, s, u, res); refused != nil {
		w.log.Error("the failed attempt was refused too; asking the coordinator for the slot's unit",
			"worker", s.name, "unit", u.ID, "job", u.JobID, "err", refused)
		s.lost = true
	}
	return next
}

// maxRefusal bounds the output that names a refused result.
const maxRefusal = 300

// refusal is the output of an attempt whose result the coordinator refused:
// "the coordinator refused the result: 413 Request Entity Too Large: ...".
func refusal(e *client.Error) string {
	msg := "the coordinator refused the result: " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if len(msg) > maxRefusal {
		msg = strings.ToValidUTF8(msg[:maxRefusal], "") + "…"
	}
	return msg
}

// complete sends a result until the coordinator answers, and returns the
// next unit the answer carries, or the coordinator's refusal (a 4xx other
// than 404 and 409). It gives up on 404 and 409 (the unit was taken back or
// deleted), and once hard is done. An answer that does not read sets s.lost:
// the result was recorded, and the answer may have leased the next unit.
// Once the worker is stopping (ctx done) it sends no actions, so that the
// answer leases no next unit.
func (w *Worker) complete(ctx, hard context.Context, s *slot, u *wire.WorkUnit, res client.Result) (*wire.WorkUnit, *client.Error) {
	backoff := retryFirst
	for {
		actions := w.actions
		if ctx.Err() != nil {
			actions = ""
		}
		next, err := w.client.Complete(context.Background(), u.ID, s.name, actions, res)
		var refused *client.Error
		switch {
		case err == nil:
			w.outage.ok()
			return next, nil
		case errors.Is(err, client.ErrConflict), errors.Is(err, client.ErrNotFound):
			w.outage.ok()
			w.log.Info("result not recorded: the unit was taken back or deleted",
				"worker", s.name, "unit", u.ID, "job", u.JobID, "err", err)
			s.lost = true // in case an earlier try went through and leased the next unit
			return nil, nil
		case client.IsUnavailable(err):
			w.outage.fail(err)
			s.lost = true
			if !sleep(hard, backoff) {
				w.log.Warn("result dropped: the coordinator did not answer before the grace period ended; the unit will be recovered when its lease lapses",
					"worker", s.name, "unit", u.ID, "job", u.JobID)
				return nil, nil
			}
			backoff = min(backoff*2, retryMax)
		case errors.As(err, &refused):
			w.outage.ok()
			return nil, refused
		default:
			w.outage.ok()
			w.log.Error("the coordinator's answer to a result does not read; asking it for the slot's unit",
				"worker", s.name, "unit", u.ID, "job", u.JobID, "err", err)
			s.lost = true
			return nil, nil
		}
	}
}

// trouble logs a failed request: an outage once, other errors each time.
func (w *Worker) trouble(what string, s *slot, err error) {
	if client.IsUnavailable(err) {
		w.outage.fail(err)
		return
	}
	w.log.Error("coordinator refused a request; retrying with back-off", "what", what, "worker", s.name, "err", err)
}

// checkInAll checks every slot in once. When first is set it retries while
// the coordinator cannot be reached (until ctx is done) and fails on a
// refusal such as 401.
func (w *Worker) checkInAll(ctx context.Context, first bool) error {
	backoff := retryFirst
	for {
		err := w.forSlots(func(s *slot) error {
			return w.client.CheckIn(context.Background(), s.name, s.threadStatus(), w.o.CheckInInterval)
		})
		switch {
		case err == nil:
			w.outage.ok()
			return nil
		case !first:
			w.trouble("checking in", w.slots[0], err)
			return err
		case !client.IsUnavailable(err):
			return fmt.Errorf("worker: checking in at %s: %w", w.client.URL(), err)
		}
		w.outage.fail(err)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, retryMax)
	}
}

// checkInLoop checks every slot in every CheckInInterval until ctx is done.
func (w *Worker) checkInLoop(ctx context.Context) {
	t := time.NewTicker(w.o.CheckInInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.checkInAll(ctx, false)
	}
}

// checkOutAll checks every slot out; what they hold goes back to the queue.
// A coordinator that cannot be reached recovers the units once the slots'
// check-ins lapse.
func (w *Worker) checkOutAll() {
	ctx, cancel := context.WithTimeout(context.Background(), checkOutTimeout)
	defer cancel()
	err := w.forSlots(func(s *slot) error {
		var err error
		for try := 0; try < 3; try++ {
			if err = w.client.CheckOut(ctx, s.name); err == nil || !client.IsUnavailable(err) {
				return err
			}
			if !sleep(ctx, retryFirst) {
				break
			}
		}
		return err
	})
	if err != nil {
		w.log.Warn("checking out failed; the coordinator recovers the slots' units when their check-ins lapse", "err", err)
	}
}

// forSlots runs f for every slot, a few at a time, and returns the first
// error.
func (w *Worker) forSlots(f func(*slot) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, checkInParallelism)
	for _, s := range w.slots {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(s); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// outage logs an unreachable coordinator once when it goes and once when it
// comes back, however many requests fail meanwhile.
type outage struct {
	down   atomic.Bool
	mu     sync.Mutex
	since  time.Time
	log    *slog.Logger
	server string
}

func (o *outage) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down.Load() {
		return
	}
	o.down.Store(true)
	o.since = time.Now()
	o.log.Warn("coordinator unreachable; retrying with back-off (1s doubling, at most 30s)",
		"server", o.server, "err", err)
}

func (o *outage) ok() {
	if !o.down.Load() { // the usual case: no lock
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down.Load() {
		o.down.Store(false)
		o.log.Info("coordinator reachable again", "server", o.server,
			"after", time.Since(o.since).Round(time.Millisecond))
	}
}

// sleep waits d, or until ctx is done; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jsonString is s as a JSON string.
func jsonString(s string) json.RawMessage {
	return wire.AppendString(nil, s)
}
