package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/documentcloud/crowd/assets"
)

// maxRedirects is how many redirects an http(s) download follows.
const maxRedirects = 5

// maxFileName bounds the length of a downloaded input's file name, well
// under the 255 bytes most file systems allow.
const maxFileName = 200

// SafeFilename is the local file name of a downloaded URL, by CloudCrowd's
// rule: everything from the first "?" is dropped; the last path element is
// URL-unescaped; every character but ASCII letters, digits, "_", "-" and "."
// becomes "-"; runs of "-" become one; and the dots of the name (not of its
// extension) become "-". So
//
//	http://example.com/Some%20(Crazy'Kinda%7E)'Filename.txt → Some-Crazy-Kinda-Filename.txt
//	http://example.com/file.pdf?one=two&three=four          → file.pdf
//
// Beyond CloudCrowd, the result is always a plain file name: never empty,
// "." or "..", and at most 200 bytes long.
func SafeFilename(rawURL string) string {
	rawURL, _, _ = strings.Cut(rawURL, "?")
	base := path.Base(rawURL)
	ext := extname(base)
	name := base
	if u, err := url.PathUnescape(base); err == nil {
		name = u
	}
	name = squeezeDashes(sanitize(name))
	stem := strings.ReplaceAll(strings.TrimSuffix(name, ext), ".", "-")
	ext = squeezeDashes(sanitize(ext)) // unchanged unless it held escapes
	if len(stem)+len(ext) > maxFileName {
		ext = ext[:min(len(ext), maxFileName/4)]
		stem = stem[:min(len(stem), maxFileName-len(ext))]
	}
	if strings.Trim(stem, "-") == "" && ext == "" {
		return "input"
	}
	return stem + ext
}

// extname is Ruby's File.extname: the part of a file name from its last
// dot, "" when the name has no dot but a leading one, or ends with a dot.
func extname(base string) string {
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 || strings.Trim(base[:i], ".") == "" {
		return ""
	}
	return base[i:]
}

// sanitize replaces every byte but [a-zA-Z0-9_.-] with "-".
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	return string(b)
}

// squeezeDashes replaces runs of "-" with one.
func squeezeDashes(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// urlScheme returns the scheme of a URL input that the worker downloads
// (http, https, file or s3, in lower case), or "" for any other input.
func urlScheme(input string) string {
	scheme, rest, ok := strings.Cut(input, ":")
	if !ok || rest == "" {
		return ""
	}
	switch s := strings.ToLower(scheme); s {
	case "http", "https", "file", "s3":
		return s
	}
	return ""
}

// downloader fetches URL inputs into local files.
type downloader struct {
	http    *http.Client
	store   assets.Store
	maxSize int64
}

// newDownloader returns a downloader whose HTTP requests connect within
// openTimeout and wait at most readTimeout for each read (the answer's
// headers included), and which reads at most maxSize bytes.
func newDownloader(store assets.Store, openTimeout, readTimeout time.Duration, maxSize int64) *downloader {
	if openTimeout <= 0 {
		openTimeout = 5 * time.Second
	}
	if readTimeout <= 0 {
		readTimeout = 30 * time.Second
	}
	dialer := &net.Dialer{Timeout: openTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &readTimeoutConn{Conn: c, timeout: readTimeout}, nil
		},
		TLSHandshakeTimeout:   openTimeout,
		ResponseHeaderTimeout: readTimeout,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &downloader{
		http: &http.Client{
			Transport: tr,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > maxRedirects {
					return fmt.Errorf("stopped after %d redirects", maxRedirects)
				}
				return nil
			},
		},
		store:   store,
		maxSize: maxSize,
	}
}

// readTimeoutConn fails a read that waits longer than timeout for data.
type readTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *readTimeoutConn) Read(p []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// download fetches rawURL into the new file dst: http(s) with a GET
// (redirects followed, any answer but 2xx an error, at most maxSize bytes),
// file:// by copying the local file, s3:// through an S3 asset store. A
// failed download leaves no file behind.
func (d *downloader) download(ctx context.Context, rawURL, dst string) error {
	if err := d.fetch(ctx, rawURL, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	return nil
}

func (d *downloader) fetch(ctx context.Context, rawURL, dst string) error {
	switch urlScheme(rawURL) {
	case "http", "https":
		return d.fetchHTTP(ctx, rawURL, dst)
	case "file":
		p, err := localPath(rawURL)
		if err != nil {
			return err
		}
		f, err := assets.OpenRegular(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return writeTo(ctx, dst, f, -1)
	case "s3":
		if _, ok := d.store.(*assets.S3); !ok {
			return errors.New("s3:// inputs need the s3 asset store (storage: s3)")
		}
		r, err := d.store.Open(ctx, rawURL)
		if err != nil {
			return err
		}
		defer r.Close()
		return writeTo(ctx, dst, r, -1)
	}
	return errors.New("not an http, https, file or s3 URL")
}

func (d *downloader) fetchHTTP(ctx context.Context, rawURL, dst string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "crowd-worker")
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	if resp.ContentLength > d.maxSize {
		return fmt.Errorf("%d bytes is more than the %d bytes a download may have", resp.ContentLength, d.maxSize)
	}
	return writeTo(ctx, dst, resp.Body, d.maxSize)
}

// localPath is the path a file:// URL names.
func localPath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return "", errors.New("not a file:// URL of a local absolute path")
	}
	return u.Path, nil
}

// writeTo copies r into the new file dst, failing past limit bytes (none
// when limit < 0) or once ctx is done.
func writeTo(ctx context.Context, dst string, r io.Reader, limit int64) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	src := assets.ContextReader(ctx, r)
	if limit >= 0 {
		src = io.LimitReader(src, limit+1)
	}
	n, err := io.Copy(out, src)
	if err == nil && limit >= 0 && n > limit {
		err = fmt.Errorf("more than the %d bytes a download may have", limit)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
