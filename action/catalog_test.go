package action

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeScript writes an executable /bin/sh script (or, with perm 0644, a plain
// file) into dir. It writes a temporary file and renames it, so that replacing
// a script never leaves a half-written file for a concurrent run.
func writeScript(t testing.TB, dir, file, body string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, file)
	tmp := filepath.Join(dir, ".tmp-"+file)
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// phasesScript is a script that prints out when run as `<file> phases`, and
// something invalid otherwise.
func phasesScript(out string) string {
	return `if [ "$1" = phases ]; then echo '` + out + `'; else echo wrong-argument; fi`
}

// countingScript appends a line to counter each time it runs, then prints out.
func countingScript(counter, out string) string {
	return `echo ran >> '` + counter + `'` + "\n" + phasesScript(out)
}

func runs(t *testing.T, counter string) int {
	t.Helper()
	b, err := os.ReadFile(counter)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "ran\n")
}

func mustLookup(t *testing.T, c *Catalog, name string, want Phases) {
	t.Helper()
	got, ok := c.Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q): not found, want %+v", name, want)
	}
	if got != want {
		t.Fatalf("Lookup(%q) = %+v, want %+v", name, got, want)
	}
}

func mustNotLookup(t *testing.T, c *Catalog, name string) {
	t.Helper()
	if got, ok := c.Lookup(name); ok {
		t.Fatalf("Lookup(%q) = %+v, true; want not found", name, got)
	}
}

func noProblems(t *testing.T, c *Catalog) {
	t.Helper()
	if errs := c.Scan(); len(errs) != 0 {
		t.Fatalf("Scan() = %v, want no problems", errs)
	}
}

var builtinNames = []string{"graphics_magick", "process_pdfs", "word_count"}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"word_count", true},
		{"w2", true},
		{"a", true},
		{"a_", true},
		{"process_pdfs", true},
		{"Word", false},
		{"wOrd", false},
		{"2w", false},
		{"", false},
		{"a-b", false},
		{"_a", false},
		{"a.sh", false},
		{"a b", false},
		{"é", false},
		{"a/b", false},
	} {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBuiltins(t *testing.T) {
	want := map[string]Phases{
		"word_count":      {Merge: true},
		"graphics_magick": {},
		"process_pdfs":    {Split: true, Merge: true},
	}
	b := Builtins()
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("Builtins() = %v, want %v", b, want)
	}
	b["word_count"] = Phases{Split: true} // a copy: must not leak into the next call or a catalog
	c := NewCatalog("")
	for name, p := range want {
		mustLookup(t, c, name, p)
		if path, ok := c.Exec(name); ok {
			t.Errorf("Exec(%q) = %q, true; want a built-in", name, path)
		}
	}
	if got := c.Names(); !reflect.DeepEqual(got, builtinNames) {
		t.Fatalf("Names() = %v, want %v", got, builtinNames)
	}
	mustNotLookup(t, c, "thumbs")
	if errs := c.Scan(); errs != nil {
		t.Fatalf("Scan() without dir = %v, want nil", errs)
	}

	c.Register("thumbs", Phases{Split: true})
	mustLookup(t, c, "thumbs", Phases{Split: true})
	c.Register("thumbs", Phases{Merge: true}) // replaces
	mustLookup(t, c, "thumbs", Phases{Merge: true})
	if got, want := c.Names(), []string{"graphics_magick", "process_pdfs", "thumbs", "word_count"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

func TestExecPhases(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "all.sh", phasesScript("split process merge"), 0o755)
	writeScript(t, dir, "nothing", `[ "$1" = phases ] || echo wrong-argument`, 0o755)
	writeScript(t, dir, "proc_merge.py", phasesScript("process merge"), 0o755)
	writeScript(t, dir, "spaced.rb", `printf ' split\n\tprocess  \n'`, 0o755)
	writeScript(t, dir, "merge_only.sh", phasesScript("merge"), 0o755)
	// `phases` runs in the file's directory with an empty standard input.
	if err := os.WriteFile(filepath.Join(dir, "words.txt"), []byte("split merge\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeScript(t, dir, "cwd.sh", "if read line; then echo stdin-not-empty; fi\ncat ./words.txt", 0o755)

	c := NewCatalog(dir)
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("Problems() = %v, want none", p)
	}
	want := map[string]Phases{
		"all":        {Split: true, Merge: true},
		"nothing":    {},
		"proc_merge": {Merge: true},
		"spaced":     {Split: true},
		"merge_only": {Merge: true},
		"cwd":        {Split: true, Merge: true},
	}
	files := map[string]string{
		"all": "all.sh", "nothing": "nothing", "proc_merge": "proc_merge.py",
		"spaced": "spaced.rb", "merge_only": "merge_only.sh", "cwd": "cwd.sh",
	}
	for name, p := range want {
		mustLookup(t, c, name, p)
		path, ok := c.Exec(name)
		if !ok || path != filepath.Join(dir, files[name]) {
			t.Errorf("Exec(%q) = %q, %v; want %q, true", name, path, ok, filepath.Join(dir, files[name]))
		}
	}
	wantNames := []string{"all", "cwd", "graphics_magick", "merge_only", "nothing", "proc_merge", "process_pdfs", "spaced", "word_count"}
	if got := c.Names(); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("Names() = %v, want %v", got, wantNames)
	}
	noProblems(t, c) // a rescan finds the same, with no problems
	mustLookup(t, c, "all", Phases{Split: true, Merge: true})
}

func TestBadPhases(t *testing.T) {
	dir := t.TempDir()
	bogus := writeScript(t, dir, "bogus.sh", phasesScript("process bogus"), 0o755)
	fails := writeScript(t, dir, "fails.sh", "echo 'no such thing' >&2; exit 3", 0o755)
	writeScript(t, dir, "good.sh", phasesScript("process"), 0o755)

	c := NewCatalog(dir)
	mustNotLookup(t, c, "bogus")
	mustNotLookup(t, c, "fails")
	mustLookup(t, c, "good", Phases{})

	check := func(errs []error) {
		t.Helper()
		if len(errs) != 2 {
			t.Fatalf("got %d problems %v, want 2", len(errs), errs)
		}
		for i, want := range []struct{ path, text string }{
			{bogus, `"bogus"`},
			{fails, "no such thing"},
		} {
			var fe *FileError
			if !errors.As(errs[i], &fe) || fe.Path != want.path {
				t.Fatalf("problem %d = %v, want a *FileError for %s", i, errs[i], want.path)
			}
			if msg := errs[i].Error(); !strings.Contains(msg, want.path) || !strings.Contains(msg, want.text) {
				t.Errorf("problem %d = %q, want it to name %s and say %s", i, msg, want.path, want.text)
			}
		}
	}
	check(c.Problems())
	check(c.Scan())
	mustNotLookup(t, c, "bogus")
}

func TestIgnoredFiles(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "plain.sh", phasesScript("process"), 0o644) // not executable
	writeScript(t, dir, "Upper.sh", phasesScript("process"), 0o755) // not a valid name
	writeScript(t, dir, "a-b.sh", phasesScript("process"), 0o755)
	writeScript(t, dir, "word_count.sh.orig", phasesScript("split"), 0o755) // "word_count.sh": not a valid name
	writeScript(t, dir, ".hidden", phasesScript("process"), 0o755)
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(dir, "subdir"), "inner.sh", phasesScript("process"), 0o755)

	c := NewCatalog(dir)
	noProblems(t, c)
	if got := c.Names(); !reflect.DeepEqual(got, builtinNames) {
		t.Fatalf("Names() = %v, want only the built-ins %v", got, builtinNames)
	}
	for _, name := range []string{"plain", "subdir", "inner", "Upper", "hidden"} {
		mustNotLookup(t, c, name)
		if _, ok := c.Exec(name); ok {
			t.Errorf("Exec(%q) found an ignored file", name)
		}
	}
	mustLookup(t, c, "word_count", Phases{Merge: true})
}

func TestMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	c := NewCatalog(dir)
	errs := c.Scan()
	var fe *FileError
	if len(errs) != 1 || !errors.As(errs[0], &fe) || fe.Path != dir || !errors.Is(errs[0], os.ErrNotExist) {
		t.Fatalf("Scan() = %v, want one not-exist error for %s", errs, dir)
	}
	mustLookup(t, c, "process_pdfs", Phases{Split: true, Merge: true})
	mustNotLookup(t, c, "thumbs")
}

func TestDuplicateName(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(t.TempDir(), "count")
	py := writeScript(t, dir, "x.py", phasesScript("split process"), 0o755)
	sh := writeScript(t, dir, "x.sh", countingScript(counter, "merge"), 0o755)

	c := NewCatalog(dir)
	mustLookup(t, c, "x", Phases{Split: true}) // x.py sorts first
	if path, ok := c.Exec("x"); !ok || path != py {
		t.Fatalf("Exec(x) = %q, %v; want %q, true", path, ok, py)
	}
	errs := c.Scan()
	var fe *FileError
	if len(errs) != 1 || !errors.As(errs[0], &fe) || fe.Path != sh {
		t.Fatalf("Scan() = %v, want one problem naming %s", errs, sh)
	}
	if !strings.Contains(errs[0].Error(), "x.py") {
		t.Errorf("problem %q does not name the file that won, x.py", errs[0])
	}
	if n := runs(t, counter); n != 0 {
		t.Errorf("the losing duplicate ran %d times, want 0", n)
	}
	mustLookup(t, c, "x", Phases{Split: true})

	// With x.py gone, x.sh is the action.
	if err := os.Remove(py); err != nil {
		t.Fatal(err)
	}
	noProblems(t, c)
	mustLookup(t, c, "x", Phases{Merge: true})
	if path, _ := c.Exec("x"); path != sh {
		t.Fatalf("Exec(x) = %q, want %q", path, sh)
	}
}

func TestExecOverridesBuiltin(t *testing.T) {
	dir := t.TempDir()
	path := writeScript(t, dir, "word_count.sh", phasesScript("split process"), 0o755)

	c := NewCatalog(dir)
	mustLookup(t, c, "word_count", Phases{Split: true})
	if got, ok := c.Exec("word_count"); !ok || got != path {
		t.Fatalf("Exec(word_count) = %q, %v; want %q, true", got, ok, path)
	}
	c.Register("word_count", Phases{Merge: true}) // a built-in does not beat the file
	mustLookup(t, c, "word_count", Phases{Split: true})
	if got := c.Names(); !reflect.DeepEqual(got, builtinNames) {
		t.Fatalf("Names() = %v, want %v (no duplicates)", got, builtinNames)
	}

	// Removing the file brings back the built-in.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	noProblems(t, c)
	mustLookup(t, c, "word_count", Phases{Merge: true})
	if _, ok := c.Exec("word_count"); ok {
		t.Fatal("Exec(word_count) still finds the removed file")
	}
}

func TestActionAddedAfterStart(t *testing.T) {
	dir := t.TempDir()
	c := NewCatalog(dir)
	mustNotLookup(t, c, "late") // nothing there yet: no file, nothing found

	c.now = func() time.Time { return time.Now().Add(2 * relookInterval) } // past that attempt's rate limit
	path := writeScript(t, dir, "late.sh", phasesScript("process merge"), 0o755)
	mustLookup(t, c, "late", Phases{Merge: true})
	if got, ok := c.Exec("late"); !ok || got != path {
		t.Fatalf("Exec(late) = %q, %v; want %q, true", got, ok, path)
	}
	if got, want := c.Names(), []string{"graphics_magick", "late", "process_pdfs", "word_count"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}

	// A catalog without a dir never looks.
	mustNotLookup(t, NewCatalog(""), "late")
}

func TestRelookRateLimit(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(t.TempDir(), "count")
	c := NewCatalog(dir)
	now := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return now }

	writeScript(t, dir, "flaky.sh", countingScript(counter, "bogus"), 0o755)
	for range 100 {
		mustNotLookup(t, c, "flaky")
	}
	if n := runs(t, counter); n != 1 {
		t.Fatalf("100 lookups within a second ran the file %d times, want 1", n)
	}
	now = now.Add(relookInterval - time.Millisecond)
	mustNotLookup(t, c, "flaky")
	if n := runs(t, counter); n != 1 {
		t.Fatalf("after 999ms: ran %d times, want 1", n)
	}
	now = now.Add(time.Millisecond)
	mustNotLookup(t, c, "flaky")
	if n := runs(t, counter); n != 2 {
		t.Fatalf("after 1s: ran %d times, want 2", n)
	}

	// Fixed within the same second: found only once the second is over.
	writeScript(t, dir, "flaky.sh", countingScript(counter, "split process"), 0o755)
	mustNotLookup(t, c, "flaky")
	if n := runs(t, counter); n != 2 {
		t.Fatalf("ran %d times, want 2", n)
	}
	now = now.Add(relookInterval)
	for range 10 {
		mustLookup(t, c, "flaky", Phases{Split: true})
	}
	if n := runs(t, counter); n != 3 {
		t.Fatalf("ran %d times, want 3 (a known action is not run again)", n)
	}

	// Invalid names never send Lookup to the directory.
	writeScript(t, dir, "Bad.sh", countingScript(counter, "process"), 0o755)
	now = now.Add(relookInterval)
	mustNotLookup(t, c, "Bad")
	if n := runs(t, counter); n != 3 {
		t.Fatalf("ran %d times, want 3", n)
	}
}

func TestRelookNameBound(t *testing.T) {
	c := NewCatalog(t.TempDir())
	now := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return now }
	for i := range maxRelookNames + 10 {
		c.Lookup("n" + strconv.Itoa(i))
	}
	if n := len(c.relooked); n != maxRelookNames {
		t.Fatalf("%d names remembered, want the bound %d", n, maxRelookNames)
	}
	now = now.Add(relookInterval)
	c.Lookup("fresh")
	if n := len(c.relooked); n != 1 {
		t.Fatalf("%d names remembered after the expired ones were dropped, want 1", n)
	}
}

func TestPhasesTimeout(t *testing.T) {
	dir := t.TempDir()
	c := NewCatalog(dir)
	c.phasesTimeout = 200 * time.Millisecond
	// sleep, a child of sh, keeps standard output open after sh is killed.
	path := writeScript(t, dir, "slow.sh", "sleep 3\necho process", 0o755)
	start := time.Now()
	errs := c.Scan()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Scan took %v with a 200ms timeout", d)
	}
	var fe *FileError
	if len(errs) != 1 || !errors.As(errs[0], &fe) || fe.Path != path || !strings.Contains(errs[0].Error(), "timed out") {
		t.Fatalf("Scan() = %v, want one timeout naming %s", errs, path)
	}
	if _, ok := c.Exec("slow"); ok { // (Lookup would run it again: a re-lookup)
		t.Fatal("a file that timed out is an action")
	}
}

func TestConcurrentLookup(t *testing.T) {
	dir := t.TempDir()
	path := writeScript(t, dir, "proc_a.sh", phasesScript("split process"), 0o755)
	c := NewCatalog(dir)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if p, ok := c.Lookup("word_count"); !ok || p != (Phases{Merge: true}) {
					t.Errorf("Lookup(word_count) = %+v, %v", p, ok)
					return
				}
				if p, ok := c.Lookup("proc_a"); !ok || p != (Phases{Split: true}) {
					t.Errorf("Lookup(proc_a) = %+v, %v", p, ok)
					return
				}
				if got, ok := c.Exec("proc_a"); !ok || got != path {
					t.Errorf("Exec(proc_a) = %q, %v", got, ok)
					return
				}
				c.Lookup("unknown_" + string(rune('a'+i%26)))
				if len(c.Names()) < 4 {
					t.Errorf("Names() = %v", c.Names())
					return
				}
			}
		})
	}
	for i := range 20 {
		c.Register("reg_"+string(rune('a'+i)), Phases{Split: i%2 == 0})
		if errs := c.Scan(); len(errs) != 0 {
			t.Errorf("Scan() = %v", errs)
		}
	}
	close(stop)
	wg.Wait()
	mustLookup(t, c, "reg_t", Phases{})
	mustLookup(t, c, "reg_s", Phases{Split: true})
}

func TestLookupDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "thumbs.sh", phasesScript("process merge"), 0o755)
	c := NewCatalog(dir)
	for _, name := range []string{"word_count", "thumbs"} {
		if n := testing.AllocsPerRun(1000, func() { c.Lookup(name) }); n != 0 {
			t.Errorf("Lookup(%q): %v allocs, want 0", name, n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { c.Exec("thumbs") }); n != 0 {
		t.Errorf("Exec: %v allocs, want 0", n)
	}
	var valid bool
	if n := testing.AllocsPerRun(1000, func() { valid = ValidName("process_pdfs") }); n != 0 || !valid {
		t.Errorf("ValidName: %v allocs (valid %v), want 0 (true)", n, valid)
	}
}

func BenchmarkLookup(b *testing.B) {
	c := NewCatalog("")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Lookup("word_count"); !ok {
				b.Fatal("word_count not found")
			}
		}
	})
}
