package worker_test

// The command line end to end: `crowd server --workers N` with `crowd
// submit --wait` and `crowd status`, and the S3 store with a server and a
// worker process.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/assets/s3test"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// TestSubmitWaitWithServerWorkers: `crowd server --workers 2` runs jobs by
// itself; `crowd submit --wait` prints the job, then its outputs, and exits
// 0, or 1 when the job failed, or 2 on a usage error; `crowd status` lists
// the in-process workers.
func TestSubmitWaitWithServerWorkers(t *testing.T) {
	t.Parallel()
	_, _, env := workDirs(t)
	// graphics_magick is disabled for the server's slots, so that a job of
	// it stays incomplete for crowd status.
	env = append(env, "CROWD_RETRY_BACKOFF=0", "CROWD_WORK_UNIT_RETRIES=2", "CROWD_DISABLED_ACTIONS=graphics_magick")
	srv, url := startServerProc(t, 2, env)
	dir := t.TempDir()
	a := fileURL(writeFile(t, dir, "a.txt", "one two three\n"))
	b := fileURL(writeFile(t, dir, "b.txt", "four five\n"))

	stdout, stderr, code := runCrowd(t, nil, "submit", "--server", url, "--action", "word_count", "--wait", a, b)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("submit --wait: exit %d, stdout %q, stderr %q; want 0 and two lines", code, stdout, stderr)
	}
	var j wire.Job
	if err := json.Unmarshal([]byte(lines[0]), &j); err != nil || j.ID == 0 {
		t.Fatalf("first line %q is not the job: %v", lines[0], err)
	}
	if lines[1] != "[5]" {
		t.Errorf("outputs line %q, want [5]", lines[1])
	}
	if !strings.Contains(stderr, "100%") || !strings.Contains(stderr, fmt.Sprintf("job %d", j.ID)) {
		t.Errorf("no progress bar on stderr: %q", stderr)
	}

	// --json-inputs: the inputs are JSON values; word_count counts text.
	stdout, stderr, code = runCrowd(t, nil, "submit", "--server", url, "--action", "word_count", "--wait", "--json-inputs", `"a b c d"`)
	if lines = strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || lines[len(lines)-1] != "[4]" {
		t.Errorf("--json-inputs: exit %d, stdout %q, stderr %q; want 0 and [4]", code, stdout, stderr)
	}

	// A job that fails: exit 1, its outputs printed all the same.
	missing := fileURL(filepath.Join(dir, "missing.txt"))
	stdout, stderr, code = runCrowd(t, nil, "submit", "--server", url, "--action", "word_count", "--wait", missing)
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 1 || len(lines) != 2 || !strings.Contains(lines[1], "action word_count failed: downloading") {
		t.Fatalf("a failing job: exit %d, stdout %q, stderr %q; want 1 and the failure in the outputs", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "failed") {
		t.Errorf("stderr %q does not say the job failed", stderr)
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"submit", "--server", url, "x"},
		{"submit", "--server", url, "--action", "word_count", "--no-such-flag", "x"},
		{"submit", "--server", url, "--action", "word_count", "--options", "[1]", "x"},
		{"submit", "--server", url, "--action", "word_count", "--json-inputs", "{bad"},
		{"submit", "--server", url, "--action", "word_count", "--user", "nocolon", "x"},
	} {
		if _, stderr, code := runCrowd(t, nil, args...); code != 2 {
			t.Errorf("crowd %v: exit %d (stderr %q), want 2", args, code, stderr)
		}
	}
	// A job the coordinator refuses: exit 3 (no outcome), not 1 (the job failed).
	if _, stderr, code := runCrowd(t, nil, "submit", "--server", url, "--action", "no_such_action", "x"); code != 3 || !strings.Contains(stderr, "400") {
		t.Errorf("an unknown action: exit %d, stderr %q; want 3 and the 400", code, stderr)
	}

	// crowd status: an incomplete job, held by a probe worker, and the
	// server's two slots.
	c := newClient(t, url)
	pending := submit(t, c, client.Job{Action: "graphics_magick", Inputs: []any{"x"}})
	waitFor(t, 10*time.Second, "the probe to lease the unit", func() bool {
		u, err := c.Dequeue(context.Background(), "status-probe", "graphics_magick")
		if err != nil {
			t.Fatal(err)
		}
		return u != nil
	})
	stdout, stderr, code = runCrowd(t, nil, "status", "--server", url)
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, stderr)
	}
	for _, re := range []string{
		fmt.Sprintf(`(?m)^%d\s+processing\s+0%%\s+1\s+graphics_magick\s`, pending.ID),
		`(?m)^1\.\d+@\S+\s+-$`, `(?m)^2\.\d+@\S+\s+-$`,
		`(?m)^status-probe\s+processing$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("status output lacks %s:\n%s", re, stdout)
		}
	}
	// crowd status --json prints GET /status as it is: one line, the
	// wire.Status of the state arranged above.
	stdout, stderr, code = runCrowd(t, nil, "status", "--server", url, "--json")
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("status --json: exit %d, stdout %q, stderr %q; want 0 and one line", code, stdout, stderr)
	}
	var st wire.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status --json: %q is not a status document: %v", stdout, err)
	}
	// The only incomplete job is pending, its one unit leased by the probe.
	if len(st.Jobs) != 1 {
		t.Errorf("status --json: jobs %+v, want only job %d", st.Jobs, pending.ID)
	} else {
		got := st.Jobs[0]
		if got.TimeTaken < 0 {
			t.Errorf("status --json: job %d time_taken %v, want >= 0", got.ID, got.TimeTaken)
		}
		got.TimeTaken = 0
		want := wire.Job{ID: pending.ID, Color: wire.Color(pending.ID), Status: "processing", PercentComplete: 0, WorkUnits: 1}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("status --json: job %+v, want %+v (time_taken aside)", got, want)
		}
	}
	if st.JobCount != 1 || st.WorkUnitCount != 1 || st.Units != (wire.UnitCounts{Ready: 0, Leased: 1, Waiting: 0}) {
		t.Errorf("status --json: job_count %d, work_unit_count %d, units %+v; want 1, 1 and the one unit leased",
			st.JobCount, st.WorkUnitCount, st.Units)
	}
	// The two word_count jobs succeeded and the missing file's failed; the
	// refused job and the usage errors made none.
	if want := map[string]int{"processing": 1, "succeeded": 2, "failed": 1, "splitting": 0, "merging": 0}; !maps.Equal(st.JobsByStatus, want) {
		t.Errorf("status --json: jobs_by_status %v, want %v", st.JobsByStatus, want)
	}
	// The workers: the server's two idle slots (status null) and the probe,
	// which holds the graphics_magick unit.
	var raw struct {
		Workers []struct {
			Name   string  `json:"name"`
			Status *string `json:"status"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	slotRE := regexp.MustCompile(`^([12])\.\d+@\S+$`)
	var slots []string
	probe := 0
	for _, w := range raw.Workers {
		switch m := slotRE.FindStringSubmatch(w.Name); {
		case m != nil && w.Status == nil:
			slots = append(slots, m[1])
		case w.Name == "status-probe" && w.Status != nil && *w.Status == "processing":
			probe++
		default:
			status := "null"
			if w.Status != nil {
				status = strconv.Quote(*w.Status)
			}
			t.Errorf("status --json: unexpected worker %q with status %s", w.Name, status)
		}
	}
	slices.Sort(slots)
	if len(raw.Workers) != 3 || !slices.Equal(slots, []string{"1", "2"}) || probe != 1 {
		t.Errorf("status --json: workers %+v, want the idle slots 1 and 2 and status-probe processing", st.Workers)
	}

	if code := srv.signal(syscall.SIGTERM, time.Minute); code != 0 {
		t.Fatalf("crowd server: exit %d after SIGTERM", code)
	}
	if out := srv.out.String(); !strings.Contains(out, "worker stopped") {
		t.Errorf("the server's workers did not stop before it did:\n%s", out)
	}
}

// TestS3EndToEnd: a server and a worker process with storage s3 on a real
// S3-compatible server. graphics_magick saves its output there (an s3://
// URL), an s3:// input is downloaded through the store, and DELETE
// /jobs/:id removes the job's files.
func TestS3EndToEnd(t *testing.T) {
	needTools(t, "gm")
	t.Parallel()
	s3srv := s3test.Start(t)
	const bucket = "crowd-e2e"
	ctx := context.Background()
	store, err := assets.NewS3(ctx, assets.S3Config{Endpoint: s3srv.Endpoint, Region: "us-east-1", Bucket: bucket,
		AccessKey: s3srv.AccessKey, SecretKey: s3srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	_, _, env := workDirs(t)
	env = append(env, "CROWD_STORAGE=s3", "CROWD_S3_ENDPOINT="+s3srv.Endpoint, "CROWD_S3_BUCKET="+bucket,
		"CROWD_AWS_ACCESS_KEY="+s3srv.AccessKey, "CROWD_AWS_SECRET_KEY="+s3srv.SecretKey, "CROWD_S3_REGION=us-east-1")
	_, url := startServerProc(t, 0, env)
	startWorker(t, "worker", url, env, "--concurrency", "2")
	c := newClient(t, url)

	// graphics_magick over a PNG made here.
	img := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for x := range 32 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 16), 128, 255})
		}
	}
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	in := writeFile(t, t.TempDir(), "in.png", pngData.String())
	j := submit(t, c, client.Job{Action: "graphics_magick", Inputs: []any{fileURL(in)},
		Options: []byte(`{"steps": [{"name": "small", "command": "convert", "options": "-resize 8x4!", "extension": "png"}]}`)})
	j = waitJob(t, c, j.ID, 2*time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("graphics_magick job %s: %s", j.Status, j.Outputs)
	}
	var outs []map[string]string
	if err := json.Unmarshal(j.Outputs, &outs); err != nil || len(outs) != 1 {
		t.Fatalf("outputs %s: %v", j.Outputs, err)
	}
	small := outs[0]["small"]
	if want := fmt.Sprintf("s3://%s/graphics_magick/job_%d/unit_", bucket, j.ID); !strings.HasPrefix(small, want) || !strings.HasSuffix(small, "/in_small.png") {
		t.Fatalf("output URL %q, want %s<unit>/in_small.png", small, want)
	}
	r, err := store.Open(ctx, small)
	if err != nil {
		t.Fatalf("the saved object: %v", err)
	}
	cfg, err := png.DecodeConfig(r)
	r.Close()
	if err != nil || cfg.Width != 8 || cfg.Height != 4 {
		t.Fatalf("the saved object: %+v, %v; want an 8x4 PNG", cfg, err)
	}

	// An s3:// input is read through the store.
	words := writeFile(t, t.TempDir(), "words.txt", "alpha beta gamma delta epsilon\n")
	wordsURL, err := store.Save(ctx, words, "fixtures/words.txt")
	if err != nil {
		t.Fatal(err)
	}
	wc := waitJob(t, c, submit(t, c, client.Job{Action: "word_count", Inputs: []any{wordsURL}}).ID, time.Minute)
	if wc.Status != "succeeded" || string(wc.Outputs) != "[5]" {
		t.Fatalf("word_count over %s: %s %s, want succeeded [5]", wordsURL, wc.Status, wc.Outputs)
	}

	// DELETE /jobs/:id removes the job's files.
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/jobs/%d", url, j.ID), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /jobs/%d: %d", j.ID, resp.StatusCode)
	}
	waitFor(t, 30*time.Second, "the job's files to be removed", func() bool {
		r, err := store.Open(ctx, small)
		if err == nil {
			r.Close()
			return false
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("opening %s: %v", small, err)
		}
		return true
	})
	// The other files stay.
	if r, err := store.Open(ctx, wordsURL); err != nil {
		t.Errorf("%s is gone too: %v", wordsURL, err)
	} else {
		r.Close()
	}
}
