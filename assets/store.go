// Package assets is the asset store: where actions save the files they make
// (CloudCrowd's AssetStore). A saved file gets a URL that the job's output can
// carry and that workers can read back.
//
// Files live under keys of the form <action>/job_<job id>/unit_<unit id>/<file name>
// (see Key), so that deleting a job removes the prefix <action>/job_<job id>/.
// Two stores exist: Filesystem (file:// URLs) and S3 (s3://bucket/key URLs, on
// any S3-compatible server).
package assets

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/documentcloud/crowd/config"
)

// Store keeps the files actions save, and hands them back by URL.
//
// Errors name the operation and the key or URL:
// `assets: save word_count/job_1/unit_2/a.txt: ...`. Open of a file that is
// not in the store gives an error that matches fs.ErrNotExist.
type Store interface {
	// Save copies the local file at path into the store under key and returns its URL.
	// A key must be relative and must not hold "." or ".." elements.
	Save(ctx context.Context, path, key string) (url string, err error)
	// Open reads a file the store saved, by the URL Save returned (file:// for the
	// filesystem store, s3://bucket/key for S3). URLs outside the store are refused.
	Open(ctx context.Context, url string) (io.ReadCloser, error)
	// DeleteJob removes every file of a job: the prefix <action>/job_<id>/.
	// A job with no files is not an error.
	DeleteJob(ctx context.Context, action string, job int64) error
}

// Key is the key of a unit's file: <action>/job_<job>/unit_<unit>/<base name of file>.
// file is a local path; only its last element is used.
func Key(action string, job, unit int64, file string) string {
	return jobPrefix(action, job) + "unit_" + strconv.FormatInt(unit, 10) + "/" + filepath.Base(file)
}

// jobPrefix is the prefix of every key of a job, ending in "/".
func jobPrefix(action string, job int64) string {
	return action + "/job_" + strconv.FormatInt(job, 10) + "/"
}

// checkKey reports why key cannot name a file in a store: it must be a
// relative, slash-separated path whose elements are neither empty, "." nor "..",
// so that no key reaches outside the store.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("key is an absolute path")
	}
	if strings.ContainsRune(key, 0) {
		return fmt.Errorf("key holds a NUL byte")
	}
	for elem := range strings.SplitSeq(key, "/") {
		switch elem {
		case "":
			return fmt.Errorf("key has an empty path element")
		case ".", "..":
			return fmt.Errorf("key has a %q path element", elem)
		}
	}
	// Catches what the slash rules cannot see on other systems, such as
	// Windows volume names and backslash separators.
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return fmt.Errorf("key is not a local path")
	}
	return nil
}

// checkJob checks the prefix DeleteJob removes, returning it without its
// trailing slash.
func checkJob(action string, job int64) (string, error) {
	if action == "" || strings.Contains(action, "/") {
		return "", fmt.Errorf("action %q is not a single path element", action)
	}
	prefix := strings.TrimSuffix(jobPrefix(action, job), "/")
	if err := checkKey(prefix); err != nil {
		return "", err
	}
	return prefix, nil
}

// opError is the error of a store operation on a key or URL.
func opError(op, name string, err error) error {
	return fmt.Errorf("assets: %s %s: %w", op, name, err)
}

// FromConfig picks the store by cfg.Storage: "filesystem" (in
// cfg.LocalStoragePath) or "s3" (cfg.S3Endpoint, S3Region, S3Bucket,
// AWSAccessKey, AWSSecretKey). An S3 endpoint without a scheme uses HTTPS;
// write "http://host:port" for a plain-HTTP server. An empty endpoint is AWS.
func FromConfig(ctx context.Context, cfg config.Config) (Store, error) {
	switch cfg.Storage {
	case "filesystem", "":
		return NewFilesystem(cfg.LocalStoragePath)
	case "s3":
		return NewS3(ctx, S3Config{
			Endpoint:  cfg.S3Endpoint,
			Region:    cfg.S3Region,
			Bucket:    cfg.S3Bucket,
			AccessKey: cfg.AWSAccessKey,
			SecretKey: cfg.AWSSecretKey,
			Secure:    true,
		})
	}
	return nil, fmt.Errorf("assets: storage %q is not filesystem or s3", cfg.Storage)
}
