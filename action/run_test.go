package action

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needTools skips the test when a tool is missing, or fails it when
// CROWD_REQUIRE_TOOLS=1 (the project's test run, which installs them).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " is not installed (Debian: apt-get install -y graphicsmagick ghostscript poppler-utils python3)"
			if os.Getenv("CROWD_REQUIRE_TOOLS") == "1" {
				t.Fatal(msg + " and CROWD_REQUIRE_TOOLS=1")
			}
			t.Skip(msg)
		}
	}
}

// testStore is an asset store in a temporary directory: save copies a file
// into it and returns a file:// URL; download copies from file:// URLs.
type testStore struct {
	dir string
	mu  sync.Mutex
	n   int
}

func newTestStore(t *testing.T) *testStore { return &testStore{dir: t.TempDir()} }

// unit returns a unit with a fresh work directory, as a worker makes one per
// attempt.
func (s *testStore) unit(t *testing.T, input any, options map[string]any) *Unit {
	return &Unit{
		Input: input, Options: options, WorkDir: t.TempDir(),
		JobID: 7, UnitID: 42, Attempts: 1,
		Save: s.save, Download: s.download,
	}
}

func (s *testStore) save(_ context.Context, path string) (string, error) {
	s.mu.Lock()
	s.n++
	dir := filepath.Join(s.dir, strconv.Itoa(s.n)) // one per save: names may repeat
	s.mu.Unlock()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	if err := copyFile(path, dst); err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: dst}).String(), nil
}

func (s *testStore) download(_ context.Context, raw, path string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "file" {
		return errors.New("test store: not a file:// URL: " + raw)
	}
	return copyFile(u.Path, path)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, in)
}

// localPath is the file a test store URL names.
func localPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("%q is not a file:// URL (%v)", raw, err)
	}
	return u.Path
}

func run(t *testing.T, c *Catalog, name string, phase Phase, u *Unit, out any) {
	t.Helper()
	raw, err := c.Run(context.Background(), name, phase, u)
	if err != nil {
		t.Fatalf("Run(%s, %s): %v", name, phase, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("Run(%s, %s) = %s: %v", name, phase, raw, err)
	}
}

func writeFileT(t *testing.T, dir, file, body string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPhaseOf(t *testing.T) {
	for status, want := range map[int]Phase{4: PhaseSplit, 1: PhaseProcess, 5: PhaseMerge} {
		if got, ok := PhaseOf(status); !ok || got != want {
			t.Errorf("PhaseOf(%d) = %q, %v; want %q", status, got, ok, want)
		}
	}
	for _, status := range []int{0, 2, 3, 6, -1} {
		if got, ok := PhaseOf(status); ok {
			t.Errorf("PhaseOf(%d) = %q, want none", status, got)
		}
	}
}

func TestParseInput(t *testing.T) {
	for in, want := range map[string]any{
		"5":               "5",
		"http://x/a.pdf":  "http://x/a.pdf",
		`{"a":1}`:         map[string]any{"a": 1.0},
		`[1,"b"]`:         []any{1.0, "b"},
		"[not json":       "[not json",
		` [1]`:            " [1]",
		`"quoted string"`: `"quoted string"`,
	} {
		if got := ParseInput(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseInput(%q) = %#v, want %#v", in, got, want)
		}
	}
}

// echoScript prints its phase, working directory and standard input.
const echoScript = `#!/bin/sh
if [ "$1" = phases ]; then echo split process merge; exit 0; fi
stdin=$(cat)
printf '{"phase":"%s","pwd":"%s","stdin":%s}\n' "$1" "$(pwd)" "$stdin"
`

func TestExecShell(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "echo.sh", echoScript, 0o755)
	c := NewCatalog(dir)
	s := newTestStore(t)
	for _, tc := range []struct {
		phase     Phase
		input     any
		inputPath string
	}{
		{PhaseSplit, "file:///docs/a.txt", "a.txt"},
		{PhaseProcess, map[string]any{"n": 1.0}, ""},
		{PhaseMerge, []any{1.0, "two"}, ""},
	} {
		u := s.unit(t, tc.input, map[string]any{"color": "red", "job_id": 7.0})
		if tc.inputPath != "" {
			u.InputPath = filepath.Join(u.WorkDir, tc.inputPath)
		}
		var got struct {
			Phase string
			Pwd   string
			Stdin map[string]any
		}
		run(t, c, "echo", tc.phase, u, &got)
		if got.Phase != string(tc.phase) || got.Pwd != u.WorkDir {
			t.Errorf("%s: ran as phase %q in %q; want %q in %q", tc.phase, got.Phase, got.Pwd, tc.phase, u.WorkDir)
		}
		var inputPath any // null without an input file
		if u.InputPath != "" {
			inputPath = u.InputPath
		}
		want := map[string]any{
			"input": tc.input, "input_path": inputPath,
			"options":        map[string]any{"color": "red", "job_id": 7.0},
			"work_directory": u.WorkDir, "job_id": 7.0, "work_unit_id": 42.0, "attempts": 1.0,
		}
		if !reflect.DeepEqual(got.Stdin, want) {
			t.Errorf("%s: stdin = %v, want %v", tc.phase, got.Stdin, want)
		}
	}
}

const pythonAction = `#!/usr/bin/env python3
import json, os, sys

phase = sys.argv[1]
if phase == "phases":
    print("split process merge")
    sys.exit(0)
unit = json.load(sys.stdin)
if os.getcwd() != unit["work_directory"]:
    sys.exit("not run in the work directory: " + os.getcwd())
if phase == "split":
    out = unit["input"].split(",")
elif phase == "process":
    with open("note.txt", "w") as f:  # relative paths land in the work directory
        f.write("processed " + unit["input"])
    out = {"word": unit["input"].upper(), "unit": unit["work_unit_id"], "suffix": unit["options"]["suffix"]}
else:
    out = "+".join(sorted(o["word"] for o in unit["input"])) + unit["options"]["suffix"]
json.dump(out, sys.stdout)
`

func TestExecPython(t *testing.T) {
	needTools(t, "python3")
	dir := t.TempDir()
	writeFileT(t, dir, "shout.py", pythonAction, 0o755)
	c := NewCatalog(dir)
	mustLookup(t, c, "shout", Phases{Split: true, Merge: true})
	s := newTestStore(t)
	opts := map[string]any{"suffix": "!"}

	var words []string
	run(t, c, "shout", PhaseSplit, s.unit(t, "c,a,b", opts), &words)
	if !reflect.DeepEqual(words, []string{"c", "a", "b"}) {
		t.Fatalf("split = %v", words)
	}
	var outputs []any
	for _, w := range words {
		u := s.unit(t, w, opts)
		var out map[string]any
		run(t, c, "shout", PhaseProcess, u, &out)
		if out["word"] != strings.ToUpper(w) || out["unit"] != 42.0 || out["suffix"] != "!" {
			t.Errorf("process %q = %v", w, out)
		}
		if b, err := os.ReadFile(filepath.Join(u.WorkDir, "note.txt")); err != nil || string(b) != "processed "+w {
			t.Errorf("note.txt in the work directory: %q, %v", b, err)
		}
		outputs = append(outputs, out)
	}
	var merged string
	run(t, c, "shout", PhaseMerge, s.unit(t, outputs, opts), &merged)
	if merged != "A+B+C!" {
		t.Fatalf("merge = %q, want A+B+C!", merged)
	}
}

func TestExecFailure(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "fails.sh", `#!/bin/sh
[ "$1" = phases ] && exit 0
i=0
while [ $i -lt 100 ]; do echo "noise line $i ........................................" >&2; i=$((i+1)); done
echo "  boom: the real reason  " >&2
echo '"ignored output"'
exit 3
`, 0o755)
	writeFileT(t, dir, "silent.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nexit 4\n", 0o755)
	writeFileT(t, dir, "prose.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\necho all done\n", 0o755)
	writeFileT(t, dir, "mute.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nexit 0\n", 0o755)
	writeFileT(t, dir, "two.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\necho 1 2\n", 0o755)
	c := NewCatalog(dir)
	s := newTestStore(t)

	_, err := c.Run(context.Background(), "fails", PhaseProcess, s.unit(t, "x", nil))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("Run(fails) = %v, want an *ExitError with code 3", err)
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, "boom: the real reason") || len(msg) > stderrTail || strings.Contains(msg, "noise line 0 ") {
		t.Fatalf("message (%d bytes) = %q, want the trimmed last 2 KiB of stderr", len(msg), msg)
	}

	_, err = c.Run(context.Background(), "silent", PhaseProcess, s.unit(t, "x", nil))
	if !errors.As(err, &ee) || ee.Code != 4 || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("Run(silent) = %v, want exit status 4", err)
	}
	for _, name := range []string{"prose", "mute", "two"} {
		if _, err := c.Run(context.Background(), name, PhaseProcess, s.unit(t, "x", nil)); err == nil || !strings.Contains(err.Error(), "not one JSON value") {
			t.Errorf("Run(%s) = %v, want a not-JSON error", name, err)
		}
	}
}

func TestExecCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "slow.sh", `#!/bin/sh
[ "$1" = phases ] && exit 0
sleep 30 &
echo $$ $! > pids.tmp && mv pids.tmp pids
sleep 30
echo 1
`, 0o755)
	c := NewCatalog(dir)
	u := newTestStore(t).unit(t, "x", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Run(ctx, "slow", PhaseProcess, u)
		done <- err
	}()

	var pids []int
	for len(pids) == 0 { // wait until the shell and its background child run
		if time.Since(start) > 10*time.Second {
			t.Fatal("the action did not start")
		}
		time.Sleep(10 * time.Millisecond)
		if b, err := os.ReadFile(filepath.Join(u.WorkDir, "pids")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				n, _ := strconv.Atoi(f)
				pids = append(pids, n)
			}
		}
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v after cancellation", d)
	}
	for _, pid := range pids {
		for i := 0; crowdbin.Alive(pid); i++ {
			if i == 200 {
				t.Fatalf("process %d (of %v) still runs after cancellation", pid, pids)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestExecTimeout(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "sleepy.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nsleep 30 & sleep 30\n", 0o755)
	c := NewCatalog(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, "sleepy", PhaseProcess, newTestStore(t).unit(t, "x", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v with a 300ms timeout", d)
	}
}

type panicky struct{}

func (panicky) Process(context.Context, *Unit) (any, error) { panic("kaboom") }

func (panicky) Merge(_ context.Context, u *Unit) (any, error) {
	return []int{}[u.Attempts], nil // a runtime panic: index out of range
}

type splitter struct{ out []any }

func (s splitter) Split(context.Context, *Unit) ([]any, error) { return s.out, nil }
func (splitter) Process(context.Context, *Unit) (any, error)   { return nil, errors.New("no luck") }

func TestRunGo(t *testing.T) {
	c := NewCatalog("")
	c.RegisterGo("boom", panicky{})
	mustLookup(t, c, "boom", Phases{Merge: true})
	u := newTestStore(t).unit(t, "x", nil)

	_, err := c.Run(context.Background(), "boom", PhaseProcess, u)
	if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("Run(boom process) = %v, want a panic error with its value", err)
	}
	_, err = c.Run(context.Background(), "boom", PhaseMerge, u)
	if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("Run(boom merge) = %v, want a panic error", err)
	}

	c.RegisterGo("splits", splitter{})
	mustLookup(t, c, "splits", Phases{Split: true})
	if out, err := c.Run(context.Background(), "splits", PhaseSplit, u); err != nil || string(out) != "[]" {
		t.Fatalf("a nil split = %s, %v; want []", out, err)
	}
	c.RegisterGo("splits", splitter{out: []any{"a", 1, []int{2}}})
	if out, err := c.Run(context.Background(), "splits", PhaseSplit, u); err != nil || string(out) != `["a",1,[2]]` {
		t.Fatalf("split = %s, %v", out, err)
	}
	if _, err := c.Run(context.Background(), "splits", PhaseProcess, u); err == nil || err.Error() != "no luck" {
		t.Fatalf("a failing process = %v, want its error", err)
	}

	for _, tc := range []struct {
		name  string
		phase Phase
		want  string
	}{
		{"boom", PhaseSplit, "no split phase"},
		{"splits", PhaseMerge, "no merge phase"},
		{"word_count", PhaseSplit, "no split phase"},
		{"graphics_magick", PhaseMerge, "no merge phase"},
		{"nope", PhaseProcess, "unknown action"},
		{"word_count", Phase("phases"), "unknown phase"},
	} {
		if _, err := c.Run(context.Background(), tc.name, tc.phase, u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%s, %s) = %v, want %q", tc.name, tc.phase, err, tc.want)
		}
	}

	c.Register("remote", Phases{Merge: true}) // phases only: schedulable, not runnable
	if _, err := c.Run(context.Background(), "remote", PhaseProcess, u); err == nil || !strings.Contains(err.Error(), "cannot run") {
		t.Fatalf("Run(remote) = %v, want cannot run", err)
	}
}

func TestExecOverridesGo(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "word_count.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\necho '\"from the file\"'\n", 0o755)
	c := NewCatalog(dir)
	mustLookup(t, c, "word_count", Phases{})
	var out string
	run(t, c, "word_count", PhaseProcess, newTestStore(t).unit(t, "a b c", nil), &out)
	if out != "from the file" {
		t.Fatalf("word_count = %q, want the exec action's output", out)
	}
	if _, err := c.Run(context.Background(), "word_count", PhaseMerge, newTestStore(t).unit(t, []any{}, nil)); err == nil {
		t.Fatal("merge of an exec action without merge: no error")
	}
}

func TestTailBuffer(t *testing.T) {
	var b tailBuffer
	for range 1000 {
		io.WriteString(&b, "é") // two bytes: the cut must not split one
	}
	io.WriteString(&b, "end\n")
	got := b.String()
	if !strings.HasSuffix(got, "end") || len(got) > stderrTail || !strings.HasPrefix(got, "é") {
		t.Fatalf("tail = %d bytes %q…", len(got), got[:8])
	}
}

// TestExecChildrenKilledAfterExit: what an exec action starts in the
// background dies when the action exits cleanly, whether or not it holds
// the action's standard output open, and so does what its `phases` run
// starts.
func TestExecChildrenKilledAfterExit(t *testing.T) {
	dir, pids := t.TempDir(), t.TempDir()
	t.Cleanup(func() { // the children a failing run leaves behind
		ents, _ := os.ReadDir(pids)
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(pids, e.Name())); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	writeFileT(t, dir, "quiet.sh", `#!/bin/sh
if [ "$1" = phases ]; then sleep 300 >/dev/null 2>&1 & echo $! > "`+pids+`/phases"; exit 0; fi
sleep 300 >/dev/null 2>&1 &
echo $! > "`+pids+`/quiet"
echo 1
`, 0o755)
	writeFileT(t, dir, "holder.sh", `#!/bin/sh
[ "$1" = phases ] && exit 0
sleep 300 &
echo $! > "`+pids+`/holder"
echo 2
`, 0o755)
	c := NewCatalog(dir)
	s := newTestStore(t)
	for _, name := range []string{"quiet", "holder"} {
		if out, err := c.Run(context.Background(), name, PhaseProcess, s.unit(t, "x", nil)); err != nil {
			t.Fatalf("Run(%s) = %s, %v", name, out, err)
		}
	}
	for _, name := range []string{"phases", "quiet", "holder"} {
		b, err := os.ReadFile(filepath.Join(pids, name))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; crowdbin.Alive(pid); i++ {
			if i == 200 {
				t.Errorf("the background child of the %s run (pid %d) still runs after the action exited", name, pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestStoppedBySignal: an exec action's or a tool's death by a stopping
// signal is told apart from a crash, an exit status and a cancelled run.
func TestStoppedBySignal(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, dir, "killed.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nkill -9 $$\n", 0o755)
	writeFileT(t, dir, "crashes.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nkill -SEGV $$\n", 0o755)
	writeFileT(t, dir, "exits.sh", "#!/bin/sh\n[ \"$1\" = phases ] && exit 0\nexit 3\n", 0o755)
	c := NewCatalog(dir)
	s := newTestStore(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		what string
		err  error
		want bool
	}{
		{"an exec action killed", second(c.Run(context.Background(), "killed", PhaseProcess, s.unit(t, "x", nil))), true},
		{"an exec action that exits 3", second(c.Run(context.Background(), "exits", PhaseProcess, s.unit(t, "x", nil))), false},
		{"an exec action that crashes", second(c.Run(context.Background(), "crashes", PhaseProcess, s.unit(t, "x", nil))), false},
		{"a tool terminated", runTool(context.Background(), dir, "sh", "-c", "kill -TERM $$"), true},
		{"a tool that crashes", runTool(context.Background(), dir, "sh", "-c", "kill -ABRT $$"), false},
		{"a cancelled exec action", second(c.Run(cancelled, "killed", PhaseProcess, s.unit(t, "x", nil))), false},
		{"a tool killed", runTool(context.Background(), dir, "sh", "-c", "kill -9 $$"), true},
		{"a tool that exits 3", runTool(context.Background(), dir, "sh", "-c", "exit 3"), false},
		{"no error", nil, false},
	} {
		if got := StoppedBySignal(tc.err); got != tc.want {
			t.Errorf("%s: StoppedBySignal(%v) = %v, want %v", tc.what, tc.err, got, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// An actions folder given as a relative path (--actions-dir actions) finds
// and runs its actions, although each runs in its unit's work directory.
func TestExecRelativeActionsDir(t *testing.T) {
	parent := t.TempDir()
	if err := os.Mkdir(filepath.Join(parent, "actions"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(parent, "actions"), "echo.sh", echoScript, 0o755)
	t.Chdir(parent)
	c := NewCatalog("actions")
	if p, ok := c.Lookup("echo"); !ok || !p.Split {
		t.Fatalf("echo in a relative actions folder: %+v, %v; problems %v", p, ok, c.Problems())
	}
	s := newTestStore(t)
	var got struct{ Phase string }
	run(t, c, "echo", PhaseProcess, s.unit(t, "x", map[string]any{}), &got)
	if got.Phase != string(PhaseProcess) {
		t.Fatalf("ran as phase %q, want process", got.Phase)
	}
}
