package assets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Filesystem is a Store in a local directory, CloudCrowd's "filesystem"
// storage. A file saved under key lives at <root>/<key>, and its URL is
// file://<absolute path>, with the path URL-escaped.
//
// Every operation goes through an os.Root opened on the directory, so no key
// or URL reaches outside it, even through a symbolic link.
type Filesystem struct {
	root string // absolute and clean
}

var _ Store = (*Filesystem)(nil)

// NewFilesystem returns the store in directory root, creating it if needed.
func NewFilesystem(root string) (*Filesystem, error) {
	if root == "" {
		return nil, errors.New("assets: filesystem store: no directory given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("assets: filesystem store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("assets: filesystem store: %w", err)
	}
	return &Filesystem{root: abs}, nil
}

// Root is the store's directory, as an absolute path.
func (f *Filesystem) Root() string { return f.root }

// Save copies the file at src to <root>/<key> and returns its file:// URL.
// The copy is written to a temporary file in the same directory, flushed to
// disk and then renamed into place, so a half-written file is never visible
// under key. An existing file under key is replaced.
func (f *Filesystem) Save(ctx context.Context, src, key string) (string, error) {
	if err := f.save(ctx, src, key); err != nil {
		return "", opError("save", key, err)
	}
	return f.url(key), nil
}

func (f *Filesystem) save(ctx context.Context, src, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := OpenRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()

	// The root may have been removed since NewFilesystem (a cleaned temp dir).
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		return err
	}
	r, err := os.OpenRoot(f.root)
	if err != nil {
		return err
	}
	defer r.Close()

	name := filepath.FromSlash(key)
	dir := filepath.Dir(name)
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A short name, so that a long file name cannot make it too long.
	tmp := filepath.Join(dir, ".crowd-tmp-"+rand.Text())
	if err := writeFile(ctx, r, tmp, in); err != nil {
		r.Remove(tmp)
		return err
	}
	if err := r.Rename(tmp, name); err != nil {
		r.Remove(tmp)
		return err
	}
	// Make the rename itself durable. Some file systems cannot sync a
	// directory; the file is in place either way, so that is not an error.
	if d, err := r.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// url is the file:// URL of key.
func (f *Filesystem) url(key string) string {
	p := filepath.ToSlash(filepath.Join(f.root, filepath.FromSlash(key)))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows path: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// Open opens a file by the file:// URL Save returned. URLs naming a file
// outside the store's directory are refused.
func (f *Filesystem) Open(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	file, err := f.open(ctx, rawURL)
	if err != nil {
		return nil, opError("open", rawURL, err)
	}
	return file, nil
}

func (f *Filesystem) open(ctx context.Context, rawURL string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel, err := f.keyOf(rawURL)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(f.root)
	if err != nil {
		return nil, err
	}
	defer r.Close() // files opened through r stay open
	return regular(r.Open(filepath.FromSlash(rel)))
}

// OpenRegular opens path for reading, refusing anything but a regular
// file: a directory fails half-way through a copy, a FIFO or a device can
// block it for good.
func OpenRegular(path string) (*os.File, error) { return regular(os.Open(path)) }

// regular passes on the file an open gave if it is a regular file, and
// closes it otherwise.
func regular(f *os.File, err error) (*os.File, error) {
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	return f, nil
}

// keyOf is the key a file:// URL of this store names.
func (f *Filesystem) keyOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "file" {
		return "", errors.New("not a file:// URL")
	}
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.User != nil {
		return "", errors.New("not a file:// URL of a local absolute path")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("a file:// URL of the store has no query or fragment")
	}
	p := u.Path
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // a Windows path: /C:/...
	}
	p = filepath.Clean(filepath.FromSlash(p))
	rel, err := filepath.Rel(f.root, p)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("outside the store %s", f.url(""))
	}
	key := filepath.ToSlash(rel)
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// DeleteJob removes the directory <root>/<action>/job_<job>, and everything
// in it. A job that has no directory is not an error.
func (f *Filesystem) DeleteJob(ctx context.Context, action string, job int64) error {
	prefix, err := checkJob(action, job)
	if err == nil {
		err = f.deleteJob(ctx, prefix)
	}
	if err != nil {
		return opError("delete", jobPrefix(action, job), err)
	}
	return nil
}

func (f *Filesystem) deleteJob(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := os.OpenRoot(f.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing was ever saved
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return r.RemoveAll(filepath.FromSlash(prefix))
}

// writeFile creates the file name in r, copies src into it and flushes it to disk.
func writeFile(ctx context.Context, r *os.Root, name string, src io.Reader) error {
	out, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, ContextReader(ctx, src)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ContextReader returns a reader that reads from r until ctx is done, and
// from then on fails with ctx's error, so that a long copy (io.Copy has no
// context) stops between reads once its request is cancelled. A read already
// blocked in r is not interrupted.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &contextReader{ctx, r}
}

type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
