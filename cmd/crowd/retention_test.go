package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/internal/crowdbin"
)

// TestRetentionSurvivesKill9: a real server holds finished jobs with files
// in its asset store; a cleanup of all of them is under way (the sweep
// retention runs, a batch at a time) when the server is killed with
// SIGKILL. After the restart each job is either deleted, with its files
// gone, or answers exactly as before with its files in place; a job seen
// deleted before the kill stays deleted; and a second cleanup deletes the
// rest.
func TestRetentionSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	data, storage := filepath.Join(dir, "data"), filepath.Join(dir, "storage")
	sc := serverConfig{env: []string{"CROWD_LOCAL_STORAGE_PATH=" + storage}}
	s := startServer(t, "first life", data, sc)
	c := newAPIClient(s.url())
	defer c.close()

	const n = 4000 // eight batches: the kill comes well before the last
	for i := range n {
		if _, _, err := c.submit(gm, []string{"in" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.fetchWork("w", gm)
	for err == nil && u != nil {
		u, err = c.completeUnit(u.ID, "w", gm, u.Input+"-done")
	}
	if err != nil {
		t.Fatal(err)
	}
	filesOf := func(id int64) string {
		return filepath.Join(storage, gm, "job_"+strconv.FormatInt(id, 10))
	}
	before := make(map[int64][]byte, n)
	for id := int64(1); id <= n; id++ {
		if err := os.MkdirAll(filepath.Join(filesOf(id), "unit_"+strconv.FormatInt(id, 10)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filesOf(id), "unit_"+strconv.FormatInt(id, 10), "out.png"), []byte("png"), 0o644); err != nil {
			t.Fatal(err)
		}
		doc, raw := c.mustJob(t, id)
		if doc.Status != "succeeded" {
			t.Fatalf("job %d: %s", id, raw)
		}
		before[id] = raw
	}

	// The cleanup runs in the background; once the summary shows its first
	// deletions, the oldest jobs are sampled and the server killed.
	go c.do("POST", "/cleanup", url.Values{"older_than": {"0"}})
	for deadline := time.Now().Add(20 * time.Second); total(t, c) == n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cleanup deleted nothing in 20 s")
		}
	}
	var seenDeleted []int64
	for id := int64(1); id <= 3; id++ { // of the first batch, which is durable
		if _, _, ok, err := c.job(id); err == nil && !ok {
			seenDeleted = append(seenDeleted, id)
		}
	}
	s.kill()
	if len(seenDeleted) == 0 {
		t.Fatal("none of the oldest jobs was deleted by the time of the kill")
	}

	s = startServer(t, "second life", data, sc)
	c = newAPIClient(s.url())
	defer c.close()
	var present, deleted []int64
	for id := int64(1); id <= n; id++ {
		_, raw, ok, err := c.job(id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if !bytes.Equal(raw, before[id]) {
				t.Fatalf("job %d after the restart: %s, was %s", id, raw, before[id])
			}
			present = append(present, id)
			continue
		}
		deleted = append(deleted, id)
	}
	t.Logf("at the kill, %d of %d jobs were deleted", len(deleted), n)
	if len(present) == 0 || len(deleted) == 0 {
		t.Fatalf("%d jobs present and %d deleted after the restart: the kill did not come in the middle of the sweep", len(present), len(deleted))
	}
	for _, id := range seenDeleted {
		if _, _, ok, _ := c.job(id); ok {
			t.Fatalf("job %d was deleted before the kill, and came back", id)
		}
	}
	for _, id := range present {
		if !exists(t, filesOf(id)) {
			t.Fatalf("job %d is still there, but its files are gone", id)
		}
	}
	waitGone(t, filesOf, deleted) // the restart removes them again, in case the kill came first

	code, body, err := c.do("POST", "/cleanup", url.Values{"older_than": {"0"}})
	if err != nil || code != 200 {
		t.Fatalf("the second cleanup: %d %s %v", code, body, err)
	}
	var answer struct{ Deleted int }
	if err := json.Unmarshal(body, &answer); err != nil || answer.Deleted != len(present) {
		t.Fatalf("the second cleanup answered %s, want %d deleted", body, len(present))
	}
	if got := total(t, c); got != 0 {
		t.Fatalf("%d jobs left after the second cleanup", got)
	}
	waitGone(t, filesOf, present)
}

// total is the number of jobs the console's summary counts.
func total(t *testing.T, c *apiClient) int {
	t.Helper()
	code, body, err := c.do("GET", "/console/summary", nil)
	if err != nil || code != 200 {
		t.Fatalf("GET /console/summary: %d %s %v", code, body, err)
	}
	var s struct{ Jobs map[string]int }
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	return s.Jobs["total"]
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// waitGone waits up to 10 s for the files of jobs to be removed.
func waitGone(t *testing.T, filesOf func(int64) string, jobs []int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range jobs {
		for exists(t, filesOf(id)) {
			if time.Now().After(deadline) {
				t.Fatalf("the files of deleted job %d are still there", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// `crowd cleanup --older-than D` deletes, on a running server, the
// finished jobs older than D and says how many; without --older-than it is
// a usage error (exit 2).
func TestCleanupCommand(t *testing.T) {
	s := startServer(t, "server", filepath.Join(t.TempDir(), "data"), serverConfig{})
	c := newAPIClient(s.url())
	defer c.close()
	for range 3 {
		if _, _, err := c.submit(gm, []string{"x"}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.fetchWork("w", gm)
	for err == nil && u != nil {
		u, err = c.completeUnit(u.ID, "w", gm, "done")
	}
	if err != nil {
		t.Fatal(err)
	}
	cleanup := func(args ...string) (string, int) {
		cmd := exec.Command(crowdbin.Path(t), append([]string{"cleanup", "--server", s.url()}, args...)...)
		cmd.Env = crowdbin.Env()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := cleanup("--older-than", "1h"); code != 0 || out != "deleted 0 finished jobs older than 1h0m0s\n" {
		t.Fatalf("crowd cleanup --older-than 1h: exit %d: %q", code, out)
	}
	if out, code := cleanup("--older-than", "0"); code != 0 || out != "deleted 3 finished jobs older than 0s\n" {
		t.Fatalf("crowd cleanup --older-than 0: exit %d: %q", code, out)
	}
	if out, code := cleanup(); code != exitUsage || !strings.Contains(out, "--older-than is required") {
		t.Fatalf("crowd cleanup without --older-than: exit %d: %q", code, out)
	}
	if got := total(t, c); got != 0 {
		t.Fatalf("%d jobs left", got)
	}
}
