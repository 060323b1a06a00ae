package actors

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/wire"
)

// What the console and the metrics read: counters the actors keep, a
// history sampled every second, and queries that gather from several actors.

// Counters count what happened since the coordinator started.
type Counters struct {
	UnitsSucceeded atomic.Uint64 // units that succeeded
	UnitsFailed    atomic.Uint64 // units that failed for good
	AttemptsFailed atomic.Uint64 // failed attempts that will be retried
	LeasesLost     atomic.Uint64 // leases taken back from dead or slow workers
	RepeatReports  atomic.Uint64 // reports that repeated one already recorded
	JobsCreated    atomic.Uint64
}

// Counters returns the coordinator's counters.
func (c *Coordinator) Counters() *Counters { return &c.counters }

// history keeps the last hour of samples, one a second.
type history struct {
	mu     sync.Mutex
	points [][5]float64 // a ring
	next   int
	full   bool
	last   uint64 // units done at the last sample
	lastAt time.Time
}

const historyLen = 3600

func (h *history) add(p [5]float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.points == nil {
		h.points = make([][5]float64, historyLen)
	}
	h.points[h.next] = p
	h.next = (h.next + 1) % historyLen
	h.full = h.full || h.next == 0
}

// snapshot returns the points, oldest first.
func (h *history) snapshot() [][5]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([][5]float64(nil), h.points[:h.next]...)
	}
	return append(append([][5]float64(nil), h.points[h.next:]...), h.points[:h.next]...)
}

// sample records one point of history: units queued and leased, units done
// per second since the last sample, workers alive.
func (c *Coordinator) sample() {
	qs, err := c.queueStats()
	if err != nil {
		return
	}
	workers, err := c.workers()
	if err != nil {
		return
	}
	now := c.set.Now()
	done := c.counters.UnitsSucceeded.Load() + c.counters.UnitsFailed.Load()
	h := &c.history
	rate := 0.0
	if !h.lastAt.IsZero() {
		rate = float64(done-h.last) / now.Sub(h.lastAt).Seconds()
	}
	h.last, h.lastAt = done, now
	h.add([5]float64{float64(now.Unix()), float64(qs.Ready + qs.Waiting), float64(qs.Leased), rate, float64(len(workers))})
}

// History is what the console graphs: the points after since (Unix
// seconds; 0 for all), so that a console polling every second or two moves
// only what is new.
func (c *Coordinator) History(since float64) wire.History {
	points := c.history.snapshot()
	i := sort.Search(len(points), func(i int) bool { return points[i][0] > since })
	return wire.History{Step: 1, Points: append([][5]float64{}, points[i:]...)}
}

// rate is the units done per second over the last ten samples.
func (c *Coordinator) rate() float64 {
	points := c.history.snapshot()
	points = points[max(0, len(points)-10):]
	if len(points) == 0 {
		return 0
	}
	sum := 0.0
	for _, p := range points {
		sum += p[3]
	}
	return sum / float64(len(points))
}

// await waits for one answer on ch, or the request timeout.
func await[T any](c *Coordinator, ch chan T) (T, error) {
	t := time.NewTimer(c.set.RequestTimeout)
	defer t.Stop()
	select {
	case v := <-ch:
		return v, nil
	case <-t.C:
		var zero T
		return zero, errTimeout
	}
}

func (c *Coordinator) queueStats() (core.QueueStats, error) {
	m := &queueStats{reply: make(chan core.QueueStats, 1)}
	c.sys.Root.Send(c.dispatcher, m)
	return await(c, m.reply)
}

func (c *Coordinator) workers() ([]*core.Worker, error) {
	m := &workerDetails{reply: make(chan []*core.Worker, 1)}
	c.sys.Root.Send(c.dispatcher, &toRegistry{m})
	return await(c, m.reply)
}

// Summary is the console's header.
func (c *Coordinator) Summary() (wire.Summary, error) {
	lj := &listJobs{limit: 0, reply: make(chan jobList, 1)}
	c.sys.Root.Send(c.directory, lj)
	list, err := await(c, lj.reply)
	if err != nil {
		return wire.Summary{}, err
	}
	qs, err := c.queueStats()
	if err != nil {
		return wire.Summary{}, err
	}
	workers, err := c.workers()
	if err != nil {
		return wire.Summary{}, err
	}
	paused, err := c.Paused()
	if err != nil {
		return wire.Summary{}, err
	}
	s := wire.Summary{
		Jobs: list.counts,
		Units: map[string]int{"ready": qs.Ready, "leased": qs.Leased, "waiting": qs.Waiting,
			"incomplete": qs.Incomplete},
		Workers:        len(workers),
		UnitsPerSecond: c.rate(),
		Paused:         make([]string, len(paused)),
		Time:           float64(c.set.Now().UnixNano()) / 1e9,
		JobActors:      list.actors,
		FinishedBytes:  int64(list.finishedBytes),
	}
	total := 0
	for _, n := range list.counts {
		total += n
	}
	s.Jobs["incomplete"], s.Jobs["total"] = list.total, total
	for i, p := range paused {
		s.Paused[i] = p.Action
	}
	if w, ok := c.journal.(interface {
		Stats() persistence.WALStats
		Mode() persistence.SyncMode
	}); ok {
		st := w.Stats()
		s.WAL = &wire.WALSummary{Mode: w.Mode().String(), LastFsyncMS: ms(st.LastSyncDuration),
			MaxFsyncMS: ms(st.MaxSyncDuration), Bytes: st.BytesOnDisk}
	}
	return s, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// JobPage is one page of the console's job table (page counts from 1).
func (c *Coordinator) JobPage(f core.Filter, page, perPage int) (wire.JobPage, error) {
	page, perPage = max(page, 1), min(max(perPage, 1), 500)
	m := &pageJobs{filter: f, offset: (page - 1) * perPage, limit: perPage, reply: make(chan jobList, 1)}
	c.sys.Root.Send(c.directory, m)
	list, err := await(c, m.reply)
	if err != nil {
		return wire.JobPage{}, err
	}
	out := wire.JobPage{Total: list.total, Page: page, PerPage: perPage, Jobs: []wire.ConsoleJob{}}
	views := make(chan wire.ConsoleJob, len(list.ids))
	c.sys.Root.Send(c.directory, &askJobs{ids: list.ids, msg: &consoleJob{reply: views}})
	byID := make(map[int64]wire.ConsoleJob, len(list.ids))
	for range list.ids {
		v, err := await(c, views)
		if err != nil {
			return out, err
		}
		byID[v.ID] = v
	}
	for _, id := range list.ids {
		if v, ok := byID[id]; ok && v.ID != 0 {
			out.Jobs = append(out.Jobs, v)
		}
	}
	return out, nil
}

// ErrNoSuchJob answers a query about a job that does not exist.
var ErrNoSuchJob = errors.New("no such job")

// JobDetail is the console's job page: the job and one page of its units,
// with who runs each.
func (c *Coordinator) JobDetail(id int64, page, perPage int) (wire.JobDetail, error) {
	page, perPage = max(page, 1), min(max(perPage, 1), 1000)
	m := &jobDetail{id: id, offset: (page - 1) * perPage, limit: perPage, reply: make(chan *wire.JobDetail, 1)}
	c.sys.Root.Send(c.directory, m)
	d, err := await(c, m.reply)
	if err != nil {
		return wire.JobDetail{}, err
	}
	if d == nil {
		return wire.JobDetail{}, ErrNoSuchJob
	}
	d.Page, d.PerPage = page, perPage
	var open []int64
	for _, u := range d.Units {
		if u.State == "" {
			open = append(open, u.ID)
		}
	}
	if len(open) > 0 {
		us := &unitStates{ids: open, reply: make(chan map[int64][2]string, 1)}
		c.sys.Root.Send(c.dispatcher, us)
		states, err := await(c, us.reply)
		if err != nil {
			return wire.JobDetail{}, err
		}
		for i := range d.Units {
			u := &d.Units[i]
			if st, ok := states[u.ID]; ok {
				u.State = st[0]
				if st[1] != "" {
					u.Worker = &st[1]
				}
			}
		}
	}
	return *d, nil
}

// Workers lists the live workers with the unit each holds.
func (c *Coordinator) Workers() ([]wire.WorkerDetail, error) {
	ws, err := c.workers()
	if err != nil {
		return nil, err
	}
	var held []int64
	for _, w := range ws {
		if unit, ok := w.CurrentUnit(); ok {
			held = append(held, unit)
		}
	}
	units := map[int64]wire.WorkUnit{}
	if len(held) > 0 {
		m := &unitViews{ids: held, reply: make(chan map[int64]wire.WorkUnit, 1)}
		c.sys.Root.Send(c.dispatcher, m)
		if units, err = await(c, m.reply); err != nil {
			return nil, err
		}
	}
	out := make([]wire.WorkerDetail, len(ws))
	for i, w := range ws {
		d := wire.WorkerDetail{Name: w.Name, ThreadStatus: w.ThreadStatus, LastSeen: float64(w.LastSeen) / 1e9}
		if w.Interval > 0 {
			secs := float64(w.Interval) / 1e9
			d.CheckInInterval = &secs
		}
		if unit, ok := w.CurrentUnit(); ok {
			if u, ok := units[unit]; ok {
				d.Unit = &u
				status := core.Status(u.Status).String()
				d.Status = &status
			}
		}
		out[i] = d
	}
	return out, nil
}

// Console messages.
type (
	pageJobs struct {
		filter        core.Filter
		offset, limit int
		reply         chan jobList
	}
	consoleJob struct{ reply chan wire.ConsoleJob }
	jobDetail  struct {
		id            int64
		offset, limit int
		reply         chan *wire.JobDetail // nil: no such job
	}
	unitStates struct { // unit id -> {state, worker}
		ids   []int64
		reply chan map[int64][2]string
	}
	unitViews struct {
		ids   []int64
		reply chan map[int64]wire.WorkUnit
	}
	workerDetails struct{ reply chan []*core.Worker }
)

// consoleView is the job as the console lists it.
func consoleView(j *core.Job, now int64, detail bool) wire.ConsoleJob {
	v := wire.ConsoleJob{Job: j.View(now), Action: j.Action, CreatedAt: float64(j.CreatedAt) / 1e9}
	if detail {
		v.Options, v.CallbackURL = j.Options, j.CallbackURL
	}
	return v
}

// detailView is the job page with units [offset, offset+limit); the state
// of incomplete units is left for the dispatcher to fill in.
func detailView(j *core.Job, now int64, offset, limit int) *wire.JobDetail {
	units := j.Units()
	d := &wire.JobDetail{Job: consoleView(j, now, true), UnitsTotal: len(units), Units: []wire.UnitDetail{}}
	offset = min(offset, len(units))
	for i := offset; i < min(offset+limit, len(units)); i++ {
		u := &units[i]
		ud := wire.UnitDetail{ID: u.ID, Phase: j.Phase(i).String(), Attempts: u.Attempts, Time: u.Time,
			Input: u.Input, Output: u.Output, Errors: errorTexts(u.Errors)}
		if u.Status.Complete() {
			ud.State = u.Status.String()
			if u.Worker != "" {
				worker := u.Worker // a copy: the job's units change after this answer
				ud.Worker = &worker
			}
		}
		d.Units = append(d.Units, ud)
	}
	return d
}

// errorTexts shows each failed attempt's output as text: a JSON string
// unquoted, anything else as its JSON.
func errorTexts(outputs []string) []string {
	texts := make([]string, len(outputs))
	for i, o := range outputs {
		var s string
		if json.Unmarshal([]byte(o), &s) == nil {
			texts[i] = s
		} else {
			texts[i] = o
		}
	}
	return texts
}
