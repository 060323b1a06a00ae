package worker

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/assets"
)

func newTestDownloader(t *testing.T, maxSize int64) *downloader {
	t.Helper()
	store, err := assets.NewFilesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newDownloader(store, time.Second, 500*time.Millisecond, maxSize)
}

func TestDownloadHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/file.txt", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("one two three")) })
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/file.txt", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2000)) })
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			w.Write(make([]byte, 500))
			w.(http.Flusher).Flush()
		}
	})
	stall := make(chan struct{})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		select { // longer than the read timeout
		case <-stall:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(stall)

	d := newTestDownloader(t, 1000)
	dir := t.TempDir()
	ctx := context.Background()
	get := func(path string) (string, error) {
		dst := filepath.Join(dir, "out")
		err := d.download(ctx, srv.URL+path, dst)
		b, rerr := os.ReadFile(dst)
		if err == nil && rerr != nil {
			t.Fatalf("%s: downloaded, but %v", path, rerr)
		}
		if err != nil && !errors.Is(rerr, fs.ErrNotExist) {
			t.Errorf("%s failed (%v) but left %s behind", path, err, dst)
		}
		return string(b), err
	}

	if got, err := get("/file.txt"); err != nil || got != "one two three" {
		t.Errorf("GET /file.txt = %q, %v", got, err)
	}
	// Five redirects are followed, a sixth is not.
	if got, err := get("/hop/4"); err != nil || got != "one two three" {
		t.Errorf("after 5 redirects: %q, %v", got, err)
	}
	if _, err := get("/hop/5"); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("after 6 redirects: %v, want an error about redirects", err)
	}
	if _, err := get("/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v, want an error naming it", err)
	}
	for _, p := range []string{"/big", "/big-chunked"} {
		if _, err := get(p); err == nil || !strings.Contains(err.Error(), "1000 bytes") {
			t.Errorf("%s (2000 bytes, cap 1000): %v, want an error about the size", p, err)
		}
	}
	if _, err := get("/stall"); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("a stalled body: %v, want a timeout", err)
	}
	closed := httptest.NewServer(mux)
	closed.Close()
	if err := d.download(ctx, closed.URL+"/file.txt", filepath.Join(dir, "x")); err == nil {
		t.Error("a closed server: no error")
	}
}

func TestDownloadFileAndS3(t *testing.T) {
	d := newTestDownloader(t, 10)
	src := filepath.Join(t.TempDir(), "in put.txt")
	content := strings.Repeat("big file ", 10) // over the HTTP cap, which file:// does not have
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	u := (&url.URL{Scheme: "file", Path: src}).String()
	if err := d.download(context.Background(), u, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != content {
		t.Errorf("copied %q, want %q", b, content)
	}
	for _, bad := range []string{"file:///no/such/file", "file://otherhost/etc/hosts", "s3://bucket/key", "ftp://x/y"} {
		if err := d.download(context.Background(), bad, dst); err == nil {
			t.Errorf("download(%s): no error", bad)
		}
	}
	if err := d.download(context.Background(), "s3://bucket/key", dst); err == nil || !strings.Contains(err.Error(), "storage: s3") {
		t.Errorf("s3 with a filesystem store: %v, want an error that says it needs storage: s3", err)
	}
}
