package assets

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTemp writes a local file to save and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readURL reads a stored file back through s.Open.
func readURL(t *testing.T, s Store, u string) string {
	t.Helper()
	rc, err := s.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", u, err)
	}
	return string(b)
}

func newFilesystem(t *testing.T) *Filesystem {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store") // does not exist yet
	f, err := NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		t.Fatalf("NewFilesystem did not create %s: %v", root, err)
	}
	return f
}

func TestFilesystemSaveOpen(t *testing.T) {
	ctx := context.Background()
	f := newFilesystem(t)
	const content = "the quick brown fox\n"
	src := writeTemp(t, "a.txt", content)
	key := Key("word_count", 1, 2, src)

	u, err := f.Save(ctx, src, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "file://" + filepath.ToSlash(filepath.Join(f.Root(), "word_count", "job_1", "unit_2", "a.txt")); u != want {
		t.Errorf("Save URL = %q, want %q", u, want)
	}
	if got := readURL(t, f, u); got != content {
		t.Errorf("Open gave %q, want %q", got, content)
	}
	b, err := os.ReadFile(filepath.Join(f.Root(), filepath.FromSlash(key)))
	if err != nil || string(b) != content {
		t.Errorf("file at root/key = %q, %v; want %q", b, err, content)
	}
	// Save copies: the source is still there.
	if _, err := os.Stat(src); err != nil {
		t.Errorf("source after Save: %v", err)
	}
	// No temporary file is left beside it.
	entries, err := os.ReadDir(filepath.Dir(filepath.Join(f.Root(), filepath.FromSlash(key))))
	if err != nil || len(entries) != 1 {
		t.Errorf("unit directory holds %v (%v), want only a.txt", entries, err)
	}

	// Saving again replaces the file.
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u2, err := f.Save(ctx, src, key); err != nil || u2 != u {
		t.Fatalf("second Save = %q, %v; want %q", u2, err, u)
	}
	if got := readURL(t, f, u); got != "new" {
		t.Errorf("after second Save, Open gave %q, want %q", got, "new")
	}
}

func TestFilesystemURLEscaping(t *testing.T) {
	ctx := context.Background()
	f := newFilesystem(t)
	src := writeTemp(t, "odd #name? 100%.txt", "odd")
	u, err := f.Save(ctx, src, Key("word_count", 3, 4, src))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("Save URL %q does not parse: %v", u, err)
	}
	if want := filepath.ToSlash(filepath.Join(f.Root(), "word_count/job_3/unit_4/odd #name? 100%.txt")); parsed.Path != want {
		t.Errorf("URL path = %q, want %q", parsed.Path, want)
	}
	if got := readURL(t, f, u); got != "odd" {
		t.Errorf("Open gave %q", got)
	}
}

func TestFilesystemSaveErrors(t *testing.T) {
	ctx := context.Background()
	f := newFilesystem(t)
	src := writeTemp(t, "a.txt", "x")
	for _, key := range []string{"", "/abs/a.txt", "../a.txt", "word_count/../../a.txt", "word_count/job_1/../../../a.txt", "a//b", "./a"} {
		if u, err := f.Save(ctx, src, key); err == nil {
			t.Errorf("Save(key %q) = %q, want an error", key, u)
		}
	}
	// Nothing was written outside the root.
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.Root()), "a.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written beside the root: %v", err)
	}

	key := "word_count/job_1/unit_2/missing.txt"
	_, err := f.Save(ctx, filepath.Join(t.TempDir(), "missing.txt"), key)
	if err == nil || !strings.HasPrefix(err.Error(), "assets: save "+key+": ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Save of a missing file: error %v, want `assets: save %s: ...` matching fs.ErrNotExist", err, key)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Save(cancelled, src, "word_count/job_1/unit_2/a.txt"); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a cancelled context: %v", err)
	}
}

func TestFilesystemSaveRecreatesRoot(t *testing.T) {
	f := newFilesystem(t)
	if err := os.RemoveAll(f.Root()); err != nil {
		t.Fatal(err)
	}
	src := writeTemp(t, "a.txt", "x")
	u, err := f.Save(context.Background(), src, "word_count/job_1/unit_1/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := readURL(t, f, u); got != "x" {
		t.Errorf("Open gave %q", got)
	}
}

func TestFilesystemOpenRefused(t *testing.T) {
	ctx := context.Background()
	f := newFilesystem(t)
	outside := writeTemp(t, "secret.txt", "secret")
	if err := os.MkdirAll(filepath.Join(f.Root(), "word_count"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symbolic link inside the store that points out of it.
	link := filepath.Join(f.Root(), "word_count", "link.txt")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	fileURL := func(p string) string {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
	}
	for _, u := range []string{
		fileURL(outside),
		"file://" + filepath.ToSlash(f.Root()) + "/../" + filepath.Base(filepath.Dir(f.Root())),
		fileURL(f.Root() + "-sibling/a.txt"),
		fileURL(f.Root()),                              // the root itself
		fileURL(filepath.Join(f.Root(), "word_count")), // a directory
		fileURL(link),
		"http://example.com/a.txt",
		"s3://bucket/word_count/job_1/unit_1/a.txt",
		"file://otherhost" + filepath.ToSlash(f.Root()) + "/a.txt",
		"file:relative/a.txt",
		"::not a url",
	} {
		rc, err := f.Open(ctx, u)
		if err == nil {
			rc.Close()
			t.Errorf("Open(%q): no error", u)
		} else if !strings.HasPrefix(err.Error(), "assets: open ") {
			t.Errorf("Open(%q) error %q does not start with `assets: open `", u, err)
		}
	}

	missing := fileURL(filepath.Join(f.Root(), "word_count/job_1/unit_1/none.txt"))
	if _, err := f.Open(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestFilesystemDeleteJob(t *testing.T) {
	ctx := context.Background()
	f := newFilesystem(t)
	save := func(action string, job, unit int64, name string) string {
		t.Helper()
		src := writeTemp(t, name, action+name)
		u, err := f.Save(ctx, src, Key(action, job, unit, src))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	save("word_count", 1, 1, "a.txt")
	save("word_count", 1, 2, "b.txt")
	other := save("word_count", 11, 3, "c.txt") // job_11 shares job_1's text prefix
	otherAction := save("process_pdfs", 1, 4, "d.txt")

	if err := f.DeleteJob(ctx, "word_count", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Root(), "word_count", "job_1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("job_1 still there after DeleteJob: %v", err)
	}
	if got := readURL(t, f, other); got != "word_countc.txt" {
		t.Errorf("job 11's file: %q", got)
	}
	if got := readURL(t, f, otherAction); got != "process_pdfsd.txt" {
		t.Errorf("process_pdfs job 1's file: %q", got)
	}

	// Again, and for jobs that never saved anything, and with no root at all.
	if err := f.DeleteJob(ctx, "word_count", 1); err != nil {
		t.Errorf("second DeleteJob: %v", err)
	}
	if err := f.DeleteJob(ctx, "never_used", 5); err != nil {
		t.Errorf("DeleteJob of a job with no files: %v", err)
	}
	if err := os.RemoveAll(f.Root()); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteJob(ctx, "word_count", 11); err != nil {
		t.Errorf("DeleteJob with no root: %v", err)
	}

	for _, action := range []string{"", "..", ".", "a/b", "../word_count"} {
		if err := f.DeleteJob(ctx, action, 1); err == nil {
			t.Errorf("DeleteJob(%q): no error", action)
		} else if !strings.HasPrefix(err.Error(), "assets: delete ") {
			t.Errorf("DeleteJob(%q) error %q does not start with `assets: delete `", action, err)
		}
	}
}

func TestFilesystemSaveConcurrent(t *testing.T) {
	// Many writers to one key: every reader sees one whole version.
	ctx := context.Background()
	f := newFilesystem(t)
	key := "word_count/job_1/unit_1/out.txt"
	contents := make([]string, 8)
	for i := range contents {
		contents[i] = strings.Repeat(string(rune('a'+i)), 64<<10)
	}
	errs := make(chan error, len(contents))
	for _, c := range contents {
		src := writeTemp(t, "out.txt", c)
		go func() {
			_, err := f.Save(ctx, src, key)
			errs <- err
		}()
	}
	for range contents {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(f.Root(), filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 64<<10 || !bytes.Equal(b, bytes.Repeat(b[:1], len(b))) {
		t.Errorf("the saved file mixes versions (%d bytes)", len(b))
	}
}

// TestContextReader: reads pass through until the context is done, and then
// fail with its error.
func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader(ctx, strings.NewReader("abcdef"))
	p := make([]byte, 3)
	if n, err := r.Read(p); n != 3 || err != nil || string(p) != "abc" {
		t.Fatalf("Read = %d %q %v, want 3 \"abc\" nil", n, p[:n], err)
	}
	cancel()
	if n, err := r.Read(p); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %d %v, want 0 %v", n, err, context.Canceled)
	}
}
