package actors

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

func openWAL(t testing.TB, dir string) *persistence.WAL {
	t.Helper()
	w, err := persistence.OpenWAL(persistence.WALOptions{Dir: dir, SegmentSize: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// durable is a coordinator on a real write-ahead log in dir.
type durable struct {
	c    *Coordinator
	wal  *persistence.WAL
	snap *Snapshotter
}

func startDurable(t testing.TB, dir string) *durable {
	t.Helper()
	w := openWAL(t, dir)
	state, gen, err := Load(dir, w)
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	c, err := Start(Settings{WorkUnitRetries: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, w, state)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshotter{Coordinator: c, Log: w, Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.SetGeneration(gen)
	return &durable{c: c, wal: w, snap: s}
}

func (d *durable) stop(t testing.TB) {
	t.Helper()
	if err := d.c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.wal.Close(); err != nil {
		t.Fatal(err)
	}
}

// jobsJSON is every job's JSON, time_taken aside, for comparing states.
func jobsJSON(t testing.TB, c *Coordinator, upTo int64) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for id := int64(1); id <= upTo; id++ {
		if r := c.Job(id); r.Outcome == OK {
			j := r.Job
			j.TimeTaken = 0
			out[id] = string(j.AppendJSON(nil))
		}
	}
	return out
}

// restart stops d and starts a coordinator on its data dir again, and fails
// unless jobs 1 to upTo read as they did before (what says when).
func restart(t *testing.T, d *durable, dir string, upTo int64, when string) *durable {
	t.Helper()
	want := jobsJSON(t, d.c, upTo)
	d.stop(t)
	d = startDurable(t, dir)
	if got := jobsJSON(t, d.c, upTo); !maps.Equal(got, want) {
		d.stop(t)
		t.Fatalf("%s:\n got %v\nwant %v", when, got, want)
	}
	return d
}

// work submits jobs and completes some of their units, failing a few.
func work(t testing.TB, c *Coordinator, jobs int) {
	t.Helper()
	for i := 0; i < jobs; i++ {
		mustOK(t.(*testing.T), c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a" + strconv.Itoa(i), "b", "c"}, Options: []byte(`{}`)}))
	}
	for i := 0; i < jobs; i++ {
		r := c.Dequeue("w", "graphics_magick")
		if r.Outcome != OK {
			break
		}
		mustOK(t.(*testing.T), c.Complete(Report{Unit: r.Unit.ID, Worker: "w", Succeeded: i%5 != 0, Output: []byte(`"x"`)}))
	}
}

func TestSnapshotThenLogRestoresEverything(t *testing.T) {
	dir := t.TempDir()
	d := startDurable(t, dir)
	work(t, d.c, 20)
	if err := d.snap.Take(); err != nil {
		t.Fatal(err)
	}
	work(t, d.c, 10) // after the snapshot: only in the log
	mustOK(t, d.c.DeleteJob(3))
	d = restart(t, d, dir, 40, "after restart")
	defer d.stop(t)
	if r := mustOK(t, d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"n"}, Options: []byte(`{}`)})); r.Job.ID != 31 {
		t.Fatalf("next job id %d, want 31", r.Job.ID)
	}
}

// The log was trimmed behind a snapshot that is now lost, with no snapshot
// or an older one left: the start refuses, saying which records are
// missing, rather than coming up without their changes.
func TestLoadRefusesALogThatStartsAfterItsSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		older      bool // the first snapshot stands in for the second
	}{
		{"no snapshot", "no snapshot holds the records before it", false},
		{"an older snapshot", "holds the records up to 1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, saved := t.TempDir(), t.TempDir()
			d := startDurable(t, dir)
			mustOK(t, d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: []string{"a"}, Options: []byte(`{}`)}))
			if err := d.snap.Take(); err != nil {
				t.Fatal(err)
			}
			first := theSnapshot(t, dir)
			copyFile(t, first, filepath.Join(saved, filepath.Base(first)))
			work(t, d.c, 3)
			if err := d.snap.Take(); err != nil {
				t.Fatal(err)
			}
			work(t, d.c, 2)
			d.stop(t)
			if err := os.Remove(theSnapshot(t, dir)); err != nil {
				t.Fatal(err)
			}
			if tc.older {
				copyFile(t, filepath.Join(saved, filepath.Base(first)), first)
			}
			w := openWAL(t, dir)
			defer w.Close()
			_, _, err := Load(dir, w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A snapshot newer than the log (the log is a copy from before the
// snapshot): the state is the snapshot's, the log's records are all
// already in it, and work goes on and survives another restart.
func TestLoadSnapshotNewerThanLog(t *testing.T) {
	dir, old := t.TempDir(), t.TempDir()
	d := startDurable(t, dir)
	work(t, d.c, 8)
	d.stop(t)
	copyDir(t, dir, old) // the log as it was
	d = startDurable(t, dir)
	work(t, d.c, 8)
	if err := d.snap.Take(); err != nil {
		t.Fatal(err)
	}
	want := jobsJSON(t, d.c, 20)
	d.stop(t)
	snap := theSnapshot(t, dir)
	copyFile(t, snap, filepath.Join(old, filepath.Base(snap)))

	d = startDurable(t, old)
	if got := jobsJSON(t, d.c, 20); !maps.Equal(got, want) {
		t.Fatalf("state from a snapshot newer than the log:\n got %v\nwant %v", got, want)
	}
	work(t, d.c, 3)
	d = restart(t, d, old, 30, "work after it did not survive a restart")
	d.stop(t)
}

// A steady load (submit, work, delete) keeps the data dir bounded: the log
// is trimmed behind each snapshot. CROWD_LONG=1 runs 1,000,000 units.
func TestCompactionBoundsTheDataDir(t *testing.T) {
	units := 100_000
	if os.Getenv("CROWD_LONG") == "1" {
		units = 1_000_000
	}
	const inputs, workers, every = 10, 16, 20_000
	const bound = 8 << 20 // bytes: a few segments of 64 KiB plus snapshots of the live jobs
	dir := t.TempDir()
	d := startDurable(t, dir)
	defer d.stop(t)
	d.snap.Every = every
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.snap.Run(ctx)

	var wg sync.WaitGroup
	var mu sync.Mutex
	largest := int64(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "w" + strconv.Itoa(w)
			var mine []int64 // jobs this worker created and has not deleted yet
			// deleteFinished deletes the jobs of mine that have succeeded,
			// as a client does once its callback comes.
			deleteFinished := func() {
				mine = slices.DeleteFunc(mine, func(id int64) bool {
					r := d.c.Job(id)
					if r.Outcome != OK || r.Job.Status != "succeeded" {
						return false
					}
					if r := d.c.DeleteJob(id); r.Outcome != NoContent {
						t.Errorf("delete job %d: outcome %d: %v", id, r.Outcome, r.Err)
					}
					return true
				})
			}
			for n := 0; n < units/inputs/workers; n++ {
				r := d.c.CreateJob(JobSpec{Action: "graphics_magick", Inputs: make([]string, inputs), Options: []byte(`{}`)})
				if r.Outcome != OK {
					t.Errorf("create: %v", r.Err)
					return
				}
				mine = append(mine, r.Job.ID)
				// Other workers may take this job's units; complete whatever
				// comes, which may be theirs.
				for u := d.c.Dequeue(name, "graphics_magick"); u.Outcome == OK; {
					u = d.c.Complete(Report{Unit: u.Unit.ID, Worker: name, Actions: "graphics_magick", Succeeded: true, Output: []byte("1")})
				}
				deleteFinished()
				if n%200 == 0 {
					size := dirSize(t, dir)
					mu.Lock()
					largest = max(largest, size)
					mu.Unlock()
				}
			}
			// The last jobs may wait on units other workers hold.
			for deadline := time.Now().Add(time.Minute); len(mine) > 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Errorf("jobs %v never succeeded", mine)
					return
				}
				deleteFinished()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d units: the data dir peaked at %d bytes (bound %d)", units, largest, bound)
	if largest > bound {
		t.Fatalf("the data dir reached %d bytes, over the bound of %d", largest, bound)
	}
}

// theSnapshot is the path of the one snapshot file in dir.
func theSnapshot(t *testing.T, dir string) string {
	t.Helper()
	snaps, err := filepath.Glob(filepath.Join(dir, "snapshot-*"))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshot files %v (%v), want one", snaps, err)
	}
	return snaps[0]
}

func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("data dir %s: %d entries (%v)", dir, len(entries), err)
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil { // a file the writer removed meanwhile counts 0
			n += info.Size()
		}
	}
	return n
}

func copyDir(t *testing.T, from, to string) {
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "LOCK" {
			copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
