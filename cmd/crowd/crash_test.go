package main

// TestCrashRecovery is the kill -9 test of issue 3: 32 clients submit
// graphics_magick jobs and complete units against a real `crowd server`
// subprocess, which is killed with SIGKILL at a random moment of every round
// and restarted on the same data dir. The clients record only what the
// server answered 2xx; after each restart the test checks that all of it
// survived.
//
// Length: by default a short version runs (4 rounds; 2 with -short). The long
// version (25 rounds; the issue asks for at least 20) runs when the
// environment variable CROWD_LONG=1 is set, with or without -short:
//
//	CROWD_LONG=1 go test -count=1 -run TestCrashRecovery -v ./cmd/crowd
//
// CROWD_SEED=<n> repeats a run's random choices (the kill moments, the job
// sizes); the seed of every run is logged. The scheduling still differs.
// CROWD_KEEP_DATA=1 keeps the data dir (its path is logged).
// CROWD_* variables are not passed on to the server, which would read them
// as settings.

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	crashClients   = 32
	shortRounds    = 4
	longRounds     = 25
	maxProblems    = 30    // problems kept for the report
	snapshotOften  = "200" // snapshot_every in odd lives, so that kills also hit snapshots
	killAfterMin   = 100 * time.Millisecond
	killAfterRange = 500 * time.Millisecond
)

func crashRounds() int {
	switch {
	case os.Getenv("CROWD_LONG") == "1":
		return longRounds
	case testing.Short():
		return shortRounds / 2
	}
	return shortRounds
}

func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("CROWD_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CROWD_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// crashDataDir is the data dir of the crash test: in the test's temp dir,
// or, with CROWD_KEEP_DATA=1, in a folder that stays for a post-mortem.
func crashDataDir(t *testing.T) string {
	if os.Getenv("CROWD_KEEP_DATA") != "1" {
		return filepath.Join(t.TempDir(), "data")
	}
	dir, err := os.MkdirTemp("", "crowd-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data dir kept in %s", dir)
	return filepath.Join(dir, "data")
}

// ---- the ledger of acknowledged operations ----

// ledger is the clients' record of what the server acknowledged, and the
// problems found on the way. Lives are numbered: life n is the n-th server
// process on the data dir.
type ledger struct {
	mu    sync.Mutex
	life  int
	jobs  map[int64]*ackedJob  // POST /jobs answered 200
	units map[int64]*ackedUnit // PUT /work/:id answered 2xx

	handed     map[int64]string // unit -> the worker it was handed to in this life
	everHanded map[int64]bool
	handouts   [][]handout // per life
	recovered  []int       // per life: units handed out again, never acknowledged before

	// Ids only grow. The durable marks are the highest ids the server must
	// remember: a job that POST /jobs answered, its units, a unit whose PUT
	// was answered and its job. The seen marks are the highest ids any answer
	// showed, such as a unit handed out before its job was acknowledged.
	// before[n] holds the marks when life n started.
	marks  idMarks
	before []idMarks

	problems  []string
	nProblems int
	reused    []string // ids seen (never acknowledged) before a crash and given again after it
	nReused   int
}

// idMark is the highest id of a kind known so far, and how it became known.
type idMark struct {
	id  int64
	how string
}

func (m *idMark) raise(id int64, how func() string) {
	if id > m.id {
		m.id, m.how = id, how()
	}
}

type idMarks struct{ durableJob, seenJob, durableUnit, seenUnit idMark }

type ackedJob struct {
	id      int64
	inputs  []string
	life    int
	settled []byte // its JSON once checked complete and right
}

type ackedUnit struct {
	id, job       int64
	input, output string
	life          int
}

type handout struct {
	unit, job int64
	worker    string
}

func newLedger() *ledger {
	return &ledger{jobs: map[int64]*ackedJob{}, units: map[int64]*ackedUnit{}, everHanded: map[int64]bool{}}
}

// newLife starts the record of a new server process.
func (l *ledger) newLife(life int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if life > 0 {
		// The units handed out in the last life whose job or completion was
		// acknowledged (perhaps after the handout) are durable.
		for _, h := range l.handouts[life-1] {
			_, jobAcked := l.jobs[h.job]
			_, unitAcked := l.units[h.unit]
			if jobAcked || unitAcked {
				l.marks.durableUnit.raise(h.unit, func() string {
					return fmt.Sprintf("unit %d of job %d, handed to %s in life %d", h.unit, h.job, h.worker, life-1)
				})
			}
		}
	}
	l.life = life
	l.handed = map[int64]string{}
	l.handouts = append(l.handouts, nil)
	l.recovered = append(l.recovered, 0)
	l.before = append(l.before, l.marks)
}

// problemf records a broken invariant (l.mu held).
func (l *ledger) problemf(format string, args ...any) {
	l.nProblems++
	if len(l.problems) < maxProblems {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *ledger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problemf(format, args...)
}

// reusef records an id given again after it was seen but never
// acknowledged (l.mu held).
func (l *ledger) reusef(format string, args ...any) {
	l.nReused++
	if len(l.reused) < maxProblems {
		l.reused = append(l.reused, fmt.Sprintf(format, args...))
	}
}

// failOnProblems fails the test with the problems found so far.
func (l *ledger) failOnProblems(t *testing.T, when string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nProblems > 0 {
		t.Fatalf("%s: %d broken invariants; the first %d:\n  %s%s", when, l.nProblems, len(l.problems),
			strings.Join(l.problems, "\n  "), l.reusedReport())
	}
}

// reusedReport describes the reused ids found so far, or is empty (l.mu held).
func (l *ledger) reusedReport() string {
	if l.nReused == 0 {
		return ""
	}
	return fmt.Sprintf("\n%d ids seen before a crash were given again after it; the first %d:\n  %s",
		l.nReused, len(l.reused), strings.Join(l.reused, "\n  "))
}

// jobAcked records a job that POST /jobs answered. Invariant (d): its id is
// above every job id acknowledged before this life.
func (l *ledger) jobAcked(id int64, inputs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch b := l.before[l.life]; {
	case id <= b.durableJob.id:
		l.problemf("ids: POST /jobs answered job %d in life %d, but before that restart there was %s", id, l.life, b.durableJob.how)
	case id <= b.seenJob.id:
		l.reusef("POST /jobs answered job %d in life %d, but before that restart there was %s", id, l.life, b.seenJob.how)
	}
	if j, dup := l.jobs[id]; dup {
		l.problemf("ids: POST /jobs answered job %d twice (lives %d and %d)", id, j.life, l.life)
		return
	}
	l.jobs[id] = &ackedJob{id: id, inputs: inputs, life: l.life}
	how := func() string { return fmt.Sprintf("job %d, answered by POST /jobs in life %d", id, l.life) }
	l.marks.durableJob.raise(id, how)
	l.marks.seenJob.raise(id, how)
}

// handedOut records a unit that POST /work or PUT /work answered. Invariant
// (b): a unit whose completion was acknowledged is never handed out again;
// and within one life a unit is handed out once (nothing fails or times out
// here), with no attempt counted (a crash is not the worker's fault).
func (l *ledger) handedOut(worker string, u *unitDoc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.units[u.ID]; ok {
		l.problemf("lost completion: unit %d (job %d, %q) was handed to %s in life %d, but PUT /work/%d was answered 2xx in life %d",
			u.ID, u.JobID, u.Input, worker, l.life, u.ID, a.life)
	}
	if w, ok := l.handed[u.ID]; ok {
		l.problemf("unit %d (job %d) was handed to %s and then to %s in life %d", u.ID, u.JobID, w, worker, l.life)
	}
	if u.Attempts != 0 || u.Action != gm || u.Status != 1 {
		l.problemf("unit %d (job %d) handed to %s in life %d: attempts %d, action %q, status %d; want 0, %s, 1",
			u.ID, u.JobID, worker, l.life, u.Attempts, u.Action, u.Status, gm)
	}
	if j, ok := l.jobs[u.JobID]; ok {
		if k := inputIndex(u.Input); k < 0 || k >= len(j.inputs) || j.inputs[k] != u.Input {
			l.problemf("unit %d claims job %d, whose inputs are %q, but has the input %q", u.ID, u.JobID, j.inputs, u.Input)
		}
	}
	l.handed[u.ID] = worker
	l.handouts[l.life] = append(l.handouts[l.life], handout{u.ID, u.JobID, worker})
	if l.everHanded[u.ID] {
		l.recovered[l.life]++
	}
	l.everHanded[u.ID] = true
	how := func() string {
		return fmt.Sprintf("unit %d of job %d (input %q), handed to %s in life %d", u.ID, u.JobID, u.Input, worker, l.life)
	}
	l.marks.seenUnit.raise(u.ID, how)
	l.marks.seenJob.raise(u.JobID, how)
}

// unitAcked records a unit whose PUT /work/:id answered 2xx.
func (l *ledger) unitAcked(u *unitDoc, output string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, dup := l.units[u.ID]; dup {
		l.problemf("PUT /work/%d was answered 2xx in life %d and again in life %d", u.ID, a.life, l.life)
		return
	}
	l.units[u.ID] = &ackedUnit{id: u.ID, job: u.JobID, input: u.Input, output: output, life: l.life}
	how := func() string {
		return fmt.Sprintf("unit %d of job %d, whose PUT was answered in life %d", u.ID, u.JobID, l.life)
	}
	l.marks.durableUnit.raise(u.ID, how)
	l.marks.durableJob.raise(u.JobID, how)
}

// checkUnitIDs checks invariant (d) for units: the units of a job created in
// a life have ids above every unit acknowledged before that life.
func (l *ledger) checkUnitIDs(life int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.before[life]
	for _, h := range l.handouts[life] {
		if j, ok := l.jobs[h.job]; !ok || j.life != life {
			continue
		}
		switch {
		case h.unit <= b.durableUnit.id:
			l.problemf("ids: unit %d of job %d (answered by POST /jobs in life %d), but before that restart there was %s",
				h.unit, h.job, life, b.durableUnit.how)
		case h.unit <= b.seenUnit.id:
			l.reusef("unit %d of job %d (answered by POST /jobs in life %d), but before that restart there was %s",
				h.unit, h.job, life, b.seenUnit.how)
		}
	}
}

// jobList lists the acknowledged jobs in id order.
func (l *ledger) jobList() []*ackedJob {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := make([]*ackedJob, 0, len(l.jobs))
	for _, j := range l.jobs {
		list = append(list, j)
	}
	slices.SortFunc(list, func(a, b *ackedJob) int { return cmp.Compare(a.id, b.id) })
	return list
}

func (l *ledger) settled(j *ackedJob) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return j.settled
}

func (l *ledger) settle(j *ackedJob, raw []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j.settled = raw
}

// ackedUnitsOf lists the acknowledged units of a job (for messages).
func (l *ledger) ackedUnitsOf(job int64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for _, u := range l.units {
		if u.job == job {
			s = append(s, fmt.Sprintf("unit %d %q (life %d)", u.id, u.output, u.life))
		}
	}
	slices.Sort(s)
	return s
}

func (l *ledger) counts() (jobs, units int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.jobs), len(l.units)
}

// ---- inputs ----

// unitInput encodes the client, its job counter and the input's position,
// so that every input is unique and names its place in its job.
func unitInput(client, job, k int) string { return fmt.Sprintf("c%02d-j%06d-i%d", client, job, k) }

// inputIndex is the position a unitInput names, or -1.
func inputIndex(input string) int {
	i := strings.LastIndex(input, "-i")
	if i < 0 {
		return -1
	}
	k, err := strconv.Atoi(input[i+2:])
	if err != nil {
		return -1
	}
	return k
}

func doneOutputs(inputs []string) []any {
	out := make([]any, len(inputs))
	for i, in := range inputs {
		out[i] = in + "-done"
	}
	return out
}

// ---- the clients ----

// crashClient submits jobs and works as a worker, until a request fails.
type crashClient struct {
	n      int
	rng    *rand.Rand
	jobs   int // jobs submitted so far, in every life
	worker string
}

// run loops until the kill cuts a request off. A request that fails before
// the kill, or any answer other than the expected ones, is a problem.
func (c *crashClient) run(api *apiClient, led *ledger, killed *atomic.Bool) {
	fail := func(what string, err error) {
		if !killed.Load() || isStatusError(err) {
			led.problem("client %d: %s: %v", c.n, what, err)
		}
	}
	for {
		c.jobs++
		inputs := make([]string, 1+c.rng.IntN(3))
		for k := range inputs {
			inputs[k] = unitInput(c.n, c.jobs, k)
		}
		job, _, err := api.submit(gm, inputs)
		if err != nil {
			fail("POST /jobs", err)
			return
		}
		led.jobAcked(job.ID, inputs)

		u, err := api.fetchWork(c.worker, gm)
		if err != nil {
			fail("POST /work", err)
			return
		}
		for u != nil {
			led.handedOut(c.worker, u)
			out := u.Input + "-done"
			next, err := api.completeUnit(u.ID, c.worker, gm, out)
			if err != nil {
				fail(fmt.Sprintf("PUT /work/%d", u.ID), err)
				return
			}
			led.unitAcked(u, out)
			u = next
		}
	}
}

// ---- checks after a restart ----

// parallel runs fn on every item with a few goroutines.
func parallel[T any](items []T, fn func(T)) {
	var wg sync.WaitGroup
	ch := make(chan T)
	for range 8 {
		wg.Go(func() {
			for it := range ch {
				fn(it)
			}
		})
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

// checkJobsExist is invariant (a): every acknowledged job exists with its id;
// one that was complete and right before is unchanged, byte for byte.
func checkJobsExist(api *apiClient, led *ledger, life int) {
	parallel(led.jobList(), func(j *ackedJob) {
		doc, raw, ok, err := api.job(j.id)
		switch {
		case err != nil:
			led.problem("life %d: GET /jobs/%d: %v", life, j.id, err)
		case !ok:
			led.problem("lost job: job %d (inputs %q) was answered by POST /jobs in life %d, but GET /jobs/%d is 404 in life %d", j.id, j.inputs, j.life, j.id, life)
		case doc.ID != j.id:
			led.problem("life %d: GET /jobs/%d answered job %d", life, j.id, doc.ID)
		default:
			if s := led.settled(j); s != nil && string(s) != string(raw) {
				led.problem("life %d: complete job %d changed across the restart:\nbefore %s\nafter  %s", life, j.id, s, raw)
			}
		}
	})
}

// drain hands out and completes every ready unit with one worker: the units
// leased at the crash are ready again, and none of them may be a unit whose
// completion was acknowledged (checked by the ledger). It returns the number
// of units completed.
func drain(api *apiClient, led *ledger, worker string) (int, error) {
	n := 0
	u, err := api.fetchWork(worker, gm)
	for ; err == nil && u != nil; n++ {
		led.handedOut(worker, u)
		out := u.Input + "-done"
		var next *unitDoc
		if next, err = api.completeUnit(u.ID, worker, gm, out); err == nil {
			led.unitAcked(u, out)
		}
		u = next
	}
	return n, err
}

// checkOutputs is invariants (b) and (c) once nothing is left to do: every
// acknowledged job is complete, succeeded, and its outputs are its inputs'
// outputs in input order, each once.
func checkOutputs(api *apiClient, led *ledger, life int) {
	var todo []*ackedJob
	for _, j := range led.jobList() {
		if led.settled(j) == nil {
			todo = append(todo, j)
		}
	}
	parallel(todo, func(j *ackedJob) {
		doc, raw, err := api.waitComplete(j.id)
		if err != nil {
			led.problem("life %d, all work drained: %v", life, err)
			return
		}
		if want := doneOutputs(j.inputs); doc.Status != "succeeded" || !reflect.DeepEqual(doc.Outputs, want) ||
			doc.PercentComplete != 100 || doc.WorkUnits != 0 {
			led.problem("life %d: job %d is %s\nwant succeeded, 100%%, 0 work units, outputs %q\nacknowledged: %s",
				life, j.id, raw, want, strings.Join(led.ackedUnitsOf(j.id), ", "))
			return
		}
		led.settle(j, raw)
	})
}

// checkRestart runs every check on a freshly restarted server and leaves it
// with nothing to do.
func checkRestart(t *testing.T, api *apiClient, led *ledger, life int) (drained int) {
	t.Helper()
	checkJobsExist(api, led, life)
	led.failOnProblems(t, fmt.Sprintf("life %d, jobs", life))
	drained, err := drain(api, led, fmt.Sprintf("drain-%d", life))
	if err != nil {
		t.Fatalf("life %d: drain: %v", life, err)
	}
	led.failOnProblems(t, fmt.Sprintf("life %d, drain", life))
	checkOutputs(api, led, life)
	if life > 0 {
		led.checkUnitIDs(life - 1)
	}
	led.failOnProblems(t, fmt.Sprintf("life %d, outputs", life))
	return drained
}

// crashConfig is the server's setting in a life: every other life takes
// snapshots often, so that kills land before, during and after them.
func crashConfig(life int) (serverConfig, string) {
	if life%2 == 1 {
		return serverConfig{env: []string{"CROWD_SNAPSHOT_EVERY=" + snapshotOften}}, "snapshot_every " + snapshotOften
	}
	return serverConfig{}, "default snapshots"
}

func TestCrashRecovery(t *testing.T) {
	rounds := crashRounds()
	seed := crashSeed(t)
	t.Logf("%d rounds, %d clients, seed %d (CROWD_SEED=%d repeats the random choices)", rounds, crashClients, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := crashDataDir(t)
	led := newLedger()
	clients := make([]*crashClient, crashClients)
	for i := range clients {
		clients[i] = &crashClient{n: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+2)), worker: fmt.Sprintf("worker-%02d", i)}
	}

	for life := 0; life < rounds; life++ {
		sc, what := crashConfig(life)
		srv := startServer(t, fmt.Sprintf("life %d", life), dir, sc)
		api := newAPIClient(srv.url())
		led.newLife(life)
		drained := checkRestart(t, api, led, life)
		restore, _ := srv.logField("state restored", "took")
		jobsBefore, unitsBefore := led.counts()

		killAfter := killAfterMin + time.Duration(rng.Int64N(int64(killAfterRange)))
		var killed atomic.Bool
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { c.run(api, led, &killed) })
		}
		time.Sleep(killAfter)
		killed.Store(true)
		srv.kill()
		wg.Wait()
		api.close()

		jobs, units := led.counts()
		t.Logf("life %d (%s): restored in %s; %d units ready again and drained (%d of them handed out before); killed after %v; %d jobs and %d completions acknowledged",
			life, what, restore, drained, led.recovered[life], killAfter.Round(time.Millisecond), jobs-jobsBefore, units-unitsBefore)
		led.failOnProblems(t, fmt.Sprintf("life %d, clients", life))
	}

	// The last restart: drain everything, and check every job.
	srv := startServer(t, fmt.Sprintf("life %d", rounds), dir, serverConfig{})
	api := newAPIClient(srv.url())
	defer api.close()
	led.newLife(rounds)
	drained := checkRestart(t, api, led, rounds)
	jobs, units := led.counts()
	t.Logf("life %d: %d units drained; in all %d jobs and %d completions acknowledged, all checked", rounds, drained, jobs, units)

	// And a clean restart changes nothing.
	srv.stopOK()
	srv = startServer(t, "after SIGTERM", dir, serverConfig{})
	api = newAPIClient(srv.url())
	defer api.close()
	led.newLife(rounds + 1)
	checkJobsExist(api, led, rounds+1)
	if u, err := api.fetchWork("last", gm); err != nil || u != nil {
		t.Errorf("POST /work after the clean restart: %+v, %v; want 204", u, err)
	}
	led.failOnProblems(t, "after the clean restart")
	srv.stopOK()

	led.mu.Lock()
	reused := led.reusedReport()
	led.mu.Unlock()
	if reused != "" {
		t.Errorf("ids were given again after a crash (SPEC §4: ids are never reused):%s", reused)
	}
}

// TestRestartAfterConcurrentSubmits is the small case of TestCrashRecovery:
// jobs submitted at once, kill -9, restart: every job is there.
func TestRestartAfterConcurrentSubmits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, "first server", dir, serverConfig{})
	api := newAPIClient(srv.url())
	defer api.close()
	ids := make([]int64, 64)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			j, _, err := api.submit(gm, []string{fmt.Sprintf("s%02d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = j.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	srv.kill()

	srv = startServer(t, "restarted server", dir, serverConfig{})
	api = newAPIClient(srv.url())
	defer api.close()
	for i, id := range ids {
		if doc, _ := api.mustJob(t, id); doc.Status != "processing" {
			t.Errorf("job %d (s%02d) is %s after the restart, want processing", id, i, doc.Status)
		}
	}
	srv.stopOK()
}
