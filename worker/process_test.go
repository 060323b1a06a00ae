package worker_test

// End-to-end tests with real `crowd worker` processes against a real
// coordinator, on real files.

import (
	"context"
	"fmt"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action/pdftest"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// TestWordCountHundredFiles: word_count over 100 files of known sizes,
// given as file:// URLs, run by a worker process of 4 slots; the merge is
// their total.
func TestWordCountHundredFiles(t *testing.T) {
	t.Parallel()
	co := startCoordinator(t, nil)
	dir := t.TempDir()
	var inputs []any
	total := 0
	for i := range 100 {
		n := i*7 + 1 // words in file i
		words := make([]string, n)
		for k := range words {
			words[k] = "w" + strconv.Itoa(k)
		}
		// Mixed separators: spaces, tabs and newlines.
		text := strings.Join(words, []string{" ", "\t", "\n  "}[i%3]) + "\n"
		inputs = append(inputs, fileURL(writeFile(t, dir, fmt.Sprintf("doc %03d.txt", i), text)))
		total += n
	}
	_, _, env := workDirs(t)
	startWorker(t, "worker", co.URL, env, "--concurrency", "4")
	j := submit(t, co.Client, client.Job{Action: "word_count", Inputs: inputs})
	j = waitJob(t, co.Client, j.ID, 2*time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("job %s, outputs %s", j.Status, j.Outputs)
	}
	if got := outputs(t, j); !reflect.DeepEqual(got, []any{float64(total)}) {
		t.Fatalf("outputs %v, want [%d]", got, total)
	}
}

// splitMergeScript is an exec action in shell with all three phases: split
// turns "1,2,3" into [1,2,3], process squares a number, merge sums.
const splitMergeScript = `#!/bin/sh
# The input is the first key of the JSON on standard input.
input() { sed -n 's/^{"input":\(.*\),"input_path":.*$/\1/p'; }
case "$1" in
phases) echo "split process merge" ;;
split) in=$(input | tr -d '"'); echo "[$in]" ;;
process) n=$(input | tr -d '"'); echo $((n * n)) ;;
merge)
	sum=0
	for n in $(input | tr -d '[]' | tr ',' ' '); do sum=$((sum + n)); done
	echo "$sum" ;;
*) echo "unknown phase $1" >&2; exit 2 ;;
esac
`

// TestExecSplitMerge: an exec action with split, process and merge, run by
// a worker process.
func TestExecSplitMerge(t *testing.T) {
	t.Parallel()
	actions := t.TempDir()
	writeAction(t, actions, "squares.sh", splitMergeScript)
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, _, env := workDirs(t)
	startWorker(t, "worker", co.URL, env, "--concurrency", "3", "--actions-dir", actions)
	j := submit(t, co.Client, client.Job{Action: "squares", Inputs: []any{"1,2,3", "4,5"}})
	j = waitJob(t, co.Client, j.ID, time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("job %s, outputs %s", j.Status, j.Outputs)
	}
	if got := outputs(t, j); !reflect.DeepEqual(got, []any{float64(1 + 4 + 9 + 16 + 25)}) {
		t.Fatalf("outputs %v, want [55]", got)
	}
}

// TestFailingActionRetried: an exec action that always fails, with
// work_unit_retries 3 and no back-off, is tried 3 times; the job fails with
// the script's standard error in its outputs.
func TestFailingActionRetried(t *testing.T) {
	t.Parallel()
	actions := t.TempDir()
	writeAction(t, actions, "flaky", `#!/bin/sh
[ "$1" = phases ] && exit 0
cat >/dev/null
echo "some noise first" >&2
echo "flaky: the disk is on fire" >&2
exit 3
`)
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, _, env := workDirs(t)
	w := startWorker(t, "worker", co.URL, env, "--actions-dir", actions)
	j := submit(t, co.Client, client.Job{Action: "flaky", Inputs: []any{"x"}})
	j = waitJob(t, co.Client, j.ID, time.Minute)
	if j.Status != "failed" {
		t.Fatalf("job %s, want failed", j.Status)
	}
	out := outputs(t, j)
	msg, _ := out[0].(string)
	if len(out) != 1 || !strings.HasPrefix(msg, "action flaky failed: ") || !strings.Contains(msg, "flaky: the disk is on fire") {
		t.Fatalf("outputs %v, want [\"action flaky failed: ...the disk is on fire\"]", out)
	}
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if len(d.Units) != 1 || d.Units[0].Attempts != 3 || len(d.Units[0].Errors) != 3 {
		t.Fatalf("unit %+v, want 3 attempts and 3 errors", d.Units)
	}
	for _, e := range d.Units[0].Errors {
		if !strings.Contains(e, "the disk is on fire") {
			t.Errorf("attempt error %q lacks the script's message", e)
		}
	}
	if n := strings.Count(w.out.String(), "unit failed"); n != 3 {
		t.Errorf("the worker logged %d failures, want 3:\n%s", n, w.out.String())
	}
}

// napScript sleeps for its input's number of seconds, then answers
// "slept". It writes its pid into $NAP_PIDS, so that the test can stop a
// sleep whose worker was killed.
const napScript = `#!/bin/sh
[ "$1" = phases ] && exit 0
secs=$(sed -n 's/^{"input":"\([0-9]*\)".*$/\1/p')
[ -n "$NAP_PIDS" ] && echo $$ > "$NAP_PIDS/$$"
sleep "$secs"
echo '"slept"'
`

// killNaps kills the naps still running.
func killNaps(t *testing.T, dir string) {
	t.Cleanup(func() {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				syscall.Kill(-pid, syscall.SIGKILL) // its process group: the sleep too
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// waitNap waits until a nap started (its pid file is in dir).
func waitNap(t *testing.T, dir string) {
	t.Helper()
	waitFor(t, time.Minute, "the action to start", func() bool {
		ents, err := os.ReadDir(dir)
		return err == nil && len(ents) > 0
	})
}

// TestKilledWorkerUnitRecovered: a worker process killed with SIGKILL in
// the middle of a unit; the coordinator recovers the unit after three missed
// check-ins (the worker declared 1 s) and another worker completes it.
func TestKilledWorkerUnitRecovered(t *testing.T) {
	t.Parallel()
	actions, pids := t.TempDir(), t.TempDir()
	killNaps(t, pids)
	// The first attempt sleeps a minute; the next ones (attempts > 0) at once.
	writeAction(t, actions, "nap", `#!/bin/sh
[ "$1" = phases ] && exit 0
in=$(cat)
case "$in" in
*'"attempts":0'*) echo $$ > "$NAP_PIDS/$$"; exec sleep 60 ;;
esac
echo '"woke"'
`)
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, _, env := workDirs(t)
	env = append(env, "NAP_PIDS="+pids)
	a := startWorker(t, "worker A", co.URL, env, "--actions-dir", actions)
	j := submit(t, co.Client, client.Job{Action: "nap", Inputs: []any{"x"}})
	u := leasedUnit(t, co.Client, a.slotName(1), time.Minute)
	if u.JobID != j.ID || u.Attempts != 0 {
		t.Fatalf("worker A holds %+v", u)
	}
	waitNap(t, pids) // mid-unit
	a.signal(syscall.SIGKILL, 10*time.Second)

	startWorker(t, "worker B", co.URL, env, "--actions-dir", actions)
	j = waitJob(t, co.Client, j.ID, time.Minute)
	if j.Status != "succeeded" || string(j.Outputs) != `["woke"]` {
		t.Fatalf("job %s %s, want succeeded [\"woke\"]", j.Status, j.Outputs)
	}
	d := getJSON[wire.JobDetail](t, co.URL, fmt.Sprintf("/console/jobs/%d", j.ID))
	if d.Units[0].Attempts != 2 { // the recovery counts as one (SPEC §3)
		t.Errorf("attempts = %d, want 2 (the killed one and the success)", d.Units[0].Attempts)
	}
}

// TestSIGTERMCheckOut: SIGTERM makes a worker process stop taking work and
// exit 0. A unit longer than the grace period goes back to the queue with
// its attempts unchanged; one that ends within it is reported.
func TestSIGTERMCheckOut(t *testing.T) {
	t.Parallel()
	actions := t.TempDir()
	writeAction(t, actions, "nap", napScript)
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, _, env := workDirs(t)
	napEnv := func(t *testing.T) (string, []string) {
		pids := t.TempDir()
		killNaps(t, pids)
		return pids, append(env[:len(env):len(env)], "NAP_PIDS="+pids)
	}

	t.Run("grace shorter than the unit", func(t *testing.T) {
		pids, env := napEnv(t)
		w := startWorker(t, "worker", co.URL, env, "--actions-dir", actions, "--grace", "1s")
		j := submit(t, co.Client, client.Job{Action: "nap", Inputs: []any{"60"}})
		leasedUnit(t, co.Client, w.slotName(1), time.Minute)
		waitNap(t, pids)
		if code := w.signal(syscall.SIGTERM, time.Minute); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", code)
		}
		for _, want := range []string{"cut short by the end of the grace period", "worker stopped"} {
			if !strings.Contains(w.out.String(), want) {
				t.Errorf("the worker's log lacks %q", want)
			}
		}
		// The unit is ready again, not counted as an attempt.
		var u *wire.WorkUnit
		waitFor(t, 30*time.Second, "the unit to be back in the queue", func() bool {
			var err error
			u, err = co.Client.Dequeue(context.Background(), "probe", "nap")
			if err != nil {
				t.Fatal(err)
			}
			return u != nil
		})
		if u.JobID != j.ID || u.Attempts != 0 {
			t.Fatalf("the queue gave %+v, want job %d's unit with attempts 0", u, j.ID)
		}
		if err := co.Client.CheckOut(context.Background(), "probe"); err != nil {
			t.Fatal(err)
		}
		if err := co.Client.Delete(context.Background(), j.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("grace longer than the unit", func(t *testing.T) {
		pids, env := napEnv(t)
		w := startWorker(t, "worker", co.URL, env, "--actions-dir", actions, "--grace", "1m")
		j := submit(t, co.Client, client.Job{Action: "nap", Inputs: []any{"2"}})
		leasedUnit(t, co.Client, w.slotName(1), time.Minute)
		waitNap(t, pids)
		if code := w.signal(syscall.SIGTERM, time.Minute); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", code)
		}
		// Reported before the worker exited.
		j = waitJob(t, co.Client, j.ID, 10*time.Second)
		if j.Status != "succeeded" || string(j.Outputs) != `["slept"]` {
			t.Fatalf("job %s %s, want succeeded [\"slept\"]", j.Status, j.Outputs)
		}
		if strings.Contains(w.out.String(), "cut short") {
			t.Errorf("the unit was cut short:\n%s", w.out.String())
		}
	})
}

// needTools skips the test when a tool is missing, unless
// CROWD_REQUIRE_TOOLS=1, which makes that a failure.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CROWD_REQUIRE_TOOLS") == "1" {
				t.Fatalf("CROWD_REQUIRE_TOOLS=1 but %s is missing (GraphicsMagick, ghostscript and poppler-utils)", tool)
			}
			t.Skipf("%s is missing (install GraphicsMagick, ghostscript and poppler-utils; CROWD_REQUIRE_TOOLS=1 makes this a failure)", tool)
		}
	}
}

// TestProcessPDFs: process_pdfs on a generated 3-page PDF through a worker
// process: split into batches of 2 pages, process, merge; the output is the
// URL of a tar in the filesystem store.
func TestProcessPDFs(t *testing.T) {
	needTools(t, "gm", "gs", "pdfseparate", "pdftotext")
	t.Parallel()
	co := startCoordinator(t, nil)
	texts := []string{"Page one text", "Page two text", "Page three text"}
	pdf := writeFile(t, t.TempDir(), "annual report.pdf", string(pdftest.PDF(texts)))
	_, storage, env := workDirs(t)
	startWorker(t, "worker", co.URL, env, "--concurrency", "2")
	j := submit(t, co.Client, client.Job{Action: "process_pdfs", Inputs: []any{fileURL(pdf)},
		Options: []byte(`{"batch_size": 2, "images": [{"name": "thumb", "options": "-resize 100x", "extension": "png"}]}`)})
	j = waitJob(t, co.Client, j.ID, 3*time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("job %s, outputs %s", j.Status, j.Outputs)
	}
	out := outputs(t, j)
	u, err := url.Parse(fmt.Sprint(out[0]))
	if len(out) != 1 || err != nil || u.Scheme != "file" {
		t.Fatalf("outputs %v, want one file:// URL", out)
	}
	rel, err := filepath.Rel(storage, u.Path)
	if err != nil || !filepath.IsLocal(rel) || !strings.HasSuffix(rel, "processed_pdfs.tar") {
		t.Fatalf("the tar %s is not in the store %s", u.Path, storage)
	}
	files := pdftest.ReadTar(t, u.Path)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	doc := "annual-report" // the input's safe file name, without .pdf
	want := []string{
		doc + "/images/thumb/" + doc + "_00001.png", doc + "/images/thumb/" + doc + "_00002.png", doc + "/images/thumb/" + doc + "_00003.png",
		doc + "/text/full/" + doc + ".txt",
		doc + "/text/pages/" + doc + "_00001.txt", doc + "/text/pages/" + doc + "_00002.txt", doc + "/text/pages/" + doc + "_00003.txt",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("the tar holds\n%v\nwant\n%v", names, want)
	}
	for i, text := range texts {
		if got := strings.TrimSpace(string(files[fmt.Sprintf("%s/text/pages/%s_%05d.txt", doc, doc, i+1)])); got != text {
			t.Errorf("page %d text %q, want %q", i+1, got, text)
		}
	}
}

// TestSecondSignalStopsNow: a second SIGTERM during the graceful stop cuts
// it short: the running exec action's process group is killed, the slot
// checks out (its unit goes back with no attempt counted), and the worker
// exits non-zero, rather than dying and leaving the action running.
func TestSecondSignalStopsNow(t *testing.T) {
	t.Parallel()
	actions, pids := t.TempDir(), t.TempDir()
	killNaps(t, pids)
	writeAction(t, actions, "nap", napScript)
	co := startCoordinator(t, func(c *coordConfig) { c.actions = actions })
	_, _, env := workDirs(t)
	w := startWorker(t, "worker", co.URL, append(env, "NAP_PIDS="+pids), "--actions-dir", actions, "--grace", "1m")
	j := submit(t, co.Client, client.Job{Action: "nap", Inputs: []any{"60"}})
	leasedUnit(t, co.Client, w.slotName(1), time.Minute)
	waitNap(t, pids)
	ents, err := os.ReadDir(pids)
	if err != nil {
		t.Fatal(err)
	}
	nap, _ := strconv.Atoi(ents[0].Name())
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the worker to begin stopping", func() bool { return strings.Contains(w.out.String(), "worker stopping") })
	if code := w.signal(syscall.SIGTERM, 30*time.Second); code == 0 {
		t.Errorf("exit code 0 after a second SIGTERM, want non-zero")
	}
	if out := w.out.String(); !strings.Contains(out, "worker stopped") || !strings.Contains(out, "cut short") {
		t.Errorf("the worker did not cut its unit short and stop:\n%s", out)
	}
	for i := 0; crowdbin.Alive(nap); i++ {
		if i == 200 {
			t.Fatalf("the action (pid %d) still runs after the worker exited", nap)
		}
		time.Sleep(10 * time.Millisecond)
	}
	u, err := co.Client.Dequeue(context.Background(), "probe", "nap")
	if err != nil || u == nil || u.JobID != j.ID || u.Attempts != 0 {
		t.Fatalf("the queue gave %+v, %v; want job %d's unit with attempts 0", u, err, j.ID)
	}
}
